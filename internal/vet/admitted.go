package vet

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/verification"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// admitted is the reference a candidate is judged against: the providers
// of the chain in the config (the operators already admitted), run as the
// gateway runs them. Their health loops feed an agreed head (internal/head,
// head_agreement distinct operators), their router answers the reference
// calls, and headers are trusted as the verification stage trusts them: the
// agreed head, headers linked to it, and older ones operators agree on.
type admitted struct {
	head      *head.Tracker
	providers []*upstream.Provider
	asker     verification.Routed
	trust     *verify.LinkedTrust
	names     []string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// maxTrustWalk bounds how far below the agreed head a header is trusted by
// its parent-hash links.
const maxTrustWalk = 64

// startAdmitted builds and runs the chain's providers, leaving out one
// whose URL is the candidate's (vetting a provider already in the config).
func startAdmitted(cfg *config.Config, ch *config.Chain, candidate string, logger *slog.Logger) (*admitted, error) {
	a := &admitted{head: head.New(head.Options{Agreement: ch.HeadAgreement, FinalityDepth: ch.FinalityDepth, Logger: logger})}
	for _, pc := range ch.Providers {
		if sameURL(pc.HTTP, candidate) {
			continue
		}
		a.providers = append(a.providers, upstream.New(upstream.Options{
			Chain: ch.Name, ChainID: ch.ChainID, Provider: pc, Health: cfg.Health,
			MaxResponseBytes: cfg.Limits.MaxResponseBytes, Logger: logger, BlockTime: a.head.BlockTime,
			CheckHeaderHash: true,
			OnHead: func(p *upstream.Provider, b head.Block) {
				a.head.Observe(p.Name(), p.Labels().Operator, b)
			},
			OnTag: func(p *upstream.Provider, tag string, n uint64) { a.head.ObserveTag(p.Labels().Operator, tag, n) },
		}))
		a.names = append(a.names, pc.Name)
	}
	operators := map[string]bool{}
	for _, p := range a.providers {
		operators[p.Labels().Operator] = true
	}
	if len(operators) < a.head.Agreement() {
		return nil, fmt.Errorf("chain %q has %d admitted operators besides the candidate (%s), and head_agreement needs %d to agree on a head",
			ch.Name, len(operators), strings.Join(a.names, ", "), a.head.Agreement())
	}
	router := route.New(route.Options{Chain: ch.Name, Routing: ch.EffectiveRouting(cfg.Routing), MaxLagBlocks: ch.LagLimit(cfg.Health),
		ProviderTimeout: cfg.Health.ProviderTimeout.D(), Providers: a.providers, Head: a.head})
	a.asker = verification.Routed{Router: router}
	vc := ch.EffectiveVerify(cfg.Verify)
	// A sample spread over a thousand blocks would cost a header fetch per
	// block walked: beyond maxTrustWalk, headers are trusted by operator
	// agreement instead (head_agreement calls each), as the gateway trusts
	// blocks beyond max_walk_blocks.
	a.trust = verify.NewLinkedTrust(verification.AnchorFrom(a.head), verification.HeaderFetcher(a.asker, vc.Attempts, nil),
		uint64(min(vc.MaxWalkBlocks, maxTrustWalk)), vc.HeaderCache).WithMaxWalks(vc.MaxConcurrentWalks).
		WithAgreedHeaders(verification.AgreedHeader(a.asker, a.head.Agreement(), vc.Attempts, nil))
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	for _, p := range a.providers {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			p.Run(ctx)
		}()
	}
	return a, nil
}

// close stops the health loops and closes the providers' connections.
func (a *admitted) close() {
	a.cancel()
	a.wg.Wait()
	for _, p := range a.providers {
		p.Close()
	}
}

// waitHead waits (bounded by ctx) for the admitted operators to agree on
// a head.
func (a *admitted) waitHead(ctx context.Context) (head.Block, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, ok := a.head.Latest(); ok {
			return b, nil
		}
		select {
		case <-ctx.Done():
			return head.Block{}, fmt.Errorf("the admitted operators (%s) agreed on no head (%d must agree): %w",
				strings.Join(a.names, ", "), a.head.Agreement(), ctx.Err())
		case <-tick.C:
		}
	}
}

// latest is the agreed head now.
func (a *admitted) latest() uint64 {
	b, _ := a.head.Latest()
	return b.Number
}

// header is the trusted header at number.
func (a *admitted) header(ctx context.Context, number uint64) (*types.Header, error) {
	return a.trust.HeaderByNumber(ctx, number)
}

// call asks the admitted operators, through their router (retries, other
// operators): a verify.Caller whose answers the caller still checks.
func (a *admitted) call(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	ans := a.asker.Ask(ctx, verification.Request{Method: method, Params: params}, nil)
	if ans.Err != nil {
		return nil, fmt.Errorf("admitted operators: %s: %w", method, ans.Err)
	}
	return ans.Value, nil
}

// sameURL compares two endpoint URLs, ignoring a trailing slash and case.
func sameURL(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "/")) }
	return a != "" && norm(a) == norm(b)
}
