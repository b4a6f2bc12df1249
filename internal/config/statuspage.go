package config

import (
	"fmt"
	"time"
)

// StatusPage configures the live status page the public listener serves
// at / and /status (with /status.json and a server-sent-events stream
// beside it): read-only, no provider URLs. See docs/status-page.md.
type StatusPage struct {
	Enabled bool `yaml:"enabled"` // default true
	// History is how far back the page's charts reach: 1h. The gateway
	// keeps History / SampleInterval samples in memory.
	History Duration `yaml:"history"`
	// SampleInterval is how often a sample is taken for the charts: 10s.
	SampleInterval Duration `yaml:"sample_interval"`
	// MaxStreams bounds the pages open at once (each holds one live
	// stream, a connection): 256. Past it a new stream is refused with 503.
	MaxStreams int `yaml:"max_streams"`
}

// StatusPagePath is the path of the status page, which no chain may take
// while the page is on.
const StatusPagePath = "status"

// maxStatusSamples bounds the samples the history may keep (memory).
const maxStatusSamples = 100_000

// DefaultStatusPage returns the status page's defaults.
func DefaultStatusPage() StatusPage {
	return StatusPage{
		Enabled:        true,
		History:        Duration(time.Hour),
		SampleInterval: Duration(10 * time.Second),
		MaxStreams:     256,
	}
}

// Samples is how many samples the history keeps.
func (s StatusPage) Samples() int {
	if s.SampleInterval <= 0 {
		return 0
	}
	return int(s.History / s.SampleInterval)
}

func (v *validator) statusPage(c *Config) {
	s := &c.StatusPage
	if !s.Enabled {
		return
	}
	if s.SampleInterval < Duration(time.Second) {
		v.errorf("status_page.sample_interval", "must be at least 1s, got %s", s.SampleInterval)
	}
	if s.History < s.SampleInterval {
		v.errorf("status_page.history", "%s is shorter than status_page.sample_interval (%s)", s.History, s.SampleInterval)
	} else if n := s.Samples(); n > maxStatusSamples {
		v.errorf("status_page.history", "%s at one sample per %s is %d samples, over %d: sample less often or keep less", s.History, s.SampleInterval, n, maxStatusSamples)
	}
	v.atLeastOne("status_page.max_streams", int64(s.MaxStreams))
	for i, ch := range c.Chains {
		if ch.Name == StatusPagePath {
			v.errorf(fmt.Sprintf("chains[%d].name", i), "%q is the status page's path while status_page.enabled is true: name the chain otherwise, or turn the page off", ch.Name)
		}
	}
}
