package corral

import "testing"

// Garbage never panics the response codec.
func FuzzResponseCodecForms(f *testing.F) {
	f.Add([]byte{variantForm, 1, 1, 'a', 1, 0, 200})
	f.Add([]byte{variantsForm, 2, 1, 'A', 1, 'B', 3, 'n', 'o', 'n'})
	f.Add([]byte{1, 0, 200, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec *recorded
		if (responseCodec{}).Unmarshal(data, &rec) == nil {
			if _, err := (responseCodec{}).Marshal(rec); err != nil && rec.resp != nil {
				t.Fatal(err)
			}
		}
	})
}
