# The README's two commands, and a few conveniences.
.PHONY: devnet test build bench-upstream

devnet: ## run the devnet with the gateway in front of it
	go run ./cmd/rpcmesh devnet

test: ## everything CI runs
	bash .ci/run

build:
	CGO_ENABLED=0 go build -trimpath -o bin/rpcmesh ./cmd/rpcmesh
