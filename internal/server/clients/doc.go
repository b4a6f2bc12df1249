// Package clients drives real client libraries, ethers v6 and viem (in
// Node, from the repository's clients/ folder), against gateways in front of
// one devnet: one provider and five, HTTP-only and with WebSocket, and
// against a devnet node directly, where every test must pass. The tests are
// skipped with -short.
package clients
