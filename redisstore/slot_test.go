package redisstore

import "testing"

// Values as CLUSTER KEYSLOT gives them.
func TestSlot(t *testing.T) {
	tests := []struct {
		key  string
		want uint16
	}{
		{"foo", 12182},
		{"bar", 5061},
		{"123456789", 12739}, // the CRC16-XMODEM check value 0x31C3 % 16384
		{"{user1000}.following", slot("user1000")},
		{"foo{}{bar}", slot("foo{}{bar}")}, // empty tag: the whole key
		{"foo{{bar}}zap", slot("{bar")},
		{"", 0},
	}
	for _, tt := range tests {
		if got := slot(tt.key); got != tt.want {
			t.Errorf("slot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
}
