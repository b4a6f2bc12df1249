package config

import "time"

// Incidents tunes incident detection (docs/incidents.md): how often each
// chain is evaluated, how long a condition must hold before it is an
// incident and be clear before it ends, how many ended incidents are kept,
// and when an answer counts as slowed.
type Incidents struct {
	EvaluateInterval Duration `yaml:"evaluate_interval"` // 1s between evaluations of each chain
	OpenAfter        Duration `yaml:"open_after"`        // 10s a condition must hold to open an incident
	CloseAfter       Duration `yaml:"close_after"`       // 60s it must be clear to end one
	Keep             int      `yaml:"keep"`              // 200 ended incidents kept (and shown)
	SlowAnswer       Duration `yaml:"slow_answer"`       // 2s: an answer slower counts as slowed
	// FrozenBlocks is how many block times the agreed head may stand
	// before the head counts as frozen (a provider is ahead) or the chain
	// as halted (none is): 3. Answers then carry X-Rpcmesh-Stale.
	FrozenBlocks float64 `yaml:"frozen_blocks"`
}

// maxKeptIncidents bounds incidents.keep: each is a store record and part
// of every status snapshot.
const maxKeptIncidents = 10000

// DefaultIncidents returns the default incident settings.
func DefaultIncidents() Incidents {
	return Incidents{
		EvaluateInterval: Duration(time.Second),
		OpenAfter:        Duration(10 * time.Second),
		CloseAfter:       Duration(60 * time.Second),
		Keep:             200,
		SlowAnswer:       Duration(2 * time.Second),
		FrozenBlocks:     3,
	}
}

// StorePath is the embedded store's file: store, or broadcast.store when
// only that is set (its older name); "" keeps everything in memory.
func (c *Config) StorePath() string {
	if c.Store != "" {
		return c.Store
	}
	return c.Broadcast.Store
}

func (v *validator) incidents(c *Config) {
	in := &c.Incidents
	v.positive("incidents.evaluate_interval", in.EvaluateInterval)
	v.positive("incidents.open_after", in.OpenAfter)
	v.positive("incidents.close_after", in.CloseAfter)
	v.positive("incidents.slow_answer", in.SlowAnswer)
	if in.Keep < 1 || in.Keep > maxKeptIncidents {
		v.errorf("incidents.keep", "must be between 1 and %d, got %d", maxKeptIncidents, in.Keep)
	}
	if in.FrozenBlocks < 1 {
		v.errorf("incidents.frozen_blocks", "must be at least 1, got %g", in.FrozenBlocks)
	}
	if c.Store != "" && c.Broadcast.Store != "" && c.Store != c.Broadcast.Store {
		v.errorf("broadcast.store", "is %s but store is %s: the gateway keeps one store; set only store",
			v.show("broadcast.store", c.Broadcast.Store), v.show("store", c.Store))
	}
}
