// Package stage is the verification stage of the request path: a
// pipeline.Stage that answers each call by the policy of its method.
//
//   - proof: the answer is built from data verified against a trusted
//     header (state from eth_getProof, blocks, transactions, receipts and
//     logs from roots in the header). A provider whose answer fails is
//     recorded as evidence, penalised, and the call is asked elsewhere.
//   - quorum: k providers of distinct operators are asked; the answer is
//     the one they agree on (market values: their median).
//   - trust-one: the call is passed on unverified.
//
// How an answer was established (and by which operators) is reported in
// the call's pipeline.Report (Call.Report), for a response header and
// metrics. The block a call reads is the one the block-tag stage resolved
// (Call.Ref, Call.Range). When no answer can be verified the client gets a JSON-RPC
// error with code CodeUnverified saying what failed, never a guess.
package verification
