package chain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/rpcmesh/rpcmesh/internal/audit"
	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/store"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// chainAudit is a chain's continuous audit (internal/audit) and what its
// open scores read.
type chainAudit struct {
	auditor  *audit.Auditor // nil: audit off (audit.enabled, or a chain that does not verify)
	results  *audit.Results
	evidence *verify.EvidenceLog
	halfLife time.Duration // health.penalty_half_life
	// keeper is the set's, once Open found a store (nil: none): a
	// provider added at run time reads its penalty back from it.
	keeper atomic.Pointer[audit.Keeper]
}

// auditHeaderCache bounds the headers the audit's own trust source keeps.
const auditHeaderCache = 256

// newAudit builds c's audit: its own trust source over the agreed head
// (headers fetched from the providers directly, not through routing, so
// that the audit adds nothing to route shares), and an auditor when
// audit.enabled and the chain verifies answers.
func newAudit(cfg *config.Config, ch *config.Chain, c *Chain, sh shared, logger *slog.Logger) *chainAudit {
	ca := &chainAudit{results: audit.NewResults(), evidence: sh.evidence, halfLife: cfg.Health.PenaltyHalfLife.D()}
	vf := ch.EffectiveVerify(cfg.Verify)
	if !cfg.Audit.Enabled || !vf.Enabled {
		return ca
	}
	anchor := func() (uint64, common.Hash, bool) {
		b, ok := c.head.Latest()
		if !ok || !common.IsHexHash(b.Hash) {
			return 0, common.Hash{}, false
		}
		return b.Number, common.HexToHash(b.Hash), true
	}
	trust := verify.NewLinkedTrust(anchor, c.directHeader, uint64(vf.MaxWalkBlocks), auditHeaderCache).WithMaxWalks(1)
	ca.auditor = audit.New(audit.Options{
		Chain: ch.Name, Config: cfg.Audit, Providers: c.providers, Trust: trust, // every stage, run-time ones too
		Head: func() (uint64, bool) {
			b, ok := c.head.Latest()
			return b.Number, ok
		},
		Finalized:   c.head.Finalized,
		ChainConfig: verify.ChainConfigFor(ch.ChainID),
		Evidence:    sh.evidence, Results: ca.results,
		Rejected: func(provider, method, kind string) { sh.verify.Rejected(ch.Name, provider, method, kind) },
		Audited:  func(provider string, passed bool) { sh.usage.audited(c, provider, passed) },
		Sent:     sentTxs{c.watch}, // the propagation check (audit_tx.go)
		Logger:   logger,
	})
	return ca
}

// directHeader fetches the block with hash from the chain's providers
// directly, the best tiers first, until one gives a block that hashes to
// it (verify.LinkedTrust checks it again); null from every one asked is
// verify.ErrNotFound.
func (c *Chain) directHeader(ctx context.Context, hash common.Hash, _ uint64) (json.RawMessage, error) {
	now := time.Now()
	all := c.providers()
	ps := make([]*upstream.Provider, 0, len(all))
	for _, p := range all {
		if s := p.RouteSnapshot(now); s.Usable() {
			ps = append(ps, p)
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Tier() < ps[j].Tier() })
	params := verify.Params(hash, false)
	nulls, asked := 0, 0
	var last error
	for _, p := range ps {
		if asked == 3 {
			break
		}
		asked++
		raw, err := p.AuditCall(ctx, "eth_getBlockByHash", params)
		switch {
		case err != nil:
			last = err
		case string(raw) == "null":
			nulls++
		default:
			if _, err := verify.VerifyHeader(raw, hash); err != nil {
				last = err
				continue
			}
			return raw, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if asked > 0 && nulls == asked {
		return nil, fmt.Errorf("block %s: %w", hash.Hex(), verify.ErrNotFound)
	}
	return nil, errors.Join(fmt.Errorf("no provider gave header %s", hash.Hex()), last)
}

// Scores are the chain's open scores (audit.ChainScores) at now.
func (c *Chain) Scores(now time.Time) audit.ChainScores {
	cs := audit.ChainScores{Name: c.cfg.Name, Providers: []audit.ProviderScore{}}
	byProvider := map[string][]verify.Evidence{}
	for _, e := range c.audit.evidence.Recent(0) {
		if e.Chain == c.cfg.Name {
			byProvider[e.Provider] = append(byProvider[e.Provider], e)
		}
	}
	censored := map[string][]string{}
	txEvidence, _ := c.watch.Evidence()
	for _, e := range txEvidence {
		censored[e.Provider] = append(censored[e.Provider], e.Hash)
	}
	for _, v := range c.views(now, c.providers()) {
		p, s := v.p, v.snap
		cs.Providers = append(cs.Providers, audit.BuildScore(audit.ScoreInputs{
			Snapshot: s, State: string(v.state), Score: route.Score(&s, 50*time.Millisecond), Lag: v.lag,
			Penalties: p.Penalties(), HalfLife: c.audit.halfLife, Evidence: byProvider[p.Name()],
			Censored: censored[p.Name()], Audit: c.audit.results.Summary(p.Name(), now),
		}))
	}
	return cs
}

// kept is what the embedded store keeps of the chain (audit.Keeper).
func (c *Chain) kept() audit.KeptChain {
	return audit.KeptChain{Name: c.cfg.Name, Providers: c.providers, Results: c.audit.results}
}

// Scores are every chain's open scores at now: GET /scores.json.
func (s *Set) Scores(now time.Time) audit.Scores {
	out := audit.Scores{Generated: now.UTC(), Chains: []audit.ChainScores{}}
	for _, c := range s.chains {
		out.Chains = append(out.Chains, c.Scores(now))
	}
	return out
}

// openKeeper reads penalties, evidence and audit results back from db and
// keeps them there from now on.
func (s *Set) openKeeper(db *store.DB) error {
	chains := make([]audit.KeptChain, 0, len(s.chains))
	for _, c := range s.chains {
		chains = append(chains, c.kept())
	}
	k, err := audit.Restore(db, s.evidence, chains, s.logger)
	if err != nil {
		return err
	}
	s.keeper = k
	for _, c := range s.chains {
		c.audit.keeper.Store(k)
	}
	return nil
}
