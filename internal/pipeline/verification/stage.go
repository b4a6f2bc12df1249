package verification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// CodeUnverified is the JSON-RPC error code of an answer that could not be
// verified; it is defined with the other codes in internal/jsonrpc.
const CodeUnverified = jsonrpc.CodeUnverified

// Observer receives the stage's events (metrics implement it); optional.
type Observer interface {
	// Answered counts an answer by method and how it was established.
	Answered(chain, method string, class pipeline.Class)
	// Rejected counts a provider answer that failed verification, by kind.
	Rejected(chain, provider, method, kind string)
}

// Options configure the stage. Trust and Asker are required.
type Options struct {
	Chain       string
	ChainConfig *params.ChainConfig // fork rules, for transaction signers and blob fees
	Trust       verify.TrustSource
	Asker       Asker
	Evidence    *verify.EvidenceLog // nil: not kept
	Observer    Observer            // nil: not counted
	// Policies override DefaultPolicies per method; DefaultPolicy applies to
	// methods in neither (default quorum).
	Policies      map[string]Policy
	DefaultPolicy Policy
	// Quorum is how many providers of distinct operators a quorum asks
	// (default 2); Agree is how many of them must give the same answer
	// (default: all of Quorum).
	Quorum int
	Agree  int
	// FeeQuorum is how many providers of distinct operators a fee method
	// (eth_gasPrice, eth_maxPriorityFeePerGas, eth_blobBaseFee) asks for
	// its median (default and minimum 3: one liar among three cannot move
	// the median beyond the honest answers).
	FeeQuorum int
	// Operators returns how many distinct operators can serve method (by
	// capability, e.g. debug_); a quorum method fewer than Agree operators
	// serve is answered by one provider and labelled trusted, rather than
	// failing every call. nil: enough.
	Operators func(method string) int
	// Attempts is how many providers a proven call tries before giving up (default 3).
	Attempts int
	// MaxLogBlocks bounds the blocks an eth_getLogs call verifies; beyond
	// it the call falls back to quorum and the report says so (default 64).
	MaxLogBlocks int
	// FallbackToQuorum lets a proof-policy call be settled by quorum when
	// the proof failed for a reason other than a lie: no trusted header (no
	// agreed head, beyond the walk limit) or no provider able to prove
	// (eth_getProof not served, state pruned). Off by default: colluding
	// providers could then answer a proven method, so the client gets an
	// error instead. Calls that can never be proven (the pending block, a
	// transaction's absence, log ranges beyond MaxLogBlocks) always use quorum.
	FallbackToQuorum bool
	// ProofCache is how many proven accounts are kept by state root, so
	// that reads of one account at one block are proven once (0: none).
	ProofCache int
	// BlockCache is how many verified blocks are kept as their
	// hashes-only answer, by block hash, so that eth_getBlockByNumber(…,
	// false) of a block verified once fetches nothing upstream (0: none).
	BlockCache int
	// FullBlockCache is how many verified full blocks, with their
	// verified receipts once asked for, are kept by block hash, so that
	// receipts, transactions, full blocks and logs of one block are
	// fetched and verified once; FullBlockCacheBytes bounds the bytes of
	// the answers they were verified from (either 0: none kept). Concurrent
	// fetches of one block or its receipts are shared either way.
	FullBlockCache      int
	FullBlockCacheBytes int64
	// CheckPlain also asks the provider that gave a verified proof the
	// client's own method (eth_getBalance, ...) and records a lie there as
	// evidence; it costs one more upstream call per state read.
	CheckPlain bool
	// OperatorOf names a provider's operator, for the report of a
	// trusted answer (nil: the provider's name is reported).
	OperatorOf func(provider string) string
	// Latest returns the agreed head number, to refuse an eth_getLogs
	// range past it. Block tags are resolved by the block-tag stage
	// (pipeline.Call.Ref, Call.Range), never here.
	Latest func() (uint64, bool)
}

// Verifier is the verification stage. Build it with New or Stage.
type Verifier struct {
	next     pipeline.Handler
	o        Options
	policies map[string]Policy
	accounts *lru.Cache[accountKey, provenAccount] // nil: no cache
	// hashes remembers trusted headers' hashes: the trust source hands out
	// the same *types.Header for a block, and recomputing its hash (RLP and
	// keccak) for every proven read was 3 % of its CPU.
	hashes *lru.Cache[*types.Header, common.Hash]
	// blocks are verified blocks' hashes-only answers by block hash (nil: none).
	blocks *lru.Cache[common.Hash, provenBlock]
	// verified are verified full blocks and receipts by block hash.
	verified *verifiedCache
	// agreed reports whether the trust source trusted a header by
	// operator agreement (nil: it never does).
	agreed func(*types.Header) bool
}

