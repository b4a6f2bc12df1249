package config

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Admission configures provider stages (candidate → probation →
// admitted) and the admin API that adds and removes providers at run time
// (docs/admission.md).
type Admission struct {
	// Token is the bearer token the admin listener's mutating provider
	// routes (POST /providers, DELETE /providers/{chain}/{name}) require;
	// use ${ENV} to keep it out of the file. Empty: those routes are off.
	Token string `yaml:"token"`
	// ProbationShare caps each probation provider's share of its chain's
	// upstream attempts over routing.share_window. Default 0.05; above 0
	// and at most 0.5.
	ProbationShare float64 `yaml:"probation_share"`
	// PromoteAfter is how long a provider stays on probation at least.
	// Default 1h.
	PromoteAfter Duration `yaml:"promote_after"`
	// PromoteAnswers is how many of its answers must have been verified
	// (proof) before promotion. Default 1000.
	PromoteAnswers int `yaml:"promote_answers"`
	// MinAvailability is the share of the checks (every check_interval)
	// over AvailabilityWindow at which a provider must have been up:
	// usable (breaker closed, chain ID confirmed) and not degraded (error
	// or throttle rate high). Below it, a provider on probation goes back
	// to candidate. Default 0.9.
	MinAvailability float64 `yaml:"min_availability"`
	// AvailabilityWindow is the window availability is measured over; a
	// provider is judged once it has been checked for a whole window.
	// Default 5m.
	AvailabilityWindow Duration `yaml:"availability_window"`
	// DemoteAdmitted applies the demotion rules (a proven lie, sustained
	// failure) to admitted providers too. Default false: admitted
	// providers are penalised and avoided as before, never taken out.
	DemoteAdmitted bool `yaml:"demote_admitted"`
	// CheckInterval is how often stages are re-examined. Default 1s.
	CheckInterval Duration `yaml:"check_interval"`
	// DrainTimeout bounds how long a removed provider's calls in flight
	// may take to finish before it is closed. Default 30s.
	DrainTimeout Duration `yaml:"drain_timeout"`
	// MaxTransitions bounds the stage transitions kept per chain (the
	// oldest go first). Default 1000.
	MaxTransitions int `yaml:"max_transitions"`
	// MaxProviders bounds a chain's providers, the config's included, when
	// one is added at run time: beyond it the admin API refuses the
	// addition. Default 64; 1 to 1024.
	MaxProviders int `yaml:"max_providers"`
}

// MaxRunTimeProviders is the most admission.max_providers may be.
const MaxRunTimeProviders = 1024

// Admission stages of a provider (Provider.Stage).
const (
	StageCandidate = "candidate" // runs health checks, serves nothing
	StageProbation = "probation" // a capped share of verified calls only
	StageAdmitted  = "admitted"  // full member: every call, quorum and head votes
)

// AdmissionStage is p's stage: its stage key, admitted when unset.
func (p Provider) AdmissionStage() string {
	if p.Stage == "" {
		return StageAdmitted
	}
	return p.Stage
}

// DefaultAdmission returns the default admission settings.
func DefaultAdmission() Admission {
	return Admission{
		ProbationShare:     0.05,
		PromoteAfter:       Duration(time.Hour),
		PromoteAnswers:     1000,
		MinAvailability:    0.9,
		AvailabilityWindow: Duration(5 * time.Minute),
		CheckInterval:      Duration(time.Second),
		DrainTimeout:       Duration(30 * time.Second),
		MaxTransitions:     1000,
		MaxProviders:       64,
	}
}

// admission checks the admission settings and every provider's stage.
func (v *validator) admission(c *Config) {
	a := &c.Admission
	if !(a.ProbationShare > 0 && a.ProbationShare <= 0.5) {
		v.errorf("admission.probation_share", "must be above 0 and at most 0.5, got %g", a.ProbationShare)
	}
	v.nonNegative("admission.promote_after", a.PromoteAfter)
	if a.PromoteAnswers < 0 {
		v.errorf("admission.promote_answers", "must not be negative, got %d", a.PromoteAnswers)
	}
	if !(a.MinAvailability >= 0 && a.MinAvailability <= 1) {
		v.errorf("admission.min_availability", "must be between 0 and 1, got %g", a.MinAvailability)
	}
	v.positive("admission.availability_window", a.AvailabilityWindow)
	v.positive("admission.check_interval", a.CheckInterval)
	v.positive("admission.drain_timeout", a.DrainTimeout)
	v.atLeastOne("admission.max_transitions", int64(a.MaxTransitions))
	if a.MaxProviders < 1 || a.MaxProviders > MaxRunTimeProviders {
		v.errorf("admission.max_providers", "must be 1 to %d, got %d", MaxRunTimeProviders, a.MaxProviders)
	}
	for i := range c.Chains {
		if len(c.Chains[i].Providers) > 0 && c.Chains[i].Operators() == 0 {
			v.errorf(fmt.Sprintf("chains[%d].providers", i), "no provider is admitted: at least one must be (stage admitted, or left out) to agree on the head and vote")
		}
		for j, p := range c.Chains[i].Providers {
			switch p.Stage {
			case "", StageCandidate, StageProbation, StageAdmitted:
			default:
				path := fmt.Sprintf("chains[%d].providers[%d].stage", i, j)
				v.errorf(path, "%s is not one of candidate, probation, admitted", v.show(path, p.Stage))
			}
		}
	}
}

// ParseProvider reads one provider entry (YAML or JSON, the keys of
// chains[].providers[]) over the defaults, as a request body: ${ENV} is
// not expanded, so a body cannot read the gateway's environment. The
// entry is checked with the config's own rules by ValidateProvider.
func ParseProvider(data []byte) (Provider, error) {
	p := DefaultProvider()
	root, err := parseYAML(data, "")
	if err != nil {
		return p, err
	}
	if root == nil || root.Kind != yaml.MappingNode {
		return p, &FieldError{Msg: "a provider entry must be an object with name and http"}
	}
	d := &decoder{
		lookup:  func(string) (string, bool) { return "", false },
		lines:   map[string]int{},
		fromEnv: map[string]bool{},
		budget:  maxDecodeNodes,
	}
	d.decode(root, reflect.ValueOf(&p).Elem(), "provider")
	return p, joinSorted(d.errs)
}

// MarshalProvider writes p as a provider entry that ParseProvider reads
// back the same: how a provider added at run time is kept across a
// restart.
func MarshalProvider(p Provider) ([]byte, error) {
	b, err := yaml.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", p.Name, err)
	}
	return b, nil
}

