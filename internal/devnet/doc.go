// Package devnet runs a real multi-node Ethereum chain of in-process
// go-ethereum nodes on loopback, with faults injected on demand where they
// happen in reality: in the network path in front of a node (down, hang, slow,
// error, ratelimit, lie, censor, flap, prune) or in the node itself (lag, reorg).
//
// Typical use in tests:
//
//	d, err := devnet.Start(ctx, devnet.Options{})
//	defer d.Close()
//	id, err := d.SetFault(devnet.FaultSpec{Target: "cloud=aws", Kind: devnet.FaultDown})
//	defer d.ClearFault(id)
package devnet
