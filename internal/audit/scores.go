package audit

import (
	"slices"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// Scores is the open scores document (GET /scores.json): per chain and
// provider, the score routing uses and what it is made of, each penalty
// with the IDs of its evidence. It names providers and their labels, never
// their URLs.
type Scores struct {
	Generated time.Time     `json:"generated"`
	Chains    []ChainScores `json:"chains"`
}

// ChainScores are one chain's providers' scores.
type ChainScores struct {
	Name      string          `json:"name"`
	Providers []ProviderScore `json:"providers"`
}

// ProviderScore is one provider's score and its inputs.
type ProviderScore struct {
	Name     string `json:"name"`
	Operator string `json:"operator"`
	Tier     string `json:"tier"`
	Cloud    string `json:"cloud,omitempty"`
	Region   string `json:"region,omitempty"`
	State    string `json:"state"`
	// Score is what routing ranks providers of a tier by: a cost, lower is
	// better (latency × error, throttle and penalty factors ÷ weight).
	Score        float64      `json:"score"`
	Availability Availability `json:"availability"`
	LatencyMs    Latency      `json:"latencyMs"`
	LagBlocks    uint64       `json:"lagBlocks"` // behind the agreed head
	Penalty      Penalty      `json:"penalty"`
	// VerificationFailures counts answers to clients that failed
	// verification (every penalty but audit and censored).
	VerificationFailures uint64     `json:"verificationFailures"`
	Censorship           Censorship `json:"censorship"`
	Audit                Summary    `json:"audit"`
}

// Availability is how often the provider failed: error and throttle rates
// are moving averages (half-life health.ewma_half_life), the counts are
// since the gateway started, and Windows is the share of audit checks it
// answered (anything but unavailable) over each audit window that had any.
type Availability struct {
	ErrorRate    float64            `json:"errorRate"`
	ThrottleRate float64            `json:"throttleRate"`
	Breaker      string             `json:"breaker"`
	Requests     uint64             `json:"requests"`
	Failures     uint64             `json:"failures"`
	Windows      map[string]float64 `json:"windows"`
}

// Latency is the provider's answer time: a moving average and the
// quantiles of its recent latency window.
type Latency struct {
	EWMA float64 `json:"ewma"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
}

// Penalty is the provider's integrity penalty: its decayed value (1 per
// failure, halving every HalfLife) and every reason with its count and
// evidence.
type Penalty struct {
	Value    float64         `json:"value"`
	HalfLife string          `json:"halfLife"`
	Reasons  []PenaltyReason `json:"reasons"`
}

// maxLinked bounds the evidence IDs listed per penalty reason (the newest).
const maxLinked = 20

// PenaltyReason is how often the provider was penalised for one reason,
// linked to the evidence: IDs of records in the verification evidence log
// (GET /verify/evidence?id=N on the admin listener; the newest maxLinked
// the log still keeps), or for "censored" the hashes of the transactions
// (GET /transactions on the admin listener).
type PenaltyReason struct {
	Reason       string   `json:"reason"`
	Count        uint64   `json:"count"`
	Evidence     []uint64 `json:"evidence,omitempty"`
	Transactions []string `json:"transactions,omitempty"`
}

// Censorship is how many transactions the provider accepted and then did
// not propagate while others mined them.
type Censorship struct {
	Count        uint64   `json:"count"`
	Transactions []string `json:"transactions,omitempty"`
}

// ScoreInputs are what one provider's score is built from.
type ScoreInputs struct {
	Snapshot upstream.Snapshot
	// State is the provider's state in one word, as the status page,
	// /status and metrics show it (status.ProviderState).
	State     string
	Score     float64
	Lag       uint64
	Penalties []upstream.PenaltyCount
	HalfLife  time.Duration
	Evidence  []verify.Evidence // the provider's records the log keeps, newest first
	Censored  []string          // hashes of transactions it censored
	Audit     Summary
}

// censoredReason is the penalty reason of a censored transaction.
const censoredReason = "censored"

// BuildScore builds one provider's score from its inputs.
func BuildScore(in ScoreInputs) ProviderScore {
	s := in.Snapshot
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	ps := ProviderScore{
		Name: s.Name, Operator: s.Labels.Operator, Tier: s.Labels.Tier, Cloud: s.Labels.Cloud, Region: s.Labels.Region,
		State: in.State, Score: in.Score, LagBlocks: in.Lag,
		Availability: Availability{ErrorRate: s.ErrorRate, ThrottleRate: s.ThrottleRate, Breaker: string(s.Breaker),
			Requests: s.Requests, Failures: s.Failures},
		LatencyMs: Latency{EWMA: ms(s.LatencyEWMA), P50: ms(s.P50), P90: ms(s.P90), P99: ms(s.P99)},
		Penalty:   Penalty{Value: s.Penalty, HalfLife: in.HalfLife.String(), Reasons: []PenaltyReason{}},
		Audit:     in.Audit,
	}
	ps.Availability.Windows = map[string]float64{}
	for name, c := range in.Audit.Windows {
		if total := c.Passed + c.Failed + c.Unavailable + c.Absent; total > 0 {
			ps.Availability.Windows[name] = float64(total-c.Unavailable) / float64(total)
		}
	}
	for _, pc := range in.Penalties {
		r := PenaltyReason{Reason: pc.Reason, Count: pc.Count}
		if pc.Reason == censoredReason {
			r.Transactions = in.Censored
		} else {
			for _, e := range in.Evidence {
				if e.PenaltyReason() == pc.Reason && len(r.Evidence) < maxLinked {
					r.Evidence = append(r.Evidence, e.ID)
				}
			}
			slices.Sort(r.Evidence)
		}
		switch pc.Reason {
		case Reason:
		case censoredReason:
			ps.Censorship.Count = pc.Count
		default:
			ps.VerificationFailures += pc.Count
		}
		ps.Penalty.Reasons = append(ps.Penalty.Reasons, r)
	}
	ps.Censorship.Transactions = in.Censored
	return ps
}
