package storetest_test

import (
	"testing"

	"github.com/corralhq/corral"
	"github.com/corralhq/corral/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) corral.Store {
		s := corral.NewMemoryStore()
		t.Cleanup(func() { s.Close() })
		return s
	})
}
