// Package layers holds the test that keeps docs/architecture.md's import
// rule true: every package of rpcmesh stands on a floor, and imports only
// packages on floors below its own, so imports run one way
// (cmd → server → chain → pipeline/assemble → stages → pipeline → route → upstream → leaves).
package layers
