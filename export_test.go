package corral

// NearDrops returns how many drops the near cache of c has seen of the
// keys that share key's stripe (key's own among them): a test waits on it
// for a change reported by the store to arrive.
func NearDrops(c *Cache, key string) uint64 {
	sk, err := c.key(key)
	if err != nil {
		panic(err)
	}
	return c.near.stripeOf(sk).seq.Load()
}
