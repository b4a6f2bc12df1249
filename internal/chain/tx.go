package chain

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
	"github.com/rpcmesh/rpcmesh/internal/txwatch"
)

// newTxWatch builds a chain's transaction broadcaster and inclusion watch
// over its providers and agreed head.
func newTxWatch(cfg *config.Config, ch *config.Chain, c *Chain, m *txwatch.Metrics, logger *slog.Logger) (*txbroadcast.Broadcaster, *txwatch.Watcher) {
	b := txbroadcast.New(cfg.Broadcast.Fanout, cfg.Health.ProviderTimeout.D(), logger.With("chain", ch.Name))
	w := txwatch.New(txwatch.Options{
		Chain:     ch.Name,
		Config:    cfg.Broadcast,
		Agreement: ch.HeadAgreement,
		Head: func() (uint64, bool) {
			h, ok := c.head.Latest()
			return h.Number, ok
		},
		Rank: func(penalty func(string) int) []txbroadcast.Target {
			return txbroadcast.Ranked(c.admitted(), penalty) // no write goes to a provider not admitted
		},
		Penalise: func(provider, reason string) {
			for _, p := range c.providers() {
				if p.Name() == provider {
					p.Penalise(reason)
				}
			}
		},
		Broadcaster: b,
		Metrics:     m,
		Logger:      logger,
	})
	if ch.EffectiveVerify(cfg.Verify).Enabled {
		w.SetReceipt(c.provenReceipt)
	}
	return b, w
}

// Transactions is one chain in the admin listener's /transactions: the
// watched count, the censorship counts per provider and their evidence.
type Transactions struct {
	Name       string             `json:"name"`
	Pending    int                `json:"pending"`
	Censorship map[string]int     `json:"censorship"`
	Evidence   []txwatch.Evidence `json:"evidence"`
}

// Transactions reports the chain's transaction watch.
func (c *Chain) Transactions() Transactions {
	ev, counts := c.watch.Evidence()
	return Transactions{Name: c.cfg.Name, Pending: c.watch.Pending(), Censorship: counts, Evidence: ev}
}

// BroadcastOrder names the chain's providers in the order a transaction
// broadcast would choose them now.
func (c *Chain) BroadcastOrder() []string {
	var out []string
	for _, t := range c.watch.Ranked() {
		out = append(out, t.Name())
	}
	return out
}

// provenReceipt looks a receipt up through the chain's pipeline, where the
// verification stage proves it against the block's receiptsRoot; nil when
// the chain does not verify (inclusion is then agreed by operators alone).
func (c *Chain) provenReceipt(ctx context.Context, hash string) (uint64, string, error) {
	params, _ := json.Marshal([]string{hash})
	res, err := pipeline.Do(ctx, c.pipeline, pipeline.NewCall("eth_getTransactionReceipt", params))
	if err != nil {
		return 0, "", err
	}
	var r struct {
		BlockNumber hexutil.Uint64 `json:"blockNumber"`
		BlockHash   string         `json:"blockHash"`
	}
	if err := json.Unmarshal(res, &r); err != nil || r.BlockHash == "" {
		return 0, "", fmt.Errorf("receipt of %s: not found (%s)", hash, res)
	}
	return uint64(r.BlockNumber), r.BlockHash, nil
}
