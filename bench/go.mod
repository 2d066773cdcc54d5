module github.com/corralhq/corral/bench

go 1.24.0

require (
	github.com/corralhq/corral v0.0.0
	github.com/go-chi/stampede v0.9.1
	github.com/go-redis/cache/v9 v9.0.0
	github.com/goware/cachestore-mem v0.2.2
	github.com/hashicorp/golang-lru/v2 v2.0.7
	github.com/maypok86/otter/v2 v2.4.0
	github.com/redis/go-redis/v9 v9.22.0
	github.com/viccon/sturdyc v1.1.5
	github.com/victorspringer/http-cache v0.0.0-20240523143319-7d9f48f8ab91
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/elastic/go-freelru v0.16.0 // indirect
	github.com/gorilla/mux v1.8.1 // indirect
	github.com/goware/cachestore2 v0.12.2 // indirect
	github.com/goware/singleflight v0.3.0 // indirect
	github.com/klauspost/compress v1.13.6 // indirect
	github.com/klauspost/cpuid/v2 v2.2.10 // indirect
	github.com/patrickmn/go-cache v2.1.0+incompatible // indirect
	github.com/sony/gobreaker/v2 v2.4.0 // indirect
	github.com/vmihailenco/go-tinylfu v0.2.2 // indirect
	github.com/vmihailenco/msgpack/v5 v5.3.4 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	github.com/zeebo/xxh3 v1.1.0 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/sync v0.19.0 // indirect
	golang.org/x/sys v0.35.0 // indirect
)

replace github.com/corralhq/corral => ../
