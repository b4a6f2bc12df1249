// Package txwatch follows every accepted transaction until it is included
// in a block that head_agreement distinct operators agree on, replaced by
// another transaction of the same nonce, or expired. A transaction that has
// not spread to other providers' pools or been included within a few
// blocks is re-broadcast to providers that have not had it yet. A provider
// that accepted a transaction it then did not hold, while the transaction
// was mined through others, is recorded as a censor with the evidence.
// Tracked transactions survive a restart in an embedded bbolt store.
package txwatch

import (
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
)

// State is where a tracked transaction stands.
type State string

// Transaction states.
const (
	StatePending  State = "pending"  // accepted, not yet included in an agreed block
	StateIncluded State = "included" // in a block that head_agreement operators report
	StateReplaced State = "replaced" // its nonce was used by another transaction
	StateExpired  State = "expired"  // still pending after broadcast.expire_after
	StateUnknown  State = "unknown"  // not tracked by this gateway
)

// Entry is one tracked transaction: what rpcmesh_transactionStatus answers
// and what the store keeps.
type Entry struct {
	Hash               string                `json:"hash"`
	From               string                `json:"from"`
	Nonce              uint64                `json:"nonce"`
	State              State                 `json:"state"`
	Raw                hexutil.Bytes         `json:"raw,omitempty"`
	FirstSent          time.Time             `json:"firstSent"`
	SentAtBlock        uint64                `json:"sentAtBlock"`
	Sends              []txbroadcast.Outcome `json:"sends"`
	SeenIn             []string              `json:"seenIn,omitempty"` // providers that reported it in their pool or chain
	Included           *Inclusion            `json:"included,omitempty"`
	Rebroadcasts       int                   `json:"rebroadcasts"`
	LastBroadcastBlock uint64                `json:"lastBroadcastBlock"`
	CensoredBy         []string              `json:"censoredBy,omitempty"` // providers recorded as censors for it
	UpdatedAt          time.Time             `json:"updatedAt"`
}

// Inclusion is the block a transaction is in, with the operators that
// reported it there.
type Inclusion struct {
	BlockNumber uint64   `json:"blockNumber"`
	BlockHash   string   `json:"blockHash"`
	Operators   []string `json:"operators"`
	// Proven is set when the receipt was also verified against the
	// block's receiptsRoot (verification on).
	Proven bool `json:"proven,omitempty"`
}

// Evidence is one censorship record: a provider accepted a transaction,
// did not hold it right after, and the transaction was mined through
// others.
type Evidence struct {
	Provider    string    `json:"provider"`
	Operator    string    `json:"operator"`
	Hash        string    `json:"hash"`
	AcceptedAt  time.Time `json:"acceptedAt"`
	BlockNumber uint64    `json:"blockNumber"`
	BlockHash   string    `json:"blockHash"`
	MinedVia    []string  `json:"minedVia"` // providers that accepted and held it
	RecordedAt  time.Time `json:"recordedAt"`
}

// sentTo is the set of providers the transaction was sent to.
func (e *Entry) sentTo() map[string]bool {
	m := make(map[string]bool, len(e.Sends))
	for _, s := range e.Sends {
		m[s.Provider] = true
	}
	return m
}

// clone returns a deep enough copy for callers outside the lock.
func (e *Entry) clone() Entry {
	cp := *e
	cp.Sends = append([]txbroadcast.Outcome(nil), e.Sends...)
	cp.SeenIn = append([]string(nil), e.SeenIn...)
	cp.CensoredBy = append([]string(nil), e.CensoredBy...)
	if e.Included != nil {
		inc := *e.Included
		cp.Included = &inc
	}
	return cp
}
