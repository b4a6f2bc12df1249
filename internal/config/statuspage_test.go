package config

import (
	"strings"
	"testing"
)

// TestStatusPageConfig: status_page's defaults, its bounds, and the path
// it takes from chain names.
func TestStatusPageConfig(t *testing.T) {
	base := `
chains:
  - name: %s
    chain_id: 1
    providers: [{ name: a, http: "http://127.0.0.1:1" }]
`
	for _, tc := range []struct {
		name, chain, extra, wantErr string
	}{
		{"defaults", "eth", "", ""},
		{"off", "eth", "status_page: { enabled: false }", ""},
		{"a chain named status", "status", "", `chains[0].name: "status" is the status page's path`},
		{"a chain named status, page off", "status", "status_page: { enabled: false }", ""},
		{"sample too often", "eth", "status_page: { sample_interval: 100ms }", "status_page.sample_interval: must be at least 1s"},
		{"history shorter than a sample", "eth", "status_page: { history: 5s }", "status_page.history: 5s is shorter"},
		{"too many samples", "eth", "status_page: { history: 720h, sample_interval: 1s }", "over 100000"},
		{"no streams", "eth", "status_page: { max_streams: 0 }", "status_page.max_streams: must be at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(base, "%s", tc.chain, 1) + tc.extra + "\n"
			cfg, err := Parse([]byte(src), "test.yaml")
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.extra == "" && (cfg.StatusPage != DefaultStatusPage() || cfg.StatusPage.Samples() != 360) {
					t.Errorf("defaults %+v", cfg.StatusPage)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}
