package outagee2e

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
)

// TestOperatorOutage: with two operators and head_agreement 2, one node
// killed (then, separately, hung) under steady reads: the gateway's head
// keeps within two blocks of the survivor's, no answer is for a block more
// than two blocks old, the degraded trust shows in /status, /readyz,
// metrics and the answers' header, and full agreement returns with the
// operator.
func TestOperatorOutage(t *testing.T) {
	for _, kind := range []devnet.FaultKind{"down", "hang"} {
		t.Run(string(kind), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			// Head polls timed to the chain's pace, whichever test ran first.
			settle(ctx, t)
			devnetgw.WaitFor(ctx, t, gw, "full agreement", func() bool {
				ht := gw.Status().Chains[0].HeadTrust
				return ht.Level == "agreed" && ht.Operators == 2
			})
			survivor, gone := gw.Status().Chains[0].Providers[0].Name, gw.Status().Chains[0].Providers[1].Name

			// Steady reads: each answer's block must be at most two blocks
			// behind the chain's head when the call was sent.
			readCtx, stopReads := context.WithCancel(ctx)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var stale []string
			var degradedHeader string
			reads := 0
			wg.Add(1)
			go func() {
				defer wg.Done()
				for readCtx.Err() == nil {
					chainHead, _ := dn.Head()
					n, a, err := latestNumber(readCtx)
					mu.Lock()
					reads++
					if err == nil && n+2 < chainHead {
						stale = append(stale, "answered block "+itoa(n)+" with the chain at "+itoa(chainHead))
					}
					if strings.HasPrefix(a.head, "degraded") {
						degradedHeader = a.head
					}
					mu.Unlock()
					select {
					case <-readCtx.Done():
					case <-time.After(20 * time.Millisecond):
					}
				}
			}()

			clear := dn.Stage(t, devnet.FaultSpec{Target: gone, Kind: kind})
			// Twelve blocks of outage: the gateway's head stays within two
			// blocks of the survivor's all along.
			maxLag := uint64(0)
			until := time.Now().Add(12 * blockTime)
			for time.Now().Before(until) {
				chainHead, _ := dn.Head()
				if g := gatewayHead(); g+2 < chainHead {
					t.Errorf("gateway head %d, survivor %s at %d", g, survivor, chainHead)
				} else if chainHead > g {
					maxLag = max(maxLag, chainHead-g)
				}
				select {
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				case <-time.After(20 * time.Millisecond):
				}
			}
			t.Logf("%s: the gateway's head trailed the survivor by at most %d blocks", kind, maxLag)

			st := gw.Status().Chains[0]
			if st.HeadTrust.Level != "degraded" || st.HeadTrust.Operators != 1 || st.HeadTrust.Reporting != 1 {
				t.Errorf("/status headTrust %+v, want degraded on 1 operator", st.HeadTrust)
			}
			if code, body := admin("/readyz"); code != 200 || !strings.Contains(body, "degraded: chain devnet head on 1 of 2 operators") {
				t.Errorf("/readyz %d %q, want 200 naming the degraded head", code, body)
			}
			if _, body := admin("/metrics"); !strings.Contains(body, `rpcmesh_chain_head_degraded{chain="devnet"} 1`) {
				t.Error("metrics do not show rpcmesh_chain_head_degraded 1")
			}
			if _, a, err := latestNumber(ctx); err != nil || a.head != "degraded; operators=1; required=2" {
				t.Errorf("answer header %q (%v), want degraded; operators=1; required=2", a.head, err)
			}

			clear()
			devnetgw.WaitFor(ctx, t, gw, "full agreement after the operator's return", func() bool {
				ht := gw.Status().Chains[0].HeadTrust
				return ht.Level == "agreed" && ht.Operators == 2
			})
			if _, a, err := latestNumber(ctx); err != nil || a.head != "agreed; operators=2" {
				t.Errorf("answer header after the return %q (%v), want agreed; operators=2", a.head, err)
			}
			stopReads()
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(stale) > 0 {
				t.Errorf("%d of %d answers were for a stale block, e.g. %s", len(stale), reads, stale[0])
			}
			if degradedHeader == "" {
				t.Error("no answer during the outage carried the degraded header")
			}
		})
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
