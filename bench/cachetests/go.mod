module github.com/corralhq/corral/bench/cachetests

go 1.24.0

require github.com/corralhq/corral v0.0.0

require (
	github.com/gorilla/mux v1.8.1 // indirect
	github.com/patrickmn/go-cache v2.1.0+incompatible // indirect
	github.com/sony/gobreaker/v2 v2.4.0 // indirect
)

replace github.com/corralhq/corral => ../..