// agreedBy is t's check of a header trusted by operator agreement, or nil.
func agreedBy(t verify.TrustSource) func(*types.Header) bool {
	if a, ok := t.(interface{ ByAgreement(*types.Header) bool }); ok {
		return a.ByAgreement
	}
	return nil
}

// provenBlock is a verified block's hashes-only answer and whose it was.
type provenBlock struct {
	json     json.RawMessage
	operator string
}

// headerHashes is how many header hashes a Verifier remembers.
const headerHashes = 256

// headerHash returns h's hash.
func (v *Verifier) headerHash(h *types.Header) common.Hash {
	if hash, ok := v.hashes.Get(h); ok {
		return hash
	}
	hash := h.Hash()
	v.hashes.Add(h, hash)
	return hash
}

// Stage returns the verification stage for the pipeline.
func Stage(o Options) pipeline.Stage {
	return func(next pipeline.Handler) pipeline.Handler { return New(next, o) }
}

// New builds the stage in front of next, filling defaults.
func New(next pipeline.Handler, o Options) *Verifier {
	if o.ChainConfig == nil {
		o.ChainConfig = verify.ChainConfigFor(1)
	}
	if o.DefaultPolicy == "" {
		o.DefaultPolicy = Quorum
	}
	o.Quorum = max(o.Quorum, 2)
	if o.Agree <= 0 || o.Agree > o.Quorum {
		o.Agree = o.Quorum
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	o.FeeQuorum = max(o.FeeQuorum, 3)
	if o.MaxLogBlocks <= 0 {
		o.MaxLogBlocks = 64
	}
	pol := DefaultPolicies()
	for m, p := range o.Policies {
		pol[m] = p
	}
	v := &Verifier{next: next, o: o, policies: pol, agreed: agreedBy(o.Trust), hashes: lru.NewCache[*types.Header, common.Hash](headerHashes),
		verified: newVerifiedCache(o.FullBlockCache, o.FullBlockCacheBytes)}
	if o.ProofCache > 0 {
		v.accounts = lru.NewCache[accountKey, provenAccount](o.ProofCache)
	}
	if o.BlockCache > 0 {
		v.blocks = lru.NewCache[common.Hash, provenBlock](o.BlockCache)
	}
	return v
}

// Policy returns the policy for method. A write (other than those the
// broadcast stage handles) goes to one provider whatever the
// configuration says: fanning it out for a quorum would send it twice.
func (v *Verifier) Policy(method string) Policy {
	p, _ := v.policy(method)
	return p
}

// policy is Policy, and why a quorum method takes one provider's word:
// fewer operators than Agree can serve it (Options.Operators), as the
// providers are now.
func (v *Verifier) policy(method string) (Policy, string) {
	if ethmethod.Lookup(method).Kind == ethmethod.Write {
		return TrustOne, ""
	}
	p, ok := v.policies[method]
	if !ok {
		p = v.o.DefaultPolicy
	}
	if p == Quorum && v.o.Operators != nil {
		if n := v.o.Operators(method); n < v.o.Agree {
			return TrustOne, servedBy(n, method)
		}
	}
	return p, ""
}

// Handle answers a wave's calls, each by its method's policy (see wave):
// the trusted ones passed on together (one upstream batch), the proven
// state reads asked together (one upstream batch of eth_getProof), the
// others verified at once, each on a goroutine of its own (a wave is at
// most limits.batch_concurrency calls). Every call gets a Report.
func (v *Verifier) Handle(ctx context.Context, wave []*pipeline.Call) {
	for _, c := range wave {
		c.Report = &pipeline.Report{}
	}
	w := v.newWave(ctx, wave)
	var proofs sync.WaitGroup
	if len(w.reads) > 0 {
		proofs.Go(w.prove)
	}
	pipeline.HandleWave(ctx, wave, v.next, w.way, v)
	for _, c := range wave {
		if note, ok := w.trusted[c]; ok && c.Err == nil {
			op := c.Provider
			if v.o.OperatorOf != nil {
				op = v.o.OperatorOf(c.Provider)
			}
			c.Report.Set(pipeline.ClassTrusted, note, op)
			v.answered(c, pipeline.ClassTrusted)
		}
	}
	proofs.Wait()
}

// servedBy says how many operators serve method, when too few for a quorum.
func servedBy(n int, method string) string {
	if n == 1 {
		return "1 operator serves " + method
	}
	return fmt.Sprintf("%d operators serve %s", n, method)
}

// trusts reports whether method's policy takes one provider's word, and
// why when it is a quorum method with too few operators.
func (v *Verifier) trusts(method string) (bool, string) {
	p, note := v.policy(method)
	return p != Proof && p != Quorum, note
}

// Run answers c by proof or quorum (Handle runs it alone).
func (v *Verifier) Run(ctx context.Context, c *pipeline.Call) {
	var (
		res   json.RawMessage
		class pipeline.Class
		err   error
	)
	if v.Policy(c.Method) == Proof {
		res, class, err = v.prove(ctx, c)
	} else {
		res, class, err = v.quorum(ctx, c, "")
	}
	v.finish(c, res, class, err)
}

// finish answers c, established as class, and counts it.
func (v *Verifier) finish(c *pipeline.Call, res json.RawMessage, class pipeline.Class, err error) {
	if err != nil {
		c.Answer(nil, err)
		return
	}
	v.answered(c, class)
	c.Answer(res, nil)
}

// answered counts c's answer, established as class.
func (v *Verifier) answered(c *pipeline.Call, class pipeline.Class) {
	if v.o.Observer != nil {
		v.o.Observer.Answered(v.o.Chain, c.Method, class)
	}
}

// prove dispatches the proven methods; a call that cannot be proven (a
// pending block, an unknown method) falls back to quorum.
func (v *Verifier) prove(ctx context.Context, c *pipeline.Call) (json.RawMessage, pipeline.Class, error) {
	var (
		res json.RawMessage
		err error
	)
	switch c.Method {
	case "eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt", "eth_getProof":
		res, err = v.state(ctx, c)
	case "eth_getBlockByNumber", "eth_getBlockByHash":
		res, err = v.block(ctx, c)
	case "eth_getBlockReceipts":
		res, err = v.blockReceipts(ctx, c)
	case "eth_getTransactionReceipt", "eth_getTransactionByHash":
		res, err = v.transaction(ctx, c)
	case "eth_getLogs":
		res, err = v.logs(ctx, c)
	default:
		err = fmt.Errorf("no proof for %s: %w", c.Method, verify.ErrUnverifiable)
	}
	return v.proven(ctx, c, res, err)
}

// proven finishes a proof-policy call: a *fallback is settled by quorum,
// anything else is the answer and how it was established.
func (v *Verifier) proven(ctx context.Context, c *pipeline.Call, res json.RawMessage, err error) (json.RawMessage, pipeline.Class, error) {
	var fb *fallback
	if errors.As(err, &fb) {
		return v.quorum(ctx, c, fb.why)
	}
	if r := c.Report; r != nil && r.Class() != "" {
		return res, r.Class(), err // e.g. a null settled by operators, not a proof
	}
	return res, pipeline.ClassProof, err
}

// fallback asks prove to answer by quorum instead, saying why.
type fallback struct{ why string }

func (f *fallback) Error() string { return "fall back to quorum: " + f.why }

// reject records a provider's answer that failed verification: evidence,
// penalty, metrics.
func (v *Verifier) reject(method string, params json.RawMessage, a Answer, err error) {
	v.o.reject(method, params, a, err)
}

// reject records a failed answer with the options' evidence log, asker and observer.
func (o *Options) reject(method string, params json.RawMessage, a Answer, err error) {
	kind := verify.Kind(err)
	if o.Evidence != nil {
		e := verify.NewEvidence(a.Provider, method, params, a.Value, err)
		e.Chain, e.Operator = o.Chain, a.Operator
		o.Evidence.Record(e)
	}
	if o.Asker != nil {
		o.Asker.Penalise(a.Provider, kind)
	}
	if o.Observer != nil {
		o.Observer.Rejected(o.Chain, a.Provider, method, kind)
	}
}

// unverified is the client's error when no answer could be verified: a
// message in plain words, and data naming the method, how many providers
// were tried, the reason (the kind of the last failure) and its detail.
func unverified(method string, tried int, last error) *jsonrpc.Error {
	reason := verify.Kind(last)
	switch {
	case reason != "":
	case isNodeAnswer(last):
		reason = "node_error" // e.g. state a provider no longer keeps
	default:
		reason = "no_answer"
	}
	data, _ := json.Marshal(map[string]any{"method": method, "providersTried": tried, "reason": reason, "detail": errString(last)})
	return &jsonrpc.Error{
		Code:    CodeUnverified,
		Message: fmt.Sprintf("%s: %s", subject(method), why(last)),
		Data:    data,
	}
}

// subject opens an unverified message.
func subject(method string) string {
	if method == "" {
		return "the answer could not be verified"
	}
	return "the answer to " + method + " could not be verified"
}

// why says in plain words why no answer could be verified.
func why(err error) string {
	switch {
	case err == nil:
		return "no provider answered"
	case errors.Is(err, verify.ErrNoTrust):
		return "the block could not be linked to the head the providers agree on, nor its header agreed by enough operators"
	case verify.IsLie(err):
		return "the providers' answers did not match the proven data"
	}
	return "no provider gave an answer that could be checked"
}

func errString(err error) string {
	if err == nil {
		return "no provider answered"
	}
	return err.Error()
}

// isLie reports whether err is a verification failure (the provider's
// fault), as opposed to a transport error, absence or missing trust.
func isLie(err error) bool { return verify.IsLie(err) }
