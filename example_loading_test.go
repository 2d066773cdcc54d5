package corral_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/corralhq/corral"
)

type User struct {
	ID   int
	Name string
}

// MemoizeMany caches a function that loads many ids at once: a call asks it
// only for the ids that are not cached, and shares its values with Memoize
// of the same name.
func ExampleMemoizeMany() {
	ctx := context.Background()
	c := corral.New(corral.NewMemoryStore())
	loadUsers := corral.MemoizeMany(c, "user", time.Minute, func(ctx context.Context, ids []int) (map[int]User, error) {
		fmt.Println("SELECT ... WHERE id IN", ids) // one query for the missing ids
		users := map[int]User{}
		for _, id := range ids {
			if id != 4 { // 4 does not exist: left out
				users[id] = User{ID: id, Name: fmt.Sprint("user", id)}
			}
		}
		return users, nil
	})
	users, _ := loadUsers(ctx, []int{1, 2})
	fmt.Println(len(users), users[2].Name)
	users, _ = loadUsers(ctx, []int{1, 2, 3, 4})
	fmt.Println(len(users), users[3].Name)

	loadUser := corral.Memoize(c, "user", time.Minute, func(ctx context.Context, id int) (User, error) {
		return User{}, errors.New("not called: the batch stored user:2")
	})
	u, err := loadUser(ctx, 2)
	fmt.Println(u.Name, err)
	// Output:
	// SELECT ... WHERE id IN [1 2]
	// 2 user2
	// SELECT ... WHERE id IN [3 4]
	// 3 user3
	// user2 <nil>
}

// RefreshAhead recomputes a value in the background before it expires, so
// that readers of a hot key never wait for it.
func ExampleRefreshAhead() {
	ctx := context.Background()
	c := corral.New(corral.NewMemoryStore())
	report := corral.Memoize(c, "report", time.Minute, func(ctx context.Context, day string) (int, error) {
		return 42, nil // an aggregate that takes a while
	}, corral.RefreshAhead(1))
	n, _ := report(ctx, "2026-11-27")
	fmt.Println(n)
	// Output: 42
}

// TTLFunc stores each value for as long as the value itself says.
func ExampleTTLFunc() {
	ctx := context.Background()
	c := corral.New(corral.NewMemoryStore())
	type Token struct {
		Value     string
		ExpiresIn time.Duration
	}
	fetchToken := corral.Memoize(c, "token", time.Hour, func(ctx context.Context, scope string) (Token, error) {
		fmt.Println("fetching a token for", scope)
		return Token{Value: "t-" + scope, ExpiresIn: 10 * time.Minute}, nil
	}, corral.TTLFunc(func(t Token) time.Duration { return t.ExpiresIn - time.Minute }))
	t1, _ := fetchToken(ctx, "read")
	t2, _ := fetchToken(ctx, "read") // cached for 9 minutes, not the hour
	fmt.Println(t1.Value, t2.Value)
	// Output:
	// fetching a token for read
	// t-read t-read
}

// An error cached by CacheNotFound keeps its message on later calls, and
// still matches its target.
func ExampleCacheNotFound() {
	ctx := context.Background()
	c := corral.New(corral.NewMemoryStore())
	errNoUser := errors.New("no such user")
	loadUser := corral.Memoize(c, "user", time.Minute, func(ctx context.Context, id int) (User, error) {
		return User{}, fmt.Errorf("user %d: %w", id, errNoUser)
	}, corral.CacheNotFound(errNoUser, 30*time.Second))
	for range 2 {
		_, err := loadUser(ctx, 7)
		fmt.Println(err, errors.Is(err, errNoUser))
	}
	fmt.Println("computations:", c.Stats().Computations)
	// Output:
	// user 7: no such user true
	// user 7: no such user true
	// computations: 1
}

// The dummy store caches nothing: for development and tests.
func ExampleNewDummyStore() {
	ctx := context.Background()
	c := corral.New(corral.NewDummyStore())
	_ = c.Set(ctx, "k", "v", time.Minute)
	found, _ := c.Get(ctx, "k", new(string))
	fmt.Println(found)
	// Output: false
}

// DecrVersion moves a value back to an earlier version.
func ExampleCache_DecrVersion() {
	ctx := context.Background()
	c := corral.New(corral.NewMemoryStore(), corral.WithVersion(2))
	_ = c.Set(ctx, "config", "v2 config", time.Minute)
	v, _ := c.DecrVersion(ctx, "config", 1)
	var got string
	found, _ := c.WithVersion(v).Get(ctx, "config", &got)
	fmt.Println(v, found, got)
	// Output: 1 true v2 config
}

// FunctionStats says what each memoized function did, apart from the
// cache's totals.
func ExampleCache_FunctionStats() {
	ctx := context.Background()
	c := corral.New(corral.NewMemoryStore())
	user := corral.Memoize(c, "user", time.Minute, func(ctx context.Context, id int) (string, error) { return "ada", nil })
	for range 3 {
		_, _ = user(ctx, 1)
	}
	_, _ = corral.GetOrSet(ctx, c, "other", time.Minute, func(context.Context) (int, error) { return 1, nil })
	s := c.FunctionStats()["user"]
	fmt.Println("user:", s.Hits, "hits,", s.Misses, "miss,", s.Computations, "computation")
	fmt.Println("cache:", c.Stats().Misses, "misses")
	// Output:
	// user: 2 hits, 1 miss, 1 computation
	// cache: 2 misses
}
