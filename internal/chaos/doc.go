// Package chaos runs fault scenarios against a devnet and an in-process
// gateway in front of it, under steady mixed client traffic (reads, proven
// reads, a batch, signed transactions and their inclusion, a newHeads
// subscription), checks every answer against an honest node queried
// directly, and reports per scenario: requests, failures, wrong answers,
// p99 latency, time to detect, time to recover and peak memory. The
// rpcmesh-devnet command's chaos and demo subcommands run it (see
// docs/reliability.md and docs/demo.md).
package chaos
