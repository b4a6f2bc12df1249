package config

import (
	"strings"
	"testing"
)

func TestExpandEnv(t *testing.T) {
	lookup := env("KEY", "s3cret", "EMPTY", "", "URL", "https://x.example")
	tests := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "${KEY}", want: "s3cret"},
		{in: "https://a.example/v2/${KEY}", want: "https://a.example/v2/s3cret"},
		{in: "${KEY}-${KEY}", want: "s3cret-s3cret"},
		{in: "${MISSING:-demo}", want: "demo"},
		{in: "${MISSING:-}", want: ""},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "${EMPTY}", want: ""},
		{in: "${KEY:-unused}", want: "s3cret"},
		{in: "${MISSING:-a:-b}", want: "a:-b"},
		{in: "${URL}/rpc", want: "https://x.example/rpc"},
		{in: "pa$$word $x $", want: "pa$$word $x $"},
		{in: "$${KEY}", want: "${KEY}"},
		{in: "$${KEY} ${KEY}", want: "${KEY} s3cret"},
		{in: "${MISSING}", err: "environment variable MISSING is not set"},
		{in: "x${KEY", err: "unterminated ${"},
		{in: "${}", err: "is not an environment variable name"},
		{in: "${1X}", err: "is not an environment variable name"},
		{in: "${A-B}", err: "is not an environment variable name"},
	}
	for _, tt := range tests {
		got, err := expandEnv(tt.in, lookup)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expandEnv(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("expandEnv(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseEnv(t *testing.T) {
	src := `
# a ${COMMENTED} variable in a comment is left alone
limits:
  max_batch_items: ${BATCH:-50}
chains:
  - name: ${CHAIN_NAME}
    chain_id: 1
    providers:
      - name: keyed
        http: https://rpc.example/${API_KEY:-demo}
        max_rps: "${RPS}"
`
	cfg, err := parse([]byte(src), "t.yaml", env("CHAIN_NAME", "eth", "API_KEY", "abc: #not yaml", "RPS", "7.5"))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Chains[0].Providers[0]
	if cfg.Limits.MaxBatchItems != 50 || cfg.Chains[0].Name != "eth" || p.HTTP != "https://rpc.example/abc: #not yaml" || p.MaxRPS != 7.5 {
		t.Errorf("got batch %d, name %q, http %q, rps %v", cfg.Limits.MaxBatchItems, cfg.Chains[0].Name, p.HTTP, p.MaxRPS)
	}

	// A missing variable is an error naming it and its line; every one is reported.
	_, err = parse([]byte(src), "t.yaml", env("RPS", "1"))
	for _, want := range []string{
		"t.yaml:6: chains[0].name: environment variable CHAIN_NAME is not set",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "is required") {
		t.Errorf("a missing variable also reported as a missing field: %v", err)
	}
}

// A value that came from the environment is never echoed in an error: it may
// be a secret.
func TestEnvValueNotEchoed(t *testing.T) {
	src := `
chains:
  - name: eth
    chain_id: 1
    providers:
      - name: a
        http: ${URL}
      - name: b
        http: https://b.example
        max_rps: ${RPS}
`
	_, err := parse([]byte(src), "t.yaml", env("URL", "ftp://topsecret", "RPS", "topsecret2"))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if strings.Contains(msg, "topsecret") {
		t.Errorf("secret echoed: %s", msg)
	}
	for _, want := range []string{
		"t.yaml:7: chains[0].providers[0].http: (the value from the environment) is not an http(s) URL",
		`t.yaml:10: chains[0].providers[1].max_rps: "${RPS}" is not a number`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error = %s\nwant %q", msg, want)
		}
	}
}
