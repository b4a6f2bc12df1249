package devnetgw

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
	"time"
)

// WithTraffic returns run's result, run while a client reads the balance
// of a fresh random account at url (a chain's JSON-RPC URL) every gap
// until run returns: the steady users whose routed calls make a suite's
// shares, latencies and counters move. Every address is new, so no cache
// or de-duplication answers in the gateway's place.
func WithTraffic(url string, gap time.Duration, run func() int) int {
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		client := &http.Client{Timeout: 5 * time.Second}
		for ctx.Err() == nil {
			var addr [20]byte
			_, _ = rand.Read(addr[:])
			_, _ = Call(ctx, client, url, "eth_getBalance", `["0x`+hex.EncodeToString(addr[:])+`","latest"]`)
			select {
			case <-ctx.Done():
			case <-time.After(gap):
			}
		}
	})
	defer wg.Wait()
	defer stop()
	return run()
}
