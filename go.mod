module github.com/corralhq/corral

go 1.24

require github.com/patrickmn/go-cache v2.1.0+incompatible // indirect
