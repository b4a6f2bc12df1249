// Package e2e tests the whole gateway against a real devnet of go-ethereum
// nodes with faults injected in front of them. The tests share one devnet
// and one gateway (TestMain) and are skipped with -short.
package e2e
