package pagetest

import (
	"math"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
)

// Example is a snapshot like a devnet gateway's: one chain, five
// operators on four clouds, one provider down and one lagging.
func Example() status.Snapshot {
	ps := []status.Provider{
		{Name: "node1", Operator: "rpcmesh", Cloud: "aws", Region: "us-east-1", Tier: "own", State: status.StateUp, P50Ms: 4.2, P99Ms: 19, ErrorRate: 0.001, Share: 0.31},
		{Name: "node2", Operator: "blocklabs", Cloud: "aws", Region: "eu-west-1", Tier: "partner", State: status.StateDown,
			Reason: "unreachable or failing: circuit breaker open", P50Ms: 0, P99Ms: 0, ErrorRate: 1, Share: 0},
		{Name: "node3", Operator: "nodeworks", Cloud: "gcp", Region: "europe-west3", Tier: "partner", State: status.StateUp, P50Ms: 6.8, P99Ms: 31, ErrorRate: 0.004, Share: 0.29},
		{Name: "node4", Operator: "homestakers", Cloud: "home", Region: "de-berlin", Tier: "community", State: status.StateLagging,
			Reason: "behind the agreed head", LagBlocks: 5, P50Ms: 11.5, P99Ms: 64, ErrorRate: 0.02, Share: 0.1},
		{Name: "node5", Operator: "openrpc", Cloud: "hetzner", Region: "fsn1", Tier: "public", State: status.StateSuspect,
			Reason: "served answers that failed verification or dropped transactions", P50Ms: 8.1, P99Ms: 40, ErrorRate: 0.01,
			Share: 0.3, Penalty: 0.8, VerifyFailures: 3, Censored: 1},
	}
	for i := range ps {
		ps[i].Head = 4711
		if ps[i].LagBlocks > 0 {
			ps[i].Head -= ps[i].LagBlocks
		}
		ps[i].Requests = 10000 + uint64(i)*1234
		ps[i].Failures = uint64(float64(ps[i].Requests) * ps[i].ErrorRate)
	}
	return status.Snapshot{
		At: time.Now().UTC(),
		Chains: []status.Chain{{
			Name: "devnet", ChainID: 1337, Head: 4711, HeadHash: "0x5e1f", HeadAgeMs: 400, BlockTimeMs: 500, Ready: true,
			Providers:     ps,
			OperatorShare: map[string]float64{"rpcmesh": 0.31, "blocklabs": 0, "nodeworks": 0.29, "homestakers": 0.1, "openrpc": 0.3},
			CloudShare:    map[string]float64{"aws": 0.31, "gcp": 0.29, "home": 0.1, "hetzner": 0.3},
			Answers:       status.Answers{Served: 182004, Failed: 12, Slowed: 40},
		}},
		Incidents: []status.Incident{},
	}
}

// Wobble moves latencies, error rates and answers a little with time, as
// live traffic does: a Source.Vary for pictures.
func Wobble(snap *status.Snapshot, at time.Time) {
	x := float64(at.UnixMilli()) / 600_000 // a swing every hour or so
	for i := range snap.Chains {
		c := &snap.Chains[i]
		for j := range c.Providers {
			p := &c.Providers[j]
			if p.P50Ms > 0 {
				p.P50Ms *= 1 + 0.3*math.Sin(x+float64(j))
			}
			p.ErrorRate = min(1, p.ErrorRate*(1+0.5*math.Sin(x/2+float64(j))))
		}
		c.Answers.Served += uint64(at.Unix() % 1_000_000)
		if math.Sin(x*3) > 0.7 { // failures now and then
			c.Answers.Failed += uint64(at.Unix()%100_000) / 10
		}
		for k, v := range c.CloudShare {
			c.CloudShare[k] = v * (1 + 0.2*math.Sin(x+float64(len(k))))
		}
		for k, v := range c.OperatorShare {
			c.OperatorShare[k] = v * (1 + 0.2*math.Cos(x+float64(len(k))))
		}
	}
}
