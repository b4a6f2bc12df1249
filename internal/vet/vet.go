// Package vet vets a candidate provider before it is admitted: `rpcmesh
// vet URL` measures its chain ID, sync state and lag against the head the
// already admitted operators agree on, method coverage, archive depth,
// the correctness of its answers (checked with proofs and roots against
// agreed headers, internal/verify), latency and errors under a ramped load
// (internal/bench), its answers to bad requests and too many, and
// WebSocket subscriptions; and judges it against admission criteria (the
// config's vetting section). docs/vetting.md describes the criteria.
package vet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// headWait bounds the wait for the admitted operators to agree on a head.
const headWait = 60 * time.Second

// Options describe one vetting run.
type Options struct {
	URL    string // the candidate's HTTP endpoint
	WSURL  string // its WebSocket endpoint; "" derives it from URL
	Config *config.Config
	Chain  string // the config's chain; "" when it has one chain
	// Criteria are what the candidate is judged by (CriteriaFrom).
	Criteria Criteria
	// Progress gets a line as each check starts and ends (nil: none).
	Progress io.Writer
	Logger   *slog.Logger // the admitted providers' logs (nil: discarded)
}

// ErrInput marks errors in what vet was given (a chain the config does
// not have, a candidate that cannot be reached or serves another chain):
// no verdict is possible.
var ErrInput = errors.New("cannot vet")

