package chaos

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
)

// TrafficOptions shape the steady client traffic.
type TrafficOptions struct {
	Readers  int           // concurrent reading clients; default 2
	Interval time.Duration // pause between one reader's calls; default 50ms
	Timeout  time.Duration // one call's bound; default 10s
	Sends    bool          // send signed transactions and wait for their inclusion; default on via DefaultTraffic
	Heads    bool          // hold a newHeads subscription over WebSocket
	// HTTP and WS are where the clients call; default the gateway's. (A
	// test points them at a faulty node to show the checks catch it.)
	HTTP, WS string
}

// DefaultTraffic is the mix every scenario runs: two readers at 20 calls
// a second each, one sender, one subscription.
func DefaultTraffic() TrafficOptions {
	return TrafficOptions{Readers: 2, Interval: 50 * time.Millisecond, Timeout: 10 * time.Second, Sends: true, Heads: true}
}

// maxSamples bounds the failure and wrong-answer examples kept.
const maxSamples = 5

// maxLatencies bounds the latencies kept for the p99 (later ones are dropped).
const maxLatencies = 200_000

// Tally is what the traffic saw.
type Tally struct {
	Requests uint64  `json:"requests"`
	Failures uint64  `json:"failures"`
	Wrong    uint64  `json:"wrong"`
	P99Ms    float64 `json:"p99Ms"`
	TxSent   uint64  `json:"txSent"`
	TxMined  uint64  `json:"txMined"`
	Heads    uint64  `json:"heads"`
	// WrongBy counts wrong answers by call (the first word of the sample:
	// a method, "batch", "newHeads" or "receipt").
	WrongBy map[string]uint64 `json:"wrongBy,omitempty"`
	// FailureSamples and WrongSamples are a few examples, in plain words.
	FailureSamples []string `json:"failureSamples,omitempty"`
	WrongSamples   []string `json:"wrongSamples,omitempty"`
}

// honest is the node answers are checked against.
type honest struct {
	c    *rpc.Client
	name string
}

// Traffic is steady mixed client traffic through the gateway, every answer
// checked against an honest node.
type Traffic struct {
	env    *Env
	opts   TrafficOptions
	gw     *rpc.Client
	ref    atomic.Pointer[honest]
	accts  []common.Address
	sender *ecdsa.PrivateKey
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	t  Tally
	bc Broadcasts
	// lastFail is the latest failure, in plain words, for narration.
	lastFail string
	lat      []time.Duration
	done     atomic.Uint64 // calls answered (or failed), for phases that wait on traffic
}

// StartTraffic starts the traffic, checking answers against the first node
// not in faulty. Stop ends it.
func StartTraffic(ctx context.Context, env *Env, opts TrafficOptions, faulty []string) (*Traffic, error) {
	if opts.Readers == 0 && !opts.Sends && !opts.Heads {
		return nil, fmt.Errorf("chaos: traffic with no readers, sends or subscription")
	}
	if opts.HTTP == "" {
		opts.HTTP, opts.WS = env.HTTP, env.WS
	}
	gw, err := rpc.DialOptions(ctx, opts.HTTP, rpc.WithHTTPClient(&http.Client{Timeout: opts.Timeout + time.Second}))
	if err != nil {
		return nil, fmt.Errorf("chaos: dial the gateway: %w", err)
	}
	t := &Traffic{env: env, opts: opts, gw: gw}
	if err := t.SetFaulty(faulty); err != nil {
		gw.Close()
		return nil, err
	}
	keys := env.Devnet.Keys()
	for _, k := range keys {
		t.accts = append(t.accts, crypto.PubkeyToAddress(k.PublicKey))
	}
	t.sender = keys[0]
	rctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	for i := range opts.Readers {
		t.wg.Add(1)
		go func() { defer t.wg.Done(); t.read(rctx, i) }()
	}
	if opts.Sends {
		t.wg.Add(1)
		go func() { defer t.wg.Done(); t.send(rctx) }()
	}
	if opts.Heads && opts.WS != "" {
		t.wg.Add(1)
		go func() { defer t.wg.Done(); t.heads(rctx) }()
	}
	return t, nil
}

