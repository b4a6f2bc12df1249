package vet

import (
	"encoding/json"
	"io"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// The criteria a verdict names (docs/vetting.md).
const (
	CritSync        = "sync"        // head within max_lag_blocks of the agreed head, on the agreed chain
	CritMethods     = "methods"     // every required method served
	CritArchive     = "archive"     // state served min_archive_blocks deep (or to genesis)
	CritCorrectness = "correctness" // every sampled answer proven right
	CritLatency     = "latency"     // p99 at the target rate within max_p99
	CritErrors      = "errors"      // error rate at the target rate, answers to bad requests
	CritThrottling  = "throttling"  // 429s at or below the target rate
	CritWebSocket   = "websocket"   // eth_subscribe newHeads over WebSocket
)

// Verdicts.
const (
	Admit  = "admit"
	Reject = "reject"
)

// Report is what one vetting run found, and its verdict.
type Report struct {
	Candidate string    `json:"candidate"`
	WebSocket string    `json:"websocketUrl"`
	Chain     string    `json:"chain"`
	ChainID   uint64    `json:"chainId"`
	Admitted  []string  `json:"admitted"` // the providers the reference came from
	Started   time.Time `json:"started"`
	Seconds   float64   `json:"seconds"`
	Criteria  Criteria  `json:"criteria"`

	Sync        SyncResult        `json:"sync"`
	Methods     MethodsResult     `json:"methods"`
	Archive     ArchiveResult     `json:"archive"`
	Correctness CorrectnessResult `json:"correctness"`
	Load        LoadResult        `json:"load"`
	Errors      ErrorsResult      `json:"errors"`
	WS          WSResult          `json:"websocket"`

	Verdict string    `json:"verdict"` // admit or reject
	Failed  []Failure `json:"failed"`  // one per failed criterion, with its evidence
}

// Failure is one criterion the candidate failed, why, and what shows it.
type Failure struct {
	Criterion string   `json:"criterion"`
	Reason    string   `json:"reason"`
	Evidence  []string `json:"evidence,omitempty"`
	// Answers are the answers that failed verification (correctness).
	Answers []verify.Evidence `json:"answers,omitempty"`
}

// SyncResult is the candidate's head against the agreed head.
type SyncResult struct {
	AgreedHead    uint64 `json:"agreedHead"`
	CandidateHead uint64 `json:"candidateHead"`
	Lag           int64  `json:"lag"` // agreed minus candidate: negative when ahead
	Syncing       bool   `json:"syncing"`
	OnAgreedChain bool   `json:"onAgreedChain"` // its block at its head number hashes as the agreed one
	Note          string `json:"note,omitempty"`
	Error         string `json:"error,omitempty"` // why its head could not be read
}

// MethodsResult is which methods the candidate serves.
type MethodsResult struct {
	Served   []string          `json:"served"`
	Missing  map[string]string `json:"missing,omitempty"`  // required method → what it answered
	Optional map[string]bool   `json:"optional,omitempty"` // optional method → served
}

// ArchiveResult is how deep the candidate serves state.
type ArchiveResult struct {
	Head        uint64 `json:"head"`        // the block searched down from
	OldestState uint64 `json:"oldestState"` // the oldest block whose state it proved
	Depth       uint64 `json:"depth"`       // head − oldestState
	Genesis     bool   `json:"genesis"`     // serves state back to block 0
	Probes      int    `json:"probes"`      // eth_getProof calls the binary search made
	Refusal     string `json:"refusal,omitempty"`
}

// CorrectnessResult is what the sample of checked answers found.
type CorrectnessResult struct {
	Blocks   []uint64          `json:"blocks"`
	Accounts []string          `json:"accounts"`
	Checked  map[string]int    `json:"checked"` // method → answers proven right
	Failed   []verify.Evidence `json:"failed,omitempty"`
	Skipped  []string          `json:"skipped,omitempty"` // what could not be checked, and why
}

// LoadResult is the ramp: one step per rate.
type LoadResult struct {
	Steps []LoadStep `json:"steps"`
}

// LoadStep is one rate of the ramp.
type LoadStep struct {
	Rate         float64           `json:"rate"`
	Seconds      float64           `json:"seconds"`
	Calls        int64             `json:"calls"`
	OKCalls      int64             `json:"okCalls"`
	Throttled    int64             `json:"throttled"` // HTTP 429 or -32005
	Failed       int64             `json:"failed"`    // other errors
	Unsent       int64             `json:"unsent,omitempty"`
	P50          float64           `json:"p50Ms"`
	P99          float64           `json:"p99Ms"`
	Max          float64           `json:"maxMs"`
	Errors       map[string]int64  `json:"errors,omitempty"`
	ErrorSamples map[string]string `json:"errorSamples,omitempty"`
}

// ErrorsResult is how the candidate answers bad requests and too many.
type ErrorsResult struct {
	Probes []ErrorProbe `json:"probes"`
	// Throttles are the 429s the vetting's own calls met, and the last one's
	// Retry-After ("" when it gave none).
	Throttles  int    `json:"throttles"`
	RetryAfter string `json:"retryAfter,omitempty"`
}

// ErrorProbe is one bad request and the answer it got.
type ErrorProbe struct {
	What   string `json:"what"`
	Status int    `json:"status"`
	Code   int    `json:"code,omitempty"`
	Answer string `json:"answer"`
	OK     bool   `json:"ok"` // answered with a JSON-RPC error object
}

// WSResult is the WebSocket check.
type WSResult struct {
	Connected    bool    `json:"connected"`
	Subscribed   bool    `json:"subscribed"`
	NewHeads     int     `json:"newHeads"`
	FirstAfterMs float64 `json:"firstAfterMs,omitempty"`
	Error        string  `json:"error,omitempty"`
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
