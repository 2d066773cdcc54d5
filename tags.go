package corral

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/corralhq/corral/internal/envelope"
)

// Tags name what a value was computed from, so that one call drops every
// value computed from it: [Cache.InvalidateTags].
//
// Each tag has a token in the store, under the key "t|" + tag of the
// cache's namespace: 16 bytes, the time it was set and 8 random bytes. A
// value records, in its entry, the token of each of its tags when it was
// computed; a read checks that every token is still the one recorded
// (one batched store read, or, on the memory store and the near cache, one
// atomic load per tag once the tokens are known). InvalidateTags replaces
// the tokens: one write per tag, whatever the number of values that carry
// it, and no set of keys anywhere, so it works the same on Redis Cluster. A
// token that is missing (evicted, cleared) answers no value: a value can be
// dropped by it, never brought back.

// MaxTags is the most tags one value or response carries, and MaxTagLen the
// longest tag. A computation that adds more, or an empty or longer tag, is
// served to its callers but not stored.
const (
	MaxTags   = envelope.MaxTags
	MaxTagLen = envelope.MaxTagLen
)

// Tags tags every value of a GetOrSet or Memoize call (or every response of
// a route) with tags, for [Cache.InvalidateTags]. Tags are names of your
// choosing ("product:42", "org:7"); see also [Tag] for tags known only
// while computing. It panics on an empty tag, one over [MaxTagLen] bytes,
// or more than [MaxTags].
func Tags(tags ...string) MemoOption {
	if err := checkTags(tags); err != nil {
		panic("corral: Tags: " + err.Error())
	}
	tags = slices.Clone(tags)
	return func(c *memoConfig) { c.tags = appendTags(c.tags, tags...) }
}

// Tag adds tags to the value being computed, when called from within a
// computation with the context it was given: a GetOrSet or Memoize
// function, or a handler behind the middleware (its request's context):
//
//	func loadProduct(ctx context.Context, id int) (Product, error) {
//		corral.Tag(ctx, "product:"+strconv.Itoa(id))
//		return db.Product(ctx, id)
//	}
//
// Call it before reading what the tag names: an invalidation of the tag
// after the computation began keeps the value from being stored (by the
// time in the tag's token: the clock of the instance that invalidated it,
// against this one's; a static tag ([Tags]) is also watched from the start
// of the computation, whatever the clocks). Outside a computation it does nothing. An empty tag, one
// over [MaxTagLen] bytes, or more than [MaxTags] in all keep the value from
// being stored (it is still returned), and are logged. Tags are not
// inherited: a value computed from a tagged memoized value carries only its
// own tags.
func Tag(ctx context.Context, tags ...string) {
	ts, _ := ctx.Value(tagSetKey{}).(*tagSet)
	if ts == nil || len(tags) == 0 {
		return
	}
	ts.add(tags)
}

// tagAgain adds the tags of a stored entry to the computation that
// revalidates it.
func tagAgain(ctx context.Context, tags []envelope.Tag) {
	if len(tags) == 0 {
		return
	}
	names := make([]string, len(tags))
	for i, t := range tags {
		names[i] = t.Name
	}
	Tag(ctx, names...)
}

// RouteTag is the tag every response stored by the middleware carries for
// its route: route is the route's label in [Cache.HTTPStats] (the
// gorilla/mux template, the ServeMux pattern, or the [RouteName]).
// InvalidateTags(ctx, RouteTag("/products/{id}")) drops every response of
// the route.
func RouteTag(route string) string { return "route:" + route }

// InvalidateTags makes every value and response that carries any of tags a
// miss, on every instance that shares the store: their next read computes
// them again (or, with [SoftInvalidate], serves them stale while one
// refresh runs). It writes one token per tag, in one round trip where the
// store allows ([BatchSetter]). A computation of a tagged value that is
// running when its tag is invalidated returns its value to its callers but
// does not store it (see [Tag] on clocks). Invalidated entries stay in the store
// until their TTL or eviction. It returns an error wrapping
// [ErrUnavailable] when the store could not be written (nothing is
// invalidated then, or only some tags), and one wrapping [ErrInvalidKey]
// for an empty tag or one over [MaxTagLen] (the others are invalidated).
func (c *Cache) InvalidateTags(ctx context.Context, tags ...string) error {
	var errs []error
	toks := make(map[string][]byte, len(tags))
	for _, tag := range tags {
		err := checkTags([]string{tag})
		var sk string
		if err == nil {
			sk, err = c.tagKey(tag)
		}
		if err != nil {
			errs = append(errs, failure("invalidate", "", ErrInvalidKey, err))
			continue
		}
		tok := newToken(true)
		toks[sk] = tok[:]
	}
	if len(toks) == 0 {
		return errors.Join(errs...)
	}
	sks := slices.Collect(maps.Keys(toks))
	err := c.callKeys(ctx, opSetMany, sks, func(ctx context.Context) error { return c.writeMany(ctx, toks, invalidationTTL) })
	if err != nil {
		return errors.Join(append(errs, c.failed(opSetMany, "tag "+tags[0], err))...)
	}
	c.stats.tagInvalidations.Add(uint64(len(toks)))
	return errors.Join(errs...)
}

