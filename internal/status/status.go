// Package status is what the gateway tells people about its chains: each
// provider's state in one word, the incidents it detected, and per chain
// the agreed head and where traffic goes. Plain data with JSON tags, the
// same for the status page, /status.json, the admin /status, metrics,
// webhooks and the chaos tool. It imports nothing of rpcmesh.
package status

import (
	"context"
	"time"
)

// ProviderState is a provider's state in one word, derived from its
// breaker, stalls, lag, fork, integrity penalty and incidents. Every view
// (page, /status, metrics) shows this one value.
type ProviderState string

// The provider states, best first.
const (
	StateUp         ProviderState = "up"          // serving, nothing wrong seen
	StateChecking   ProviderState = "checking"    // chain ID not yet confirmed
	StateDegraded   ProviderState = "degraded"    // answering, but erroring, throttled or slow
	StateLagging    ProviderState = "lagging"     // behind the agreed head by more than the limit
	StateForked     ProviderState = "forked"      // its head is on a chain the other operators do not follow
	StateSuspect    ProviderState = "suspect"     // served answers that failed verification, or censored transactions
	StateStalled    ProviderState = "stalled"     // a call in flight far too long: probably hung
	StateDown       ProviderState = "down"        // unreachable or failing: breaker open
	StateWrongChain ProviderState = "wrong_chain" // answers for another chain ID
)

// Provider is one provider as people see it. It never carries the
// provider's URL (which may hold an API key).
type Provider struct {
	Name     string        `json:"name"`
	Operator string        `json:"operator"`
	Cloud    string        `json:"cloud,omitempty"`
	Region   string        `json:"region,omitempty"`
	Tier     string        `json:"tier"`
	State    ProviderState `json:"state"`
	// Reason says in plain words why State is not up; when up, "" or
	// that an open incident still names it (it ends once clear for
	// incidents.close_after).
	Reason    string  `json:"reason,omitempty"`
	Head      uint64  `json:"head"`
	LagBlocks uint64  `json:"lagBlocks"`
	P50Ms     float64 `json:"p50Ms"`
	P99Ms     float64 `json:"p99Ms"`
	ErrorRate float64 `json:"errorRate"`
	// Share is the provider's operator's share of the chain's attempts in
	// the routing window.
	Share    float64 `json:"share"`
	Requests uint64  `json:"requests"`
	Failures uint64  `json:"failures"`
	// Penalty is the decayed integrity penalty (0 clean, 1 just caught).
	Penalty float64 `json:"penalty"`
	// VerifyFailures and Censored count answers that failed verification
	// and transactions it acknowledged and dropped, since the gateway
	// started (or since the store was opened, when one is configured).
	VerifyFailures uint64 `json:"verifyFailures"`
	Censored       uint64 `json:"censored"`
}

// Answers counts what the gateway answered clients on a chain since it
// started: the user impact an incident is measured by.
type Answers struct {
	// Served counts every answer, the failed and slowed ones included.
	Served uint64 `json:"served"`
	// Failed are answers that were errors the client did not cause (no
	// provider could answer, timeouts, nothing verifiable).
	Failed uint64 `json:"failed"`
	// Slowed are answers that took longer than the chain's slow threshold.
	Slowed uint64 `json:"slowed"`
}

// Chain is one served chain as people see it.
type Chain struct {
	Name        string `json:"name"`
	ChainID     uint64 `json:"chainId"`
	Head        uint64 `json:"head"`
	HeadHash    string `json:"headHash,omitempty"`
	HeadAgeMs   int64  `json:"headAgeMs"`
	BlockTimeMs int64  `json:"blockTimeMs"`
	// Stale says why answers may be stale ("" when fresh): the head is
	// frozen, or the chain is degraded. Answers carry it in a header.
	Stale         string             `json:"stale,omitempty"`
	Ready         bool               `json:"ready"`
	NotReady      string             `json:"notReady,omitempty"`
	Providers     []Provider         `json:"providers"`
	OperatorShare map[string]float64 `json:"operatorShare"`
	CloudShare    map[string]float64 `json:"cloudShare"`
	Answers       Answers            `json:"answers"`
}

