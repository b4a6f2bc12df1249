# The README's two commands, and a few conveniences.
.PHONY: devnet test build tools bench-upstream

devnet: ## run the devnet with the gateway in front of it
	go run ./cmd/rpcmesh-devnet

test: ## everything CI runs
	bash .ci/run

# The gateway, stripped of its symbol table and DWARF (21 MB instead of 29 MB):
# panics' stack traces and pprof profiles keep function names and lines;
# build without -ldflags to debug it with delve.
build: ## the gateway: bin/rpcmesh
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/rpcmesh ./cmd/rpcmesh

tools: ## the devnet and the load generator: bin/rpcmesh-devnet, bin/rpcmesh-bench
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/ ./cmd/rpcmesh-devnet ./cmd/rpcmesh-bench

bench-upstream: ## the trivial in-memory upstream on 127.0.0.1:18545
	go run ./cmd/rpcmesh-bench upstream --listen 127.0.0.1:18545
