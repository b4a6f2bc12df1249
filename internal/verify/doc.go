// Package verify checks Ethereum JSON-RPC answers against trusted block
// headers, using go-ethereum's own types, RLP, trie and crypto code: a
// header's hash is recomputed from its fields; account and storage values
// are proven with Merkle proofs (eth_getProof) against the header's
// stateRoot; transactions, withdrawals and receipts are checked against the
// roots in the header; logs are derived from verified receipts.
//
// The Verify functions do no I/O: they take an answer as the provider sent
// it and the trusted data it must match, and either return the verified
// value or an error that wraps one of the sentinel errors in errors.go, so
// the caller can tell a lie (penalise, record evidence, ask elsewhere) from
// an answer it cannot check. The Fetch and Prove helpers ask a provider
// through a Caller and verify what comes back. Trust itself comes from a
// TrustSource; failures are kept as Evidence in an EvidenceLog.
package verify
