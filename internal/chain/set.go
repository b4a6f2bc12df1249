package chain

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/admission"
	"github.com/rpcmesh/rpcmesh/internal/audit"
	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/incident"
	"github.com/rpcmesh/rpcmesh/internal/metrics"
	"github.com/rpcmesh/rpcmesh/internal/pause"
	"github.com/rpcmesh/rpcmesh/internal/store"
	"github.com/rpcmesh/rpcmesh/internal/txwatch"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// Set is every chain a gateway serves, with what they share: the log of
// answers that failed verification (on every chain), the incident
// detector and the embedded store (store, or broadcast.store).
type Set struct {
	chains    []*Chain
	evidence  *verify.EvidenceLog
	incidents *incident.Detector
	every     time.Duration // incidents.evaluate_interval
	storePath string
	db        *store.DB      // the embedded store, open between Open and Close
	usage     *metering      // usage metering (usage.go); nil when off
	keeper    *audit.Keeper  // penalties, evidence and audit results in db (audit.go)
	admission *admission.Log // provider stage transitions (admission.go)
	logger    *slog.Logger
}

// NewSet builds every chain of cfg, their metrics registered with m and
// their logs to logger (nil: none). It does no I/O and starts nothing (see
// Open and Run).
func NewSet(cfg *config.Config, m *metrics.Metrics, logger *slog.Logger) *Set {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	in := cfg.Incidents
	// Without a store New reads nothing and cannot fail; Open attaches it.
	det, _ := incident.New(incident.Options{OpenAfter: in.OpenAfter.D(), CloseAfter: in.CloseAfter.D(), Keep: in.Keep,
		FrozenBlocks: in.FrozenBlocks, SlowAfter: in.SlowAnswer.D(), Logger: logger})
	s := &Set{evidence: verify.NewEvidenceLog(cfg.Verify.Evidence), storePath: cfg.StorePath(), incidents: det,
		every: in.EvaluateInterval.D(), usage: newMetering(cfg, logger), logger: logger,
		admission: admission.NewLog(cfg.Admission.MaxTransitions)}
	sh := shared{metrics: m, tx: txwatch.NewMetrics(m), verify: metrics.NewVerify(m), evidence: s.evidence,
		incidents: det, usage: s.usage, admission: s.admission}
	for i := range cfg.Chains {
		s.chains = append(s.chains, newChain(cfg, &cfg.Chains[i], sh, logger))
	}
	return s
}

// Chains are the served chains, in the config's order.
func (s *Set) Chains() []*Chain { return s.chains }

// Evidence serves the answers that failed verification, newest first
// (?limit=N), as JSON: the admin listener's /verify/evidence.
func (s *Set) Evidence() http.Handler { return s.evidence }

// Open opens the store, when set, and hands it to every chain's watch
// and to the incident detector, so that tracked transactions and
// incidents survive a restart, and to the audit's keeper (audit.go), which
// reads providers' penalties, the evidence log and audit results back so
// that a restart does not launder a liar; with usage metering on, it opens
// the meter's store and key (usage.go).
func (s *Set) Open() error {
	if s.storePath == "" {
		return s.usage.open(nil)
	}
	db, err := store.Open(s.storePath)
	if err != nil {
		return err
	}
	if err := s.incidents.Attach(db); err != nil {
		db.Close()
		return err
	}
	st := txwatch.NewStore(db)
	for _, c := range s.chains {
		if err := c.watch.SetStore(st); err != nil {
			db.Close()
			return err
		}
	}
	if err := s.openKeeper(db); err != nil {
		db.Close()
		return err
	}
	s.db = db
	if err := s.admission.Open(db); err != nil {
		db.Close()
		s.db = nil
		return err
	}
	if err := s.usage.open(db); err != nil {
		db.Close()
		s.db = nil
		return err
	}
	return nil
}

// Run runs every chain (see Chain.Run) and the incident evaluation until
// ctx ends, and returns when all stopped.
func (s *Set) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { s.usage.run(ctx) })
	wg.Go(func() { s.evaluate(ctx) })
	for _, c := range s.chains {
		wg.Go(func() { c.Run(ctx) })
	}
	if s.keeper != nil {
		wg.Go(func() { s.keeper.Run(ctx) })
	}
	wg.Wait()
}

// evaluate hands every chain's observation to the incident detector every
// incidents.evaluate_interval until ctx ends.
func (s *Set) evaluate(ctx context.Context) {
	every := s.every
	if every <= 0 {
		every = time.Second
	}
	pause.Every(ctx, every, func() {
		now := time.Now()
		for _, c := range s.chains {
			s.incidents.Evaluate(c.observe(now))
		}
	})
}

// Close waits for broadcasts still running and closes the store. Call it
// after Run returned.
func (s *Set) Close() error {
	for _, c := range s.chains {
		c.Close()
	}
	s.usage.close()
	if s.db == nil {
		return nil
	}
	if s.keeper != nil {
		if err := s.keeper.Flush(); err != nil {
			s.logger.Error("audit: store write failed", "err", err)
		}
	}
	err := s.db.Close()
	s.db = nil
	return err
}
