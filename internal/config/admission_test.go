package config

import (
	"strings"
	"testing"
)

// TestProviderEntry: a request body's provider entry is read and checked
// with the config's own rules, against the chain's other providers.
func TestProviderEntry(t *testing.T) {
	cfg := Default()
	ch := DefaultChain()
	ch.Name, ch.ChainID = "dev", 1337
	p := DefaultProvider()
	p.Name, p.HTTP = "a", "http://127.0.0.1:1"
	ch.Providers = []Provider{p}
	cfg.Chains = []Chain{ch}
	cfg.Complete()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, body, want string // want: "" valid, else a part of the error
	}{
		{"valid", `{"name":"b","http":"http://127.0.0.1:2","stage":"probation","labels":{"operator":"Bob"}}`, ""},
		{"yaml too", "name: b\nhttp: http://127.0.0.1:2\n", ""},
		{"unknown key", `{"name":"b","htp":"http://127.0.0.1:2"}`, `did you mean "http"`},
		{"no url", `{"name":"b"}`, "provider.http: is required"},
		{"same name", `{"name":"a","http":"http://127.0.0.1:2"}`, "is also the name of the provider 0"},
		{"same url", `{"name":"b","http":"http://127.0.0.1:1"}`, "same URL as the provider 0"},
		{"bad stage", `{"name":"b","http":"http://127.0.0.1:2","stage":"vip"}`, "not one of candidate, probation, admitted"},
		{"env not read", `{"name":"b","http":"http://127.0.0.1:2/${HOME}"}`, "HOME"},
		{"not an object", `[1,2]`, "must be an object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseProvider([]byte(tc.body))
			if err == nil {
				p, err = ValidateProvider(cfg, "dev", cfg.Chains[0].Providers, p)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one with %q", err, tc.want)
			case tc.want == "" && (p.Labels.Operator == "" || p.Labels.Tier != TierPublic || p.Weight != 1):
				t.Errorf("completed entry %+v: want defaults and labels filled", p)
			}
		})
	}
}