// How long tokens live. A token that is gone only makes the values that
// carry it misses, so tokens expire rather than pile up (one per path the
// middleware stored): a tag's first token lives twice as long as the entry
// it was created with (at least minTokenTTL; forever with it), and an
// invalidation's lives invalidationTTL.
const (
	minTokenTTL     = time.Hour
	invalidationTTL = 24 * time.Hour
)

// tokenTTL is how long a token created with an entry kept for entryTTL
// (0: forever) lives.
func tokenTTL(entryTTL time.Duration) time.Duration {
	if entryTTL <= 0 {
		return 0
	}
	return max(2*entryTTL, minTokenTTL)
}

// tagKey is the store key of a tag's token.
func (c *Cache) tagKey(tag string) (string, error) { return c.key("t|" + tag) }

// checkTags says what is wrong with tags, if anything.
func checkTags(tags []string) error {
	if len(tags) > MaxTags {
		return fmt.Errorf("%d tags, the limit is %d", len(tags), MaxTags)
	}
	for _, t := range tags {
		switch {
		case t == "":
			return errors.New("empty tag")
		case len(t) > MaxTagLen:
			return fmt.Errorf("tag %.40q... is %d bytes, the limit is %d", t, len(t), MaxTagLen)
		}
	}
	return nil
}

// appendTags appends the tags that dst does not hold yet.
func appendTags(dst []string, tags ...string) []string {
	for _, t := range tags {
		if !slices.Contains(dst, t) {
			dst = append(dst, t)
		}
	}
	return dst
}

// newToken returns a new token: the time now, then random bytes, whose first
// bit says whether an invalidation set it (else a first write of the tag).
func newToken(invalidation bool) envelope.Token {
	var t envelope.Token
	binary.BigEndian.PutUint64(t[:8], uint64(time.Now().UnixNano()))
	_, _ = rand.Read(t[8:])
	t[8] &^= 0x80
	if invalidation {
		t[8] |= 0x80
	}
	return t
}

// tokenOf reads a stored token; anything else (garbage, a value someone
// wrote under the tag's key) is no token, and matches none.
func tokenOf(data []byte) (envelope.Token, bool) {
	var t envelope.Token
	if len(data) != envelope.TokenSize {
		return t, false
	}
	copy(t[:], data)
	return t, true
}

// invalidatedAt is when an invalidation set t; zero when t was a tag's first
// token.
func invalidatedAt(t envelope.Token) time.Time {
	if t[8]&0x80 == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(t[:8])))
}

// tagSetKey is the context key of the computation's tags.
type tagSetKey struct{}

// tagSet is the tags of the value a computation computes. An invalidation
// of one of them after the computation began (by the token's time: this
// process's clock for its own invalidations) keeps the value from being
// stored.
type tagSet struct {
	c       *Cache
	start   time.Time // when the computation began
	mu      sync.Mutex
	tags    []string
	sks     []string
	known   map[string]envelope.Token // tokens read by watch, or recorded by an entry of the computation
	pre     *prefetched               // tokens read with the key, if any
	watched *prefetched               // what watch read
	bad     error                     // the first tag that keeps the value from being stored
}

// newTagSet returns the tag set of a computation that starts now with the
// static tags.
func (c *Cache) newTagSet(static ...[]string) *tagSet {
	ts := &tagSet{c: c, start: time.Now()}
	for _, tags := range static {
		ts.add(tags)
	}
	return ts
}

// add adds tags learnt now.
func (ts *tagSet) add(tags []string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, t := range tags {
		if slices.Contains(ts.tags, t) {
			continue
		}
		if err := checkTags([]string{t}); err != nil {
			ts.fail(err)
			continue
		}
		if len(ts.tags) == MaxTags {
			ts.fail(fmt.Errorf("more than %d tags", MaxTags))
			return
		}
		sk, err := ts.c.tagKey(t)
		if err != nil {
			ts.fail(err)
			continue
		}
		ts.tags, ts.sks = append(ts.tags, t), append(ts.sks, sk)
	}
}

