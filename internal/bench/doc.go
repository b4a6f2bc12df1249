// Package bench measures JSON-RPC endpoints: a load generator (Run) that
// drives one or more targets over HTTP or WebSocket at a fixed rate or a fixed
// concurrency and reports throughput, errors by kind and HDR-histogram
// latency, and a deliberately trivial in-memory upstream (NewUpstream,
// StartUpstream) that answers a few eth_* methods with fixed valid results, so
// a gateway's own overhead can be measured without node cost.
//
// Typical use in tests:
//
//	up, err := bench.StartUpstream("127.0.0.1:0", bench.UpstreamOptions{})
//	defer up.Close()
//	rep, err := bench.Run(ctx, bench.Options{
//		Targets:  []bench.Target{{Name: "direct", URL: up.URL}},
//		Mix:      bench.SingleMethod("eth_blockNumber"),
//		Duration: time.Second,
//	})
package bench
