// Package faultstore holds stores that misbehave on purpose, for tests: one
// that fails every call, one that hangs until its context ends, and one that
// returns garbage. Each implements every optional capability of corral.Store,
// so that no Cache method can route around the fault.
package faultstore

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// ErrBroken is what Failing returns from every call.
var ErrBroken = errors.New("faultstore: broken")

// Failing fails every call at once with ErrBroken and counts the calls.
type Failing struct{ Calls atomic.Int64 }

func (f *Failing) fail() error { f.Calls.Add(1); return ErrBroken }

func (f *Failing) Get(context.Context, string) ([]byte, error) { return nil, f.fail() }
func (f *Failing) Set(context.Context, string, []byte, time.Duration) error {
	return f.fail()
}
func (f *Failing) Add(context.Context, string, []byte, time.Duration) (bool, error) {
	return false, f.fail()
}
func (f *Failing) Delete(context.Context, ...string) error { return f.fail() }
func (f *Failing) GetMany(context.Context, []string) (map[string][]byte, error) {
	return nil, f.fail()
}
func (f *Failing) SetMany(context.Context, map[string][]byte, time.Duration) error {
	return f.fail()
}
func (f *Failing) Incr(context.Context, string, int64) (int64, error) { return 0, f.fail() }
func (f *Failing) Touch(context.Context, string, time.Duration) (bool, error) {
	return false, f.fail()
}
func (f *Failing) Clear(context.Context, string) error { return f.fail() }
func (f *Failing) Lock(context.Context, string, string, time.Duration) (bool, error) {
	return false, f.fail()
}
func (f *Failing) Unlock(context.Context, string, string) (bool, error) {
	return false, f.fail()
}

// Hanging blocks every call until its context ends, then returns the
// context's error. Calls counts the calls that started; Waiting those that are
// blocked right now.
type Hanging struct{ Calls, Waiting atomic.Int64 }

func (h *Hanging) hang(ctx context.Context) error {
	h.Calls.Add(1)
	h.Waiting.Add(1)
	defer h.Waiting.Add(-1)
	<-ctx.Done()
	return ctx.Err()
}

func (h *Hanging) Get(ctx context.Context, _ string) ([]byte, error) { return nil, h.hang(ctx) }
func (h *Hanging) Set(ctx context.Context, _ string, _ []byte, _ time.Duration) error {
	return h.hang(ctx)
}
func (h *Hanging) Add(ctx context.Context, _ string, _ []byte, _ time.Duration) (bool, error) {
	return false, h.hang(ctx)
}
func (h *Hanging) Delete(ctx context.Context, _ ...string) error { return h.hang(ctx) }
func (h *Hanging) GetMany(ctx context.Context, _ []string) (map[string][]byte, error) {
	return nil, h.hang(ctx)
}
func (h *Hanging) SetMany(ctx context.Context, _ map[string][]byte, _ time.Duration) error {
	return h.hang(ctx)
}
func (h *Hanging) Incr(ctx context.Context, _ string, _ int64) (int64, error) {
	return 0, h.hang(ctx)
}
func (h *Hanging) Touch(ctx context.Context, _ string, _ time.Duration) (bool, error) {
	return false, h.hang(ctx)
}
func (h *Hanging) Clear(ctx context.Context, _ string) error { return h.hang(ctx) }
func (h *Hanging) Lock(ctx context.Context, _, _ string, _ time.Duration) (bool, error) {
	return false, h.hang(ctx)
}
func (h *Hanging) Unlock(ctx context.Context, _, _ string) (bool, error) {
	return false, h.hang(ctx)
}

// Garbage answers every read with Value (whatever key was asked) and accepts
// and forgets every write. Deletes counts the keys it was asked to delete.
type Garbage struct {
	Value   []byte
	Deletes atomic.Int64
}

func (g *Garbage) Get(context.Context, string) ([]byte, error) { return g.Value, nil }
func (g *Garbage) Set(context.Context, string, []byte, time.Duration) error {
	return nil
}
func (g *Garbage) Add(context.Context, string, []byte, time.Duration) (bool, error) {
	return true, nil
}
func (g *Garbage) Delete(_ context.Context, keys ...string) error {
	g.Deletes.Add(int64(len(keys)))
	return nil
}
