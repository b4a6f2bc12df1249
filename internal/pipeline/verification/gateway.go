package verification

import (
	"log/slog"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// Gateway is what one chain of the gateway gives the stage.
type Gateway struct {
	Chain    string
	ChainID  uint64
	Config   config.Verify
	Head     *head.Tracker
	Router   *route.Router
	Evidence *verify.EvidenceLog // nil: not kept
	Observer Observer            // nil: not counted
	Logger   *slog.Logger
}

// FromGateway builds the verification stage of one chain from the
// gateway's parts: the agreed head of distinct operators as the trust
// anchor (older headers proven by parent links, fetched through routing),
// the chain's router to ask, and the evidence log the admin listener
// serves.
//
// A chain whose admitted providers have fewer distinct operators than a
// quorum needs answers quorum-policy methods from one provider (reported as
// "trusted", with how many operators serve the method), counted as the
// providers are now, with a warning at start: an error on every eth_call
// would make a small deployment unusable, and the response header says what
// was done.
func FromGateway(g Gateway) pipeline.Stage {
	asker := Routed{Router: g.Router}
	cfg := g.Config
	o := &Options{Chain: g.Chain, ChainConfig: verify.ChainConfigFor(g.ChainID), Asker: asker, Evidence: g.Evidence, Observer: g.Observer,
		Quorum: cfg.Quorum, Agree: cfg.AgreeCount(), Attempts: cfg.Attempts, MaxLogBlocks: cfg.MaxLogBlocks,
		CheckPlain: cfg.CheckPlain, FallbackToQuorum: cfg.FallbackToQuorum, ProofCache: cfg.ProofCache, BlockCache: cfg.BlockCache,
		FullBlockCache: cfg.FullBlockCache, FullBlockCacheBytes: cfg.FullBlockCacheBytes,
		DefaultPolicy: Policy(cfg.DefaultPolicy), Policies: map[string]Policy{}}
	for _, mp := range cfg.Policies {
		for _, m := range mp.Methods {
			o.Policies[m] = Policy(mp.Policy)
		}
	}
	// Counted as the providers are now: a provider added, promoted or
	// removed at run time changes who a quorum can hear (Router.Voters).
	o.Operators = func(method string) int { return g.Router.Voters(ethmethod.Lookup(method)) }
	o.FeeQuorum = cfg.FeeQuorum
	if n := g.Router.Voters(ethmethod.Info{}); n < o.Agree && g.Logger != nil {
		g.Logger.Warn("verification: too few operators for a quorum; quorum-policy methods trust one provider until more are admitted",
			"chain", g.Chain, "operators", n, "quorum_agree", o.Agree)
	}
	onLie := func(a Answer, err error) { o.reject("eth_getBlockByHash", nil, a, err) }
	trust := verify.NewLinkedTrust(AnchorFrom(g.Head), HeaderFetcher(asker, cfg.Attempts, onLie), uint64(cfg.MaxWalkBlocks), cfg.HeaderCache).
		WithMaxWalks(cfg.MaxConcurrentWalks)
	if cfg.AgreeOldHeaders {
		onOldLie := func(a Answer, err error) { o.reject("eth_getBlockByNumber", nil, a, err) }
		trust.WithAgreedHeaders(AgreedHeader(asker, g.Head.Agreement(), cfg.Attempts, onOldLie))
	}
	o.Trust = trust
	o.OperatorOf = func(name string) string {
		if p := g.Router.Provider(name); p != nil {
			return p.Labels().Operator
		}
		return name
	}
	o.Latest = func() (uint64, bool) {
		b, ok := g.Head.Latest()
		return b.Number, ok
	}
	return Stage(*o)
}