// ValidateProvider checks p as one more provider of the chain named chain
// in cfg, whose providers are now current (they may differ from the
// file's after run-time changes): every rule a config file's provider
// meets, against the chain's other providers too. It returns p completed
// (operator and tier defaults, labels normalized) and every problem, each
// naming its field as provider.<key>.
func ValidateProvider(cfg *Config, chain string, current []Provider, p Provider) (Provider, error) {
	cp := *cfg
	cp.Chains = slices.Clone(cfg.Chains)
	i := slices.IndexFunc(cp.Chains, func(c Chain) bool { return c.Name == chain })
	if i < 0 {
		return p, &FieldError{Msg: fmt.Sprintf("no chain named %s", quote(chain))}
	}
	if len(current) >= cfg.Admission.MaxProviders {
		return p, &FieldError{Path: "provider", Msg: fmt.Sprintf("chain %s has %d providers, as many as admission.max_providers allows: remove one first, or raise the limit",
			quote(chain), len(current))}
	}
	cp.Chains[i].Providers = append(slices.Clone(current), p)
	n := len(cp.Chains[i].Providers) - 1
	cp.Complete()
	v := &validator{}
	v.config(&cp)
	prefix := fmt.Sprintf("chains[%d].providers[%d]", i, n)
	var errs []*FieldError
	for _, e := range v.errs {
		if strings.HasPrefix(e.Path, prefix) {
			e.Path = "provider" + strings.TrimPrefix(e.Path, prefix)
			e.Msg = providersRef.ReplaceAllString(e.Msg, "the provider $1")
			errs = append(errs, e)
		}
	}
	return cp.Chains[i].Providers[n], joinSorted(errs)
}

// providersRef finds "providers[3]" in a message about another provider
// of the chain, which a request knows by name, not by index.
var providersRef = regexp.MustCompile(`providers\[(\d+)\]`)
