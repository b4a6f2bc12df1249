package devnet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// FaultKind names one kind of misbehaviour the devnet can stage.
type FaultKind string

// The fault kinds. Network-path faults act in the proxy in front of a node;
// lag and reorg act in the node itself.
const (
	FaultDown      FaultKind = "down"      // connection refused
	FaultHang      FaultKind = "hang"      // connection accepted, no answer ever
	FaultSlow      FaultKind = "slow"      // added latency with jitter
	FaultLag       FaultKind = "lag"       // the node stops importing blocks
	FaultError     FaultKind = "error"     // a share of requests fail (HTTP 5xx or JSON-RPC error)
	FaultRateLimit FaultKind = "ratelimit" // HTTP 429 with Retry-After above a rate
	FaultLie       FaultKind = "lie"       // answers tampered with
	FaultCensor    FaultKind = "censor"    // transactions acknowledged, then dropped
	FaultReorg     FaultKind = "reorg"     // the last d blocks replaced by different ones
	FaultFlap      FaultKind = "flap"      // alternates between up and down
	FaultPrune     FaultKind = "prune"     // state older than keep blocks answered as a pruned geth does
)

// FaultKinds lists every kind, in the order the docs present them.
var FaultKinds = []FaultKind{FaultDown, FaultHang, FaultSlow, FaultLag, FaultError, FaultRateLimit, FaultLie, FaultCensor, FaultReorg, FaultFlap, FaultPrune}

// Lie targets: what a lying node tampers with.
const (
	LieBalance     = "balance"     // eth_getBalance
	LieNonce       = "nonce"       // eth_getTransactionCount
	LieCode        = "code"        // eth_getCode
	LieStorage     = "storage"     // eth_getStorageAt
	LieProof       = "proof"       // eth_getProof (claimed values no longer match the proof)
	LieReceipt     = "receipt"     // eth_getTransactionReceipt, eth_getBlockReceipts
	LieLog         = "log"         // eth_getLogs, logs subscriptions
	LieBlockHash   = "blockhash"   // block objects' hash (also newHeads)
	LieBlockNumber = "blocknumber" // eth_blockNumber and block objects' number (also newHeads)
)

// LieTargets lists every lie a node can tell.
var LieTargets = []string{LieBalance, LieNonce, LieCode, LieStorage, LieProof, LieReceipt, LieLog, LieBlockHash, LieBlockNumber}

// FaultSpec is a request to stage a fault, as POST /faults takes it.
type FaultSpec struct {
	// Target is a node name ("node2"), "<label>=<value>" (cloud=aws,
	// operator=…, region=…, tier=…, name=…), or "all".
	Target string          `json:"target"`
	Kind   FaultKind       `json:"kind"`
	Params json.RawMessage `json:"params,omitempty"`
}

// Fault is a fault that is in force (or, for a whole-chain reorg, was applied).
type Fault struct {
	ID      string    `json:"id"`
	Target  string    `json:"target"`
	Kind    FaultKind `json:"kind"`
	Params  any       `json:"params"`
	Nodes   []string  `json:"nodes"`
	Created time.Time `json:"created"`
	// Reorg describes what a reorg replaced; set only for kind reorg.
	Reorg *ReorgResult `json:"reorg,omitempty"`
}

// Duration is a time.Duration written as "250ms" or "2s" in JSON.
type Duration time.Duration

// UnmarshalJSON reads "250ms", "2s", or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("bad duration %q (want e.g. \"250ms\" or \"2s\")", s)
		}
		*d = Duration(v)
		return nil
	}
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("bad duration %s (want e.g. \"250ms\" or a number of milliseconds)", b)
	}
	*d = Duration(ms * float64(time.Millisecond))
	return nil
}

// MarshalJSON writes the duration as a string such as "250ms".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// SlowParams configure a slow node: every answer is delayed by
// Latency ± Jitter (uniformly distributed).
type SlowParams struct {
	Latency Duration `json:"latency"`
	Jitter  Duration `json:"jitter"`
}

// ErrorParams configure a failing node.
type ErrorParams struct {
	Rate    float64 `json:"rate"`    // share of requests that fail, (0,1]
	Mode    string  `json:"mode"`    // "http" (a 5xx status), "jsonrpc" (an error object) or "mixed"
	Status  int     `json:"status"`  // HTTP status for mode http, 500–599
	Code    int     `json:"code"`    // JSON-RPC error code for mode jsonrpc
	Message string  `json:"message"` // JSON-RPC error message
}

// RateLimitParams configure a rate-limiting node: above RPS (with Burst),
// requests get HTTP 429 and Retry-After.
type RateLimitParams struct {
	RPS        float64  `json:"rps"`
	Burst      int      `json:"burst"`
	RetryAfter Duration `json:"retryAfter"`
}

// LieParams select what a lying node tampers with.
type LieParams struct {
	What []string `json:"what"`
	// BlockNumberOffset is added to block numbers when blocknumber is lied about.
	BlockNumberOffset int64 `json:"blockNumberOffset"`
}

// ReorgParams configure a reorg.
type ReorgParams struct {
	Depth int `json:"depth"` // how many of the last blocks are replaced, 1–64
}

// FlapParams configure a flapping node: Up then Down, repeatedly.
type FlapParams struct {
	Up   Duration `json:"up"`
	Down Duration `json:"down"`
}

// PruneParams configure a pruned node: state at blocks more than Keep
// below the node's own head is gone, as on a geth that is not an archive
// node (geth keeps the last 128).
type PruneParams struct {
	Keep uint64 `json:"keep"`
}

