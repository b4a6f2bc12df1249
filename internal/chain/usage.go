package chain

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/metrics"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/store"
	"github.com/rpcmesh/rpcmesh/internal/usage"
)

// metering is usage metering for rewards (internal/usage, usage.* in the
// config), shared by the chains of a Set: built by NewSet, its store and
// meter opened by Set.Open, run by Set.Run. A nil *metering is metering
// off; every method is then a no-op.
type metering struct {
	cfg    config.Usage
	logger *slog.Logger
	meter  atomic.Pointer[usage.Meter] // set by open; nil until then
	pg     *usage.Postgres             // the PostgreSQL store, when used
}

// newMetering returns the metering of cfg, nil when it is off.
func newMetering(cfg *config.Config, logger *slog.Logger) *metering {
	if !cfg.Usage.Enabled {
		return nil
	}
	return &metering{cfg: cfg.Usage, logger: logger.With("part", "usage")}
}

// open loads (or creates) the signing key and opens the usage store: db
// (the gateway's embedded store) or PostgreSQL.
func (u *metering) open(db *store.DB) error {
	if u == nil {
		return nil
	}
	signer, err := usage.LoadOrCreateKey(u.cfg.KeyFile)
	if err != nil {
		return err
	}
	var st usage.Store
	if u.cfg.Store == config.UsageStorePostgres {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if u.pg, err = usage.OpenPostgres(ctx, u.cfg.PostgresDSN); err != nil {
			return err
		}
		st = u.pg
	} else {
		if db == nil {
			return fmt.Errorf("usage.store embedded: store (the gateway's store file) is not set")
		}
		st = usage.NewEmbedded(db)
	}
	overrides := make(map[string]uint64, len(u.cfg.ComputeUnits))
	for _, mu := range u.cfg.ComputeUnits {
		overrides[mu.Method] = mu.Units
	}
	m, err := usage.New(usage.Options{Store: st, Signer: signer, Costs: usage.NewCosts(overrides, u.cfg.DefaultUnits),
		Epoch: u.cfg.Epoch.D(), FlushInterval: u.cfg.FlushInterval.D(), MaxStatements: u.cfg.MaxStatements, Logger: u.logger})
	if err != nil {
		u.close()
		return err
	}
	u.meter.Store(m)
	u.logger.Info("usage metering on", "store", u.cfg.Store, "epoch", u.cfg.Epoch, "signer", signer.Address().Hex())
	return nil
}

// run runs the meter (flushes, epoch statements) until ctx ends, then
// flushes what is left.
func (u *metering) run(ctx context.Context) {
	if u == nil {
		return
	}
	if m := u.meter.Load(); m != nil {
		m.Run(ctx)
	}
}

// close closes the PostgreSQL pool, if any. Call it after run returned.
func (u *metering) close() {
	if u != nil && u.pg != nil {
		u.pg.Close()
		u.pg = nil
	}
}

// observer is the router's Observer for chain ch: the metrics, and with
// metering on the served answers too.
func (sh shared) observer(ch *config.Chain, operator func(provider string) string) route.Observer {
	if sh.usage == nil {
		return sh.metrics
	}
	return meteredObserver{Metrics: sh.metrics, u: sh.usage, operator: operator}
}

// operatorOf is the operator label of the chain's provider named name, as
// the provider (and the status) names it: providers added at run time
// included; "" when unknown.
func (c *Chain) operatorOf(name string) string {
	if p := c.router.Provider(name); p != nil {
		return p.Labels().Operator
	}
	return ""
}

// meteredObserver counts every attempt in the metrics and every served
// answer (route.ServedObserver) in the meter.
type meteredObserver struct {
	*metrics.Metrics
	u        *metering
	operator func(provider string) string
}

// Served counts provider's answer in the meter.
func (o meteredObserver) Served(chain, provider, method string) {
	if m := o.u.meter.Load(); m != nil {
		m.Served(chain, provider, o.operator(provider), method)
	}
}

// metered wraps the chain's pipeline so that an answer verification
// established (proof or quorum) counts as verified for the provider that
// gave it.
func (sh shared) metered(ch *config.Chain, operator func(provider string) string, next pipeline.Handler) pipeline.Handler {
	if sh.usage == nil {
		return next
	}
	return pipeline.HandlerFunc(func(ctx context.Context, wave []*pipeline.Call) {
		next.Handle(ctx, wave)
		m := sh.usage.meter.Load()
		if m == nil {
			return
		}
		for _, c := range wave {
			if c.Err != nil || c.Provider == "" || c.Report == nil {
				continue
			}
			if cl := c.Report.Class(); cl == pipeline.ClassProof || cl == pipeline.ClassQuorum {
				m.Verified(ch.Name, c.Provider, operator(c.Provider))
			}
		}
	})
}

// Usage serves the signed usage statements (the admin listener's
// /usage/statements); 404 when metering is off.
func (s *Set) Usage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m *usage.Meter
		if s.usage != nil {
			m = s.usage.meter.Load()
		}
		if m == nil {
			http.Error(w, "usage metering is off (usage.enabled in the config)", http.StatusNotFound)
			return
		}
		m.Handler().ServeHTTP(w, r)
	})
}

// audited counts one audit of provider on chain c in its usage record,
// passed or failed (the continuous audit tells it); nothing when metering
// is off or the provider is unknown.
func (m *metering) audited(c *Chain, provider string, passed bool) {
	if m == nil {
		return
	}
	mt := m.meter.Load()
	if mt == nil {
		return
	}
	if p := c.router.Provider(provider); p != nil {
		mt.Audit(c.cfg.Name, provider, p.Labels().Operator, passed)
	}
}
