package config

import (
	"strings"
	"testing"
	"time"
)

func TestFiltersValidation(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Config)
		field string // "": valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"zero per client", func(c *Config) { c.Filters.MaxPerClient = 0 }, "filters.max_per_client"},
		{"per client over total", func(c *Config) { c.Filters.MaxPerClient, c.Filters.MaxTotal = 10, 5 }, "filters.max_per_client"},
		{"zero total", func(c *Config) { c.Filters.MaxTotal = 0 }, "filters.max_total"},
		{"zero changes", func(c *Config) { c.Filters.MaxChanges = 0 }, "filters.max_changes"},
		{"zero change bytes", func(c *Config) { c.Filters.MaxChangesBytes = 0 }, "filters.max_changes_bytes"},
		{"change bytes over a response", func(c *Config) { c.Limits.MaxResponseBytes = 1 << 20 }, "filters.max_changes_bytes"},
		{"zero timeout", func(c *Config) { c.Filters.Timeout = 0 }, "filters.timeout"},
	}
	for _, tc := range cases {
		c := oneChainConfig()
		tc.edit(c)
		err := c.Validate()
		if (tc.field == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.field)) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.field)
		}
	}
}

func TestFiltersFromYAML(t *testing.T) {
	c := parseWant(t, `
filters:
  max_per_client: 8
  timeout: 30s`, "")
	f, d := c.Filters, DefaultFilters()
	if f.MaxPerClient != 8 || f.Timeout.D() != 30*time.Second || f.MaxTotal != d.MaxTotal || f.MaxChanges != d.MaxChanges || f.MaxChangesBytes != d.MaxChangesBytes {
		t.Fatalf("filters section %+v", f)
	}
}