// maxPruneKeep bounds how many recent states a pruned node keeps.
const maxPruneKeep = 1_000_000

// EmptyParams is the params of kinds that take none.
type EmptyParams struct{}

// maxReorgDepth bounds reorg depth, as real clients bound how deep they reorg.
const maxReorgDepth = 64

// parseParams decodes and validates params for kind, filling defaults. It
// returns a typed params value, or an error a person can act on.
func parseParams(kind FaultKind, raw json.RawMessage) (any, error) {
	decode := func(v any) error {
		if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
			return nil
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("params for %s: %w", kind, err)
		}
		return nil
	}
	switch kind {
	case FaultDown, FaultHang, FaultLag, FaultCensor:
		var p EmptyParams
		return p, decode(&p)
	case FaultSlow:
		p := SlowParams{Latency: Duration(200 * time.Millisecond), Jitter: Duration(50 * time.Millisecond)}
		if err := decode(&p); err != nil {
			return nil, err
		}
		switch {
		case p.Latency < 0 || time.Duration(p.Latency) > 10*time.Minute:
			return nil, errors.New("params for slow: latency must be between 0 and 10m")
		case p.Jitter < 0 || p.Jitter > p.Latency:
			return nil, errors.New("params for slow: jitter must be between 0 and latency")
		}
		return p, nil
	case FaultError:
		p := ErrorParams{Rate: 1, Mode: "mixed", Status: 503, Code: -32603, Message: "internal error"}
		if err := decode(&p); err != nil {
			return nil, err
		}
		switch {
		case p.Rate <= 0 || p.Rate > 1:
			return nil, errors.New("params for error: rate must be in (0, 1]")
		case !slices.Contains([]string{"http", "jsonrpc", "mixed"}, p.Mode):
			return nil, fmt.Errorf("params for error: mode %q is not one of http, jsonrpc, mixed", p.Mode)
		case p.Status < 500 || p.Status > 599:
			return nil, fmt.Errorf("params for error: status %d is not a 5xx status", p.Status)
		case p.Message == "":
			return nil, errors.New("params for error: message must not be empty")
		}
		return p, nil
	case FaultRateLimit:
		p := RateLimitParams{RPS: 10, RetryAfter: Duration(time.Second)}
		if err := decode(&p); err != nil {
			return nil, err
		}
		if p.Burst == 0 {
			p.Burst = max(1, int(p.RPS))
		}
		switch {
		case p.RPS <= 0 || p.RPS > 1e6:
			return nil, errors.New("params for ratelimit: rps must be in (0, 1000000]")
		case p.Burst < 1:
			return nil, errors.New("params for ratelimit: burst must be at least 1")
		case p.RetryAfter < Duration(time.Second) || time.Duration(p.RetryAfter) > time.Hour:
			return nil, errors.New("params for ratelimit: retryAfter must be between 1s and 1h")
		}
		return p, nil
	case FaultLie:
		p := LieParams{BlockNumberOffset: 100}
		if err := decode(&p); err != nil {
			return nil, err
		}
		if len(p.What) == 0 {
			p.What = slices.Clone(LieTargets)
		}
		for _, w := range p.What {
			if !slices.Contains(LieTargets, w) {
				return nil, fmt.Errorf("params for lie: unknown lie %q (one of %s)", w, strings.Join(LieTargets, ", "))
			}
		}
		if p.BlockNumberOffset == 0 {
			return nil, errors.New("params for lie: blockNumberOffset must not be 0")
		}
		return p, nil
	case FaultReorg:
		p := ReorgParams{Depth: 1}
		if err := decode(&p); err != nil {
			return nil, err
		}
		if p.Depth < 1 || p.Depth > maxReorgDepth {
			return nil, fmt.Errorf("params for reorg: depth must be between 1 and %d", maxReorgDepth)
		}
		return p, nil
	case FaultPrune:
		p := PruneParams{Keep: 128}
		if err := decode(&p); err != nil {
			return nil, err
		}
		if p.Keep < 1 || p.Keep > maxPruneKeep {
			return nil, fmt.Errorf("params for prune: keep must be between 1 and %d", maxPruneKeep)
		}
		return p, nil
	case FaultFlap:
		p := FlapParams{Up: Duration(2 * time.Second), Down: Duration(2 * time.Second)}
		if err := decode(&p); err != nil {
			return nil, err
		}
		if p.Up < Duration(10*time.Millisecond) || p.Down < Duration(10*time.Millisecond) || time.Duration(p.Up) > time.Hour || time.Duration(p.Down) > time.Hour {
			return nil, errors.New("params for flap: up and down must each be between 10ms and 1h")
		}
		return p, nil
	}
	names := make([]string, len(FaultKinds))
	for i, k := range FaultKinds {
		names[i] = string(k)
	}
	return nil, fmt.Errorf("%w: %q (one of %s)", ErrUnknownFault, kind, strings.Join(names, ", "))
}

// Errors callers branch on.
var (
	ErrUnknownFault  = errors.New("unknown fault kind")
	ErrNoSuchNode    = errors.New("no node matches target")
	ErrBadTarget     = errors.New("bad target")
	ErrNoSuchFault   = errors.New("no such fault")
	ErrBadParams     = errors.New("bad params")
	ErrNotPossible   = errors.New("fault cannot be staged")
	ErrDevnetStopped = errors.New("devnet stopped")
)