// SetFaulty chooses the honest reference again: the first node not in faulty.
func (t *Traffic) SetFaulty(faulty []string) error {
	c, name, err := t.env.Honest(faulty)
	if err != nil {
		return err
	}
	t.ref.Store(&honest{c: c, name: name})
	return nil
}

// Failed is how many requests failed so far, and the latest failure.
func (t *Traffic) Failed() (uint64, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.t.Failures, t.lastFail
}

// Done is how many calls the traffic has completed so far.
func (t *Traffic) Done() uint64 { return t.done.Load() }

// WaitCalls waits (bounded by ctx) until n more calls than now completed.
func (t *Traffic) WaitCalls(ctx context.Context, n uint64) bool {
	want := t.Done() + n
	return waitUntil(ctx, 20*time.Millisecond, func() bool { return t.Done() >= want })
}

// Snapshot is the tally so far.
func (t *Traffic) Snapshot() Tally {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.t
	out.FailureSamples = slices.Clone(t.t.FailureSamples)
	out.WrongSamples = slices.Clone(t.t.WrongSamples)
	out.WrongBy = maps.Clone(t.t.WrongBy)
	out.P99Ms = p99(t.lat)
	return out
}

// Stop ends the traffic, waits for its clients and returns the tally.
// Calls cut short by the stop are not counted.
func (t *Traffic) Stop() Tally {
	t.cancel()
	t.wg.Wait()
	t.gw.Close()
	return t.Snapshot()
}

func p99(lat []time.Duration) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return float64(s[(len(s)*99)/100]) / float64(time.Millisecond)
}

// call sends one call through the gateway and counts it: a failure when it
// errs. It returns false when the call failed or the traffic is stopping.
func (t *Traffic) call(ctx context.Context, result any, what string, method string, args ...any) bool {
	return t.timed(ctx, what, func(cctx context.Context) error { return t.gw.CallContext(cctx, result, method, args...) })
}

// batch sends one batch through the gateway, counted as one request: a
// failure when it or any of its calls erred.
func (t *Traffic) batch(ctx context.Context, what string, elems []rpc.BatchElem) bool {
	return t.timed(ctx, what, func(cctx context.Context) error {
		if err := t.gw.BatchCallContext(cctx, elems); err != nil {
			return err
		}
		for _, e := range elems {
			if e.Error != nil {
				return fmt.Errorf("%s: %w", e.Method, e.Error)
			}
		}
		return nil
	})
}

func (t *Traffic) timed(ctx context.Context, what string, do func(context.Context) error) bool {
	cctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	start := time.Now()
	err := do(cctx)
	d := time.Since(start)
	if ctx.Err() != nil {
		return false
	}
	t.mu.Lock()
	t.t.Requests++
	if len(t.lat) < maxLatencies {
		t.lat = append(t.lat, d)
	}
	if err != nil {
		t.t.Failures++
		t.lastFail = fmt.Sprintf("%s: %v", what, err)
		if len(t.t.FailureSamples) < maxSamples {
			t.t.FailureSamples = append(t.t.FailureSamples, t.lastFail)
		}
	}
	t.mu.Unlock()
	t.done.Add(1)
	return err == nil
}

// wrong counts a wrong answer, with an example.
func (t *Traffic) wrong(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.t.Wrong++
	msg := fmt.Sprintf(format, args...)
	if t.t.WrongBy == nil {
		t.t.WrongBy = map[string]uint64{}
	}
	t.t.WrongBy[strings.TrimSuffix(strings.Fields(msg)[0], ":")]++
	if len(t.t.WrongSamples) < maxSamples {
		t.t.WrongSamples = append(t.t.WrongSamples, msg)
	}
}

// fail counts a failure seen outside one call (a transaction never mined, a
// subscription that ended).
func (t *Traffic) fail(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.t.Failures++
	t.lastFail = fmt.Sprintf(format, args...)
	if len(t.t.FailureSamples) < maxSamples {
		t.t.FailureSamples = append(t.t.FailureSamples, t.lastFail)
	}
}

func (t *Traffic) count(f func(*Tally)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f(&t.t)
}

// sameJSON reports whether two JSON values are equal once decoded.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(x, y)
}
