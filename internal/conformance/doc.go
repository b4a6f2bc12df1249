// Package conformance runs the Ethereum execution-apis conformance fixtures
// (testdata/execution-apis, judged as hive's rpc-compat judges them) against
// in-process go-ethereum nodes that import the fixtures' test chain, directly
// and through rpcmesh gateways in front of them. TestConformance is the
// runner; testdata/known-failures.txt lists what still fails, and FAILURES.md
// why.
package conformance
