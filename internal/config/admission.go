package config

import (
	"fmt"
	"time"
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
	// MinAvailability is the share of a provider's calls (health checks
	// included) that must succeed over AvailabilityWindow; below it, a
	// provider on probation goes back to candidate. Default 0.9.
	MinAvailability float64 `yaml:"min_availability"`
	// AvailabilityWindow is the window availability is measured over.
	// Default 5m.
	AvailabilityWindow Duration `yaml:"availability_window"`
	// AvailabilityMinCalls is how many calls the window must hold before
	// availability counts. Default 20.
	AvailabilityMinCalls int `yaml:"availability_min_calls"`
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
}

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
		ProbationShare:       0.05,
		PromoteAfter:         Duration(time.Hour),
		PromoteAnswers:       1000,
		MinAvailability:      0.9,
		AvailabilityWindow:   Duration(5 * time.Minute),
		AvailabilityMinCalls: 20,
		CheckInterval:        Duration(time.Second),
		DrainTimeout:         Duration(30 * time.Second),
		MaxTransitions:       1000,
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
	v.atLeastOne("admission.availability_min_calls", int64(a.AvailabilityMinCalls))
	v.positive("admission.check_interval", a.CheckInterval)
	v.positive("admission.drain_timeout", a.DrainTimeout)
	v.atLeastOne("admission.max_transitions", int64(a.MaxTransitions))
	for i := range c.Chains {
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
