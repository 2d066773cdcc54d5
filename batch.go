package corral

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// GetMany reads several keys, in one round trip where the store allows
// ([BatchGetter]), and decodes each value found into dst, a map with string
// keys (map[string]T, or a pointer to one, which is made when nil). Keys that
// are absent are left out of dst; so are those whose value does not decode
// into T, which stay stored, and for which GetMany returns an error wrapping
// [ErrDecode] after filling dst with the others.
func (c *Cache) GetMany(ctx context.Context, keys []string, dst any) error {
	m, err := mapOf(dst, "GetMany", false)
	if err != nil {
		return err
	}
	sks := make([]string, len(keys))
	for i, k := range keys {
		if sks[i], err = c.key(k); err != nil {
			return err
		}
	}
	got, err := c.getMany(ctx, sks)
	if err != nil {
		return c.failed(opGetMany, keys[0], err)
	}
	pre := c.tagsOfMany(ctx, got)
	kt, vt := m.Type().Key(), m.Type().Elem()
	var errs []error
	for i, sk := range sks {
		data, ok := got[sk]
		if ok {
			if data, ok, err = c.readable(ctx, keys[i], data, pre); err != nil {
				errs = append(errs, err)
			}
		}
		if !ok {
			c.stats.misses.Add(1)
			continue
		}
		v := reflect.New(vt)
		if err := c.decode(keys[i], data, v.Interface()); err != nil {
			c.stats.misses.Add(1)
			if err != errNotAValue {
				errs = append(errs, err)
			}
			continue
		}
		m.SetMapIndex(reflect.ValueOf(keys[i]).Convert(kt), v.Elem())
		c.stats.hits.Add(1)
	}
	return errors.Join(errs...)
}

func (c *Cache) getMany(ctx context.Context, sks []string) (map[string][]byte, error) {
	switch {
	case len(sks) == 0:
		return nil, nil
	case c.near != nil:
		return c.getManyThroughNear(ctx, sks)
	}
	return c.getManyRemote(ctx, sks)
}

// getManyRemote reads several store keys from the store, guarded.
func (c *Cache) getManyRemote(ctx context.Context, sks []string) (map[string][]byte, error) {
	var got map[string][]byte
	err := c.callKeys(ctx, opGetMany, sks, func(ctx context.Context) (err error) {
		if bg, ok := c.store.(BatchGetter); ok {
			got, err = bg.GetMany(ctx, sks)
			return err
		}
		got = make(map[string][]byte, len(sks))
		for _, sk := range sks {
			data, err := c.store.Get(ctx, sk)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				return err
			default:
				got[sk] = data
			}
		}
		return nil
	})
	return got, err
}

// SetMany stores every entry of items, a map with string keys (for example
// map[string]any or map[string]T), all with one ttl, in one round trip where
// the store allows ([BatchSetter]).
func (c *Cache) SetMany(ctx context.Context, items any, ttl time.Duration) error {
	m, err := mapOf(items, "SetMany", true)
	if err != nil || m.Len() == 0 {
		return err
	}
	ttl, keep := c.ttl(ttl)
	enc := make(map[string][]byte, m.Len())
	var first string
	for it := m.MapRange(); it.Next(); {
		k := it.Key().String()
		sk, err := c.key(k)
		if err != nil {
			return err
		}
		if enc[sk], err = c.encode(k, it.Value().Interface()); err != nil {
			return err
		}
		enc[sk] = storable(enc[sk]) // binary values that look like an entry stay whole
		first = k
	}
	sks := make([]string, 0, len(enc))
	for sk := range enc {
		c.overtake(sk)
		sks = append(sks, sk)
	}
	err = c.callKeys(ctx, opSetMany, sks, func(ctx context.Context) error {
		if !keep {
			return c.store.Delete(ctx, sks...)
		}
		return c.writeMany(ctx, enc, ttl)
	})
	if err != nil {
		return c.failed(opSetMany, first, err)
	}
	return nil
}

// writeMany stores every item, all with one store ttl, in one round trip
// where the store allows.
func (c *Cache) writeMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error {
	if bs, ok := c.store.(BatchSetter); ok {
		return bs.SetMany(ctx, items, ttl)
	}
	for sk, data := range items {
		if err := c.store.Set(ctx, sk, data, ttl); err != nil {
			return err
		}
	}
	return nil
}

// mapOf returns the map v holds (v a map with string keys, or a pointer to
// one, which it makes when nil). A nil map is an error unless readOnly.
func mapOf(v any, op string, readOnly bool) (reflect.Value, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Map {
		if rv.Elem().IsNil() {
			rv.Elem().Set(reflect.MakeMap(rv.Elem().Type()))
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return reflect.Value{}, fmt.Errorf("corral: %s wants a map with string keys, not %T", op, v)
	}
	if rv.IsNil() && !readOnly {
		return reflect.Value{}, fmt.Errorf("corral: %s: nil %T (pass a pointer to it)", op, v)
	}
	return rv, nil
}
