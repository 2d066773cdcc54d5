package redisstore

import "strings"

// slot is the Redis Cluster hash slot of key: CRC16 (XMODEM) of the key, or
// of its hash tag, the part between the first '{' and the next '}' when that
// part is not empty, modulo 16384.
func slot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % 16384
}

// bySlot groups keys by hash slot, keeping their order within a group.
func bySlot(keys []string) map[uint16][]string {
	groups := make(map[uint16][]string)
	for _, k := range keys {
		s := slot(k)
		groups[s] = append(groups[s], k)
	}
	return groups
}