func (ts *tagSet) fail(err error) {
	if ts.bad == nil {
		ts.bad = err
	}
}

// snapshot is the tag set's tags and store keys now.
func (ts *tagSet) snapshot() (tags, sks []string, bad error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return slices.Clone(ts.tags), slices.Clone(ts.sks), ts.bad
}

// watch reads the tokens of the static tags before the computation runs,
// so that an invalidation by any instance while it runs drops the value.
// A tag that has none yet gets one when the value is stored.
func (ts *tagSet) watch(ctx context.Context) {
	tags, sks, _ := ts.snapshot()
	if len(tags) == 0 {
		return
	}
	got, err := ts.c.readTags(ctx, sks, ts.pre)
	if err != nil {
		return // read again when storing
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.known = make(map[string]envelope.Token, len(tags))
	ts.watched = &prefetched{sks: sks, got: got}
	for i, t := range tags {
		if tok, ok := tokenOf(got[sks[i]]); ok {
			ts.known[t] = tok
		}
	}
}

// stamped is what a value's entry records of its tags, and the tokens to
// create with it for the tags that have none.
type stamped struct {
	tags    []envelope.Tag
	creates []tokenWrite
}

// tokenWrite is a token to write with an entry: a tag's first, added only
// if the tag still has none (an invalidation in between wins), or one that
// replaces what is not a token.
type tokenWrite struct {
	idx       int // its tag's index in the entry's
	sk        string
	tok       envelope.Token
	overwrite bool
}

// stamp returns the tags of the value to store, each with its token, or
// why the value is not stored: a bad tag, a store that cannot say, or an
// invalidation of one of them since the computation began.
func (ts *tagSet) stamp(ctx context.Context) (stamped, string) {
	tags, sks, bad := ts.snapshot()
	if bad != nil {
		ts.c.log.LogAttrs(ctx, slog.LevelWarn, "corral: a computation's tags keep its value from being stored",
			slog.Any("error", bad))
		return stamped{}, "tags"
	}
	if len(tags) == 0 {
		return stamped{}, ""
	}
	ts.mu.Lock()
	known := maps.Clone(ts.known)
	ts.mu.Unlock()
	st := stamped{tags: make([]envelope.Tag, len(tags))}
	var need []string
	for i, t := range tags {
		st.tags[i].Name = t
		if _, ok := known[t]; !ok {
			need = append(need, sks[i])
		}
	}
	got, err := ts.c.readTags(ctx, need, ts.watched) // the tags learnt since watch
	if err != nil {
		return stamped{}, "store-unavailable"
	}
	for i, t := range tags {
		tok, ok := known[t]
		if !ok {
			if tok, ok = tokenOf(got[sks[i]]); !ok {
				tok = newToken(false)
				st.creates = append(st.creates, tokenWrite{idx: i, sk: sks[i], tok: tok, overwrite: got[sks[i]] != nil})
			}
		}
		if invalidatedAt(tok).After(ts.start) {
			return stamped{}, "invalidated"
		}
		st.tags[i].Token = tok
	}
	ts.mu.Lock() // another entry of the computation (a variant and its record) records the same tokens
	if ts.known == nil {
		ts.known = make(map[string]envelope.Token, len(tags))
	}
	for _, t := range st.tags {
		ts.known[t.Name] = t.Token
	}
	ts.mu.Unlock()
	return st, ""
}

// prefetched is what a read found under tags' store keys (absent from got:
// nothing).
type prefetched struct {
	names, sks []string // the tags read, and their store keys; names may be nil
	got        map[string][]byte
}

// tagsOfMany reads in one round trip the tokens of every tag that the
// entries of got carry, from a store across the network, so that checking N
// tagged entries read together costs one more read, not N. It returns nil
// when there is none to read, or when the read failed: each entry then reads
// its own, and reports the failure as before.
func (c *Cache) tagsOfMany(ctx context.Context, got map[string][]byte) *prefetched {
	if c.local || c.near != nil {
		return nil
	}
	pre := &prefetched{}
	for _, data := range got {
		e, ok := envelope.Parse(data)
		if !ok {
			continue
		}
		for _, t := range e.Tags {
			if slices.Contains(pre.names, t.Name) {
				continue
			}
			if sk, err := c.tagKey(t.Name); err == nil {
				pre.names, pre.sks = append(pre.names, t.Name), append(pre.sks, sk)
			}
		}
	}
	if len(pre.sks) == 0 {
		return nil
	}
	read, err := c.getMany(ctx, pre.sks)
	if err != nil {
		return nil
	}
	pre.got = read
	return pre
}

// keyOf returns the store key of a tag that was read, or "".
func (p *prefetched) keyOf(name string) string {
	if p == nil {
		return ""
	}
	if i := slices.Index(p.names, name); i >= 0 {
		return p.sks[i]
	}
	return ""
}

// lookup returns what the read found under sk, and whether it read sk.
func (p *prefetched) lookup(sk string) ([]byte, bool) {
	if p == nil || !slices.Contains(p.sks, sk) {
		return nil, false
	}
	return p.got[sk], true
}

// readTags returns what the store holds under sks: from pre where it was read
// already, the rest in one read.
func (c *Cache) readTags(ctx context.Context, sks []string, pre *prefetched) (map[string][]byte, error) {
	var rest []string
	for _, sk := range sks {
		if _, ok := pre.lookup(sk); !ok {
			rest = append(rest, sk)
		}
	}
	switch len(rest) {
	case len(sks):
		return c.getMany(ctx, sks)
	case 0:
		return pre.got, nil // it may hold more keys: readers look theirs up
	}
	read, err := c.getMany(ctx, rest)
	if err != nil {
		return nil, err
	}
	got := make(map[string][]byte, len(sks)) // not read's: a store's map is not ours to change
	for sk, data := range read {
		got[sk] = data
	}
	for _, sk := range sks {
		if data, ok := pre.lookup(sk); ok && data != nil {
			got[sk] = data
		}
	}
	return got, nil
}

// createTokens writes the tokens an entry created, and returns the function
// that waits for them and returns, by the index of their tag in the entry,
// the tokens another writer created first (two computations of a new
// URL's variants, say): the entry records those instead, as the store
// holds them. On a store across the network the writes run alongside the
// entry's own (a miss costs no more round trips; the entry is written again
// in that race only); on the memory store, before it. A token that could
// not be written, or that lost to an invalidation's, only makes the entry
// a miss.
func (c *Cache) createTokens(ctx context.Context, creates []tokenWrite, entryTTL time.Duration) (wait func() map[int]envelope.Token) {
	if len(creates) == 0 {
		return func() map[int]envelope.Token { return nil }
	}
	ttl := tokenTTL(entryTTL)
	var mu sync.Mutex
	var adopted map[int]envelope.Token
	write := func(w tokenWrite) {
		if w.overwrite {
			_ = c.call(ctx, opSet, w.sk, func(ctx context.Context) error { return c.store.Set(ctx, w.sk, w.tok[:], ttl) })
			return
		}
		var added bool
		err := c.call(ctx, opAdd, w.sk, func(ctx context.Context) (err error) {
			added, err = c.store.Add(ctx, w.sk, w.tok[:], ttl)
			return err
		})
		if err != nil || added {
			return
		}
		data, err := c.getRemote(ctx, w.sk)
		if tok, ok := tokenOf(data); err == nil && ok && invalidatedAt(tok).IsZero() { // a first token too: no invalidation between
			mu.Lock()
			if adopted == nil {
				adopted = make(map[int]envelope.Token)
			}
			adopted[w.idx] = tok
			mu.Unlock()
		}
	}
	if c.local {
		for _, w := range creates {
			write(w)
		}
		return func() map[int]envelope.Token { return adopted }
	}
	var wg sync.WaitGroup
	for _, w := range creates {
		wg.Add(1)
		go func() {
			defer wg.Done()
			write(w)
		}()
	}
	return func() map[int]envelope.Token {
		wg.Wait()
		return adopted
	}
}

// tagsHold reports whether every tag of an entry still holds the token the
// entry recorded, and when the latest of those that do not was invalidated
// (zero when one of them has no token: evicted, cleared, garbage).
func (c *Cache) tagsHold(ctx context.Context, tags []envelope.Tag, pre *prefetched) (hold bool, at time.Time, err error) {
	if len(tags) == 0 {
		return true, time.Time{}, nil
	}
	sks := make([]string, len(tags))
	for i, t := range tags {
		if sks[i] = pre.keyOf(t.Name); sks[i] != "" {
			continue
		}
		if sks[i], err = c.tagKey(t.Name); err != nil {
			return false, time.Time{}, nil
		}
	}
	got, err := c.readTags(ctx, sks, pre)
	if err != nil {
		return false, time.Time{}, err
	}
	hold = true
	for i, t := range tags {
		tok, ok := tokenOf(got[sks[i]])
		if ok && tok == t.Token {
			continue
		}
		inv := invalidatedAt(tok)
		if !ok || inv.IsZero() {
			return false, time.Time{}, nil
		}
		if inv.After(at) { // the latest: the value is stale from then
			at = inv
		}
		hold = false
	}
	return hold, at, nil
}