// chainOf finds the chain to vet for.
func chainOf(cfg *config.Config, name string) (*config.Chain, error) {
	var names []string
	for i := range cfg.Chains {
		if cfg.Chains[i].Name == name || name == "" && len(cfg.Chains) == 1 {
			return &cfg.Chains[i], nil
		}
		names = append(names, cfg.Chains[i].Name)
	}
	if name == "" {
		return nil, fmt.Errorf("%w: the config has %d chains (%s): name one with --chain", ErrInput, len(names), strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("%w: the config has no chain %q (it has %s)", ErrInput, name, strings.Join(names, ", "))
}

// Run vets the candidate and returns the report with its verdict. An
// error (wrapping ErrInput when the input was wrong) means no verdict.
func Run(ctx context.Context, o Options) (*Report, error) {
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ch, err := chainOf(o.Config, o.Chain)
	if err != nil {
		return nil, err
	}
	crit := o.Criteria
	if o.WSURL == "" {
		o.WSURL = wsURLFor(o.URL)
	}
	r := &Report{Candidate: o.URL, WebSocket: o.WSURL, Chain: ch.Name, ChainID: ch.ChainID, Started: time.Now().UTC(), Criteria: crit}
	c := newClient(o.URL, crit.CallTimeout.D())
	defer c.close()
	step := func(format string, args ...any) { fmt.Fprintf(progress, "vet: "+format+"\n", args...) }

	step("chain ID of %s", o.URL)
	if err := checkChainID(ctx, c, ch.ChainID); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	ref, err := startAdmitted(o.Config, ch, o.URL, logger)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	defer ref.close()
	r.Admitted = ref.names
	step("waiting for the admitted operators (%s) to agree on a head", strings.Join(ref.names, ", "))
	hctx, cancel := context.WithTimeout(ctx, headWait)
	agreed, err := ref.waitHead(hctx)
	cancel()
	if err != nil {
		return nil, err
	}
	step("agreed head %d", agreed.Number)

	step("sync state and lag")
	if r.Sync, err = checkSync(ctx, c, ref); err != nil {
		r.Sync.Error = err.Error()
	}
	cfg := verify.ChainConfigFor(ch.ChainID)
	top := agreed.Number
	if r.Sync.CandidateHead > 0 {
		top = min(top, r.Sync.CandidateHead)
	}
	if top > 0 {
		top-- // one below: every admitted operator has it
	}
	f := &findings{checked: map[string]int{}}
	recent, err := takeSample(ctx, ref, cfg, []uint64{top}, crit.SampleAccounts)
	if err != nil {
		return nil, err
	}
	step("method coverage (%d required, %d optional)", len(crit.RequiredMethods), len(crit.OptionalMethods))
	r.Methods = checkMethods(ctx, c, recent, crit)

	account := common.Address{}
	if len(recent.accounts) > 0 {
		account = recent.accounts[0]
	}
	step("archive depth (binary search on eth_getProof below block %d)", top)
	if r.Archive, err = checkArchive(ctx, c, ref, top, account, f.lie); err != nil {
		return nil, err
	}
	step("archive: state from block %d (%d blocks deep, genesis %v)", r.Archive.OldestState, r.Archive.Depth, r.Archive.Genesis)

	lo := top - min(top, 1023)
	numbers := spread(lo, top, crit.SampleBlocks)
	step("correctness: %d blocks from %d to %d, checked against agreed headers", len(numbers), lo, top)
	s, err := takeSample(ctx, ref, cfg, numbers, crit.SampleAccounts)
	if err != nil {
		return nil, err
	}
	// State is asked only where the candidate keeps it (archive above).
	checkCorrectness(ctx, c, ref, cfg, s, r.Archive.OldestState, f)
	r.Correctness.Blocks = numbers
	for _, a := range s.accounts {
		r.Correctness.Accounts = append(r.Correctness.Accounts, a.Hex())
	}
	r.Correctness.Checked, r.Correctness.Failed, r.Correctness.Skipped = f.checked, f.failed, f.skipped
	step("correctness: %d answers proven right, %d wrong, %d not checked", sum(f.checked), len(f.failed), len(f.skipped))

	step("WebSocket: newHeads on %s", o.WSURL)
	r.WS = checkWebSocket(ctx, o.WSURL, ref, crit.NewHeadsTimeout.D())

	step("load: ramp to %g req/s in %d steps of %s", crit.TargetRate, crit.RampSteps, crit.StepDuration.D())
	if r.Load, err = checkLoad(ctx, o.URL, crit, progress); err != nil {
		return nil, err
	}
	step("errors: bad requests")
	r.Errors = checkErrors(ctx, c)

	if syncFailure(r.Sync, crit.MaxLagBlocks) != nil {
		// One more look: a head measured at a block boundary may be a block off.
		step("sync state and lag, again")
		if again, err := checkSync(ctx, c, ref); err == nil && (r.Sync.Error != "" || syncFailure(again, crit.MaxLagBlocks) == nil) {
			r.Sync = again
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	judge(r)
	r.Seconds = time.Since(r.Started).Seconds()
	return r, nil
}

// judge sets the verdict and the failures, in the criteria's order.
func judge(r *Report) {
	crit := r.Criteria
	r.Failed = []Failure{}
	for _, f := range []*Failure{
		syncFailure(r.Sync, crit.MaxLagBlocks),
		methodsFailure(r.Methods),
		archiveFailure(r.Archive, crit.MinArchiveBlocks),
		correctnessFailure(r.Correctness),
		errorsFailure(r.Errors),
		throttleFailure(r.Errors),
		wsFailure(r.WS, crit.WebSocketOptional),
	} {
		if f != nil {
			r.Failed = append(r.Failed, *f)
		}
	}
	r.Failed = append(r.Failed, loadFailures(r.Load, crit)...)
	order := []string{CritSync, CritMethods, CritArchive, CritCorrectness, CritLatency, CritErrors, CritThrottling, CritWebSocket}
	slices.SortStableFunc(r.Failed, func(a, b Failure) int {
		return slices.Index(order, a.Criterion) - slices.Index(order, b.Criterion)
	})
	r.Verdict = Admit
	if len(r.Failed) > 0 {
		r.Verdict = Reject
	}
}

// FailedCriteria are the names of the failed criteria, in order, each once.
func (r *Report) FailedCriteria() []string {
	var out []string
	for _, f := range r.Failed {
		if !slices.Contains(out, f.Criterion) {
			out = append(out, f.Criterion)
		}
	}
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