// Kind is what an incident is about.
type Kind string

// The incident kinds.
const (
	KindProviderDown     Kind = "provider_down"     // a provider unreachable, failing, hung or on another chain
	KindProviderDegraded Kind = "provider_degraded" // erroring often, throttled or slow
	KindProviderLagging  Kind = "provider_lagging"  // behind the agreed head
	KindProviderForked   Kind = "provider_forked"   // on a minority fork
	KindCloudOutage      Kind = "cloud_outage"      // the providers of one cloud failing together
	KindRegionOutage     Kind = "region_outage"     // the providers of one region failing together
	KindChainHalted      Kind = "chain_halted"      // no provider advances: the chain itself stopped
	KindHeadFrozen       Kind = "head_frozen"       // the agreed head stands while some provider advances
	KindVerification     Kind = "verification"      // a provider's answers failed verification
	KindCensorship       Kind = "censorship"        // a provider dropped transactions it acknowledged
	KindConcentration    Kind = "concentration"     // an operator or cloud carries more than its cap
	KindCapacity         Kind = "capacity"          // every provider of a tier gone
)

// Severity is how bad an incident is for users.
type Severity string

// The severities.
const (
	SeverityMinor    Severity = "minor"    // redundancy reduced; users unaffected
	SeverityMajor    Severity = "major"    // users see slower or fewer guarantees
	SeverityCritical Severity = "critical" // users see failures or stale answers
)

// Impact is what users saw, measured from the gateway's own answers while
// the incident lasted.
type Impact string

// The impacts.
const (
	ImpactNone   Impact = "none"
	ImpactSlowed Impact = "slowed"
	ImpactFailed Impact = "failed"
)

// Incident is one detected incident, open (End zero) or ended.
type Incident struct {
	ID        string    `json:"id"`
	Kind      Kind      `json:"kind"`
	Chain     string    `json:"chain"`
	Severity  Severity  `json:"severity"`
	Impact    Impact    `json:"impact"`
	Providers []string  `json:"providers,omitempty"`
	Operators []string  `json:"operators,omitempty"`
	Clouds    []string  `json:"clouds,omitempty"`
	Regions   []string  `json:"regions,omitempty"`
	Start     time.Time `json:"start"`
	Updated   time.Time `json:"updated"`
	End       time.Time `json:"end,omitzero"`
	// Message says in plain words what happened and what users see, e.g.
	// "devnet: 2 of 5 operators (both on aws, us-east-1) unreachable since
	// 14:02 UTC; requests are served by the other 3; no failed requests".
	Message string   `json:"message"`
	Updates []Update `json:"updates,omitempty"`
}

// Open reports whether the incident has not ended.
func (i *Incident) Open() bool { return i.End.IsZero() }

// Update is one change in an incident's course.
type Update struct {
	At       time.Time `json:"at"`
	Severity Severity  `json:"severity"`
	Impact   Impact    `json:"impact"`
	Message  string    `json:"message"`
}

// EventType is what happened to an incident.
type EventType string

// The event types.
const (
	EventOpened  EventType = "opened"
	EventUpdated EventType = "updated"
	EventClosed  EventType = "closed"
)

// Event is an incident opened, updated or closed: what the page's live
// feed and webhooks are sent.
type Event struct {
	Type     EventType `json:"type"`
	Incident Incident  `json:"incident"`
}

// Snapshot is everything the gateway tells people at one moment.
type Snapshot struct {
	At     time.Time `json:"at"`
	Chains []Chain   `json:"chains"`
	// Incidents are the open incidents and the most recent ended ones,
	// newest first.
	Incidents []Incident `json:"incidents"`
}

// Source is where the page, /status.json, webhooks and tools read the
// gateway's status: a snapshot now, and incident events as they happen.
type Source interface {
	// Snapshot is the gateway's status at the moment of the call.
	Snapshot() Snapshot
	// Subscribe returns incident events from now on, until ctx ends (then
	// the channel is closed). A subscriber that does not keep up loses
	// events rather than slowing the gateway; the next Snapshot has the truth.
	Subscribe(ctx context.Context) <-chan Event
}
