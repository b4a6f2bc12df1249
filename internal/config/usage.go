package config

import (
	"fmt"
	"regexp"
	"time"
)

// Usage configures metering for rewards (docs/usage.md): per provider and
// epoch, the answers it served, their compute units, the share verified
// correct and audit results, kept in a durable store and summed up at each
// epoch's end in a statement per operator signed by the gateway's key.
type Usage struct {
	// Enabled turns metering on. Default false.
	Enabled bool `yaml:"enabled"`
	// Epoch is the length of a metering epoch; epochs start at multiples
	// of it since the Unix epoch. Default 1h; 1s to 31 days, whole seconds.
	Epoch Duration `yaml:"epoch"`
	// FlushInterval is how often counts kept in memory are written to the
	// store (also at each epoch's end and on shutdown). Default 5s.
	FlushInterval Duration `yaml:"flush_interval"`
	// Store is where usage is kept: "embedded" (the gateway's bbolt file,
	// store, which must then be set) or "postgres". Default
	// "embedded".
	Store string `yaml:"store"`
	// PostgresDSN is the PostgreSQL connection string when store is
	// "postgres" (e.g. "postgres://user:pass@db:5432/rpcmesh"; use ${ENV}
	// for the password).
	PostgresDSN string `yaml:"postgres_dsn"`
	// KeyFile holds the gateway's secp256k1 signing key (hex); created with
	// mode 0600 when absent. Required when enabled.
	KeyFile string `yaml:"key_file"`
	// DefaultUnits are the compute units of a method the table does not
	// name. Default 20.
	DefaultUnits uint64 `yaml:"default_units"`
	// ComputeUnits override the built-in cost table (docs/compute-units.md)
	// per method.
	ComputeUnits []MethodUnits `yaml:"compute_units"`
	// MaxStatements bounds the statements the admin listener lists per
	// request. Default 100.
	MaxStatements int `yaml:"max_statements"`
}

// MethodUnits is one method's cost in compute units.
type MethodUnits struct {
	Method string `yaml:"method"`
	Units  uint64 `yaml:"units"`
}

// Usage store kinds.
const (
	UsageStoreEmbedded = "embedded"
	UsageStorePostgres = "postgres"
)

// DefaultUsage returns the default metering settings (off).
func DefaultUsage() Usage {
	return Usage{
		Epoch:         Duration(time.Hour),
		FlushInterval: Duration(5 * time.Second),
		Store:         UsageStoreEmbedded,
		DefaultUnits:  20,
		MaxStatements: 100,
		ComputeUnits:  []MethodUnits{},
	}
}

// methodName is what a JSON-RPC method name looks like.
var methodName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9]*_[a-zA-Z0-9_]+$`)

func (v *validator) usage(c *Config) {
	u := &c.Usage
	if !u.Enabled {
		return
	}
	v.positive("usage.epoch", u.Epoch)
	if u.Epoch > 0 && (u.Epoch.D() < time.Second || u.Epoch.D() > 31*24*time.Hour || u.Epoch.D()%time.Second != 0) {
		v.errorf("usage.epoch", "must be whole seconds between 1s and 744h, got %s", u.Epoch)
	}
	v.positive("usage.flush_interval", u.FlushInterval)
	if u.FlushInterval > 0 && u.Epoch > 0 && u.FlushInterval > u.Epoch {
		v.errorf("usage.flush_interval", "%s is longer than usage.epoch (%s)", u.FlushInterval, u.Epoch)
	}
	switch u.Store {
	case UsageStoreEmbedded:
		if c.StorePath() == "" {
			v.errorf("usage.store", `"embedded" keeps usage in the gateway's store file: set store (or use "postgres")`)
		}
	case UsageStorePostgres:
		if u.PostgresDSN == "" {
			v.errorf("usage.postgres_dsn", `must be set when usage.store is "postgres"`)
		}
	default:
		v.errorf("usage.store", `must be "embedded" or "postgres", got %s`, v.show("usage.store", u.Store))
	}
	if u.KeyFile == "" {
		v.errorf("usage.key_file", "must name the file of the gateway's signing key (created when absent)")
	}
	v.atLeastOne("usage.default_units", int64(u.DefaultUnits))
	v.atLeastOne("usage.max_statements", int64(u.MaxStatements))
	seen := map[string]bool{}
	for i, m := range u.ComputeUnits {
		path := fmt.Sprintf("usage.compute_units[%d]", i)
		switch {
		case !methodName.MatchString(m.Method):
			v.errorf(path+".method", "must be a JSON-RPC method name such as eth_call, got %s", quote(m.Method))
		case seen[m.Method]:
			v.errorf(path+".method", "%s is listed twice", quote(m.Method))
		}
		seen[m.Method] = true
		if m.Units < 1 || m.Units > 1_000_000 {
			v.errorf(path+".units", "must be between 1 and 1000000, got %d", m.Units)
		}
	}
}
