package incident

import (
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
)

// TestMessages pins the plain-language message of every kind.
func TestMessages(t *testing.T) {
	since := time.Date(2026, 12, 6, 14, 2, 5, 0, time.UTC)
	lagging := with(devnet(), status.StateLagging, "node4")
	lagging.Providers[3].Head = 88
	frozen := devnet()
	frozen.Providers[4].Head = 104
	degraded := frozen
	degraded.Head = 104
	liar := with(devnet(), status.StateSuspect, "node2")
	liar.Providers[1].VerifyFailures = 3
	censor := with(devnet(), status.StateSuspect, "node2")
	censor.Providers[1].Censored = 2
	p := func(o Observation, i int) []Provider { return []Provider{o.Providers[i]} }
	for _, tc := range []struct {
		name string
		o    Observation
		c    condition
		imp  impact
		want string
	}{
		{"down", devnet(), condition{kind: status.KindProviderDown, providers: p(devnet(), 2)}, impact{},
			"devnet: node3 (nodeworks on gcp, europe-west3) unreachable since 14:02:05 UTC; requests are served by the other 4; no failed requests"},
		{"degraded slowed", devnet(), condition{kind: status.KindProviderDegraded, providers: p(devnet(), 2)}, impact{slowed: 12},
			"devnet: node3 (nodeworks on gcp, europe-west3) failing, throttled or slow since 14:02:05 UTC; requests are served by the other 4; 12 slowed requests (over 2s)"},
		{"lagging", lagging, condition{kind: status.KindProviderLagging, providers: p(lagging, 3)}, impact{failed: 1},
			"devnet: node4 (homestakers on home, de-berlin) behind the agreed head (block 100, it reports 88) since 14:02:05 UTC; requests are served by the other 4; 1 failed request"},
		{"forked", devnet(), condition{kind: status.KindProviderForked, providers: p(devnet(), 4)}, impact{},
			"devnet: node5 (openrpc on hetzner, fsn1) on a fork the other operators do not follow since 14:02:05 UTC; its answers are not used; requests are served by the other 4; no failed requests"},
		{"cloud", devnet(), condition{kind: status.KindCloudOutage, providers: devnet().Providers[:2]}, impact{failed: 2, slowed: 3},
			"devnet: 2 of 5 operators (both on aws, us-east-1) unreachable since 14:02:05 UTC; requests are served by the other 3; 2 failed requests and 3 slowed requests (over 2s)"},
		{"frozen", frozen, condition{kind: status.KindHeadFrozen, providers: p(frozen, 4), head: 100, top: 104}, impact{},
			"devnet: the agreed head has stood at block 100 since 14:02:05 UTC while node5 reports block 104; answers may be stale; no failed requests"},
		{"frozen, degraded head", degraded, condition{kind: status.KindHeadFrozen, providers: p(degraded, 4), head: 100, top: 104}, impact{},
			"devnet: the agreed head has stood at block 100 since 14:02:05 UTC while node5 reports block 104; answers follow node5 alone, on degraded trust (head 104); no failed requests"},
		{"halted", devnet(), condition{kind: status.KindChainHalted, head: 100}, impact{},
			"devnet: no provider has a block after 100 since 14:02:05 UTC: the chain itself seems halted; no failed requests"},
		{"verification", liar, condition{kind: status.KindVerification, providers: p(liar, 1)}, impact{},
			"devnet: node2 (blocklabs on aws, us-east-1) has served answers that failed verification since 14:02:05 UTC (3 so far); they were refused and the provider is avoided; no failed requests"},
		{"censorship", censor, condition{kind: status.KindCensorship, providers: p(censor, 1)}, impact{},
			"devnet: node2 (blocklabs on aws, us-east-1) has dropped transactions it acknowledged since 14:02:05 UTC (2 so far); transactions are sent through the others too; no failed requests"},
		{"capacity", with(devnet(), status.StateDown, "node2", "node3"), condition{kind: status.KindCapacity, subject: "partner", providers: devnet().Providers[1:3]}, impact{},
			"devnet: every provider of tier partner (node2 and node3) gone since 14:02:05 UTC; requests are served by the other 3; no failed requests"},
		{"concentration", devnet(), condition{kind: status.KindConcentration, subject: "operator openrpc", providers: p(devnet(), 4), share: 0.9, cap: 0.5}, impact{},
			"devnet: operator openrpc carries 90% of the traffic, above its 50% cap, since 14:02:05 UTC, because the others are unavailable; no failed requests"},
		{"nobody left", with(devnet(), status.StateDown, "node1", "node2", "node3", "node4"), condition{kind: status.KindProviderDown, providers: p(devnet(), 4)}, impact{failed: 40},
			"devnet: node5 (openrpc on hetzner, fsn1) unreachable since 14:02:05 UTC; no other operator is left to serve requests; 40 failed requests"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := message("devnet", &tc.c, &tc.o, since, tc.imp, 2*time.Second); got != tc.want {
				t.Errorf("\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
