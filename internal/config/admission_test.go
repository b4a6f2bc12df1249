package config

import (
	"strings"
	"testing"
)

// TestProviderEntry: a request body's provider entry is read and checked
// with the config's own rules, against the chain's other providers.
func TestProviderEntry(t *testing.T) {
	cfg := oneChainConfig()
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
			checkErr(t, err, tc.want)
			if tc.want == "" && (p.Labels.Operator == "" || p.Labels.Tier != TierPublic || p.Weight != 1) {
				t.Errorf("completed entry %+v: want defaults and labels filled", p)
			}
		})
	}
}

// TestMaxProviders: admission.max_providers is bounded, and a provider
// added at run time beyond it is refused in plain words; the config's
// providers count.
func TestMaxProviders(t *testing.T) {
	for _, tc := range []struct {
		max        int
		wantConfig string // "" valid, else a part of the error
		wantAdd    string
	}{
		{64, "", ""},
		{2, "", ""},
		{1, "", `chain "dev" has 1 providers, as many as admission.max_providers allows`},
		{0, "admission.max_providers: must be 1 to 1024, got 0", ""},
		{1025, "admission.max_providers: must be 1 to 1024, got 1025", ""},
	} {
		cfg := oneChainConfig()
		cfg.Admission.MaxProviders = tc.max
		checkErr(t, cfg.Validate(), tc.wantConfig)
		if tc.wantConfig != "" {
			continue
		}
		p := DefaultProvider()
		p.Name, p.HTTP = "b", "http://127.0.0.1:2"
		_, err := ValidateProvider(cfg, "dev", cfg.Chains[0].Providers, p)
		checkErr(t, err, tc.wantAdd)
	}
}

// TestStagesInConfig: head agreement counts admitted operators only, and
// a chain with none admitted is refused in plain words.
func TestStagesInConfig(t *testing.T) {
	build := func(stages ...string) *Config {
		cfg := Default()
		ch := DefaultChain()
		ch.Name, ch.ChainID = "dev", 1337
		for i, s := range stages {
			p := DefaultProvider()
			p.Name, p.HTTP, p.Stage = string(rune('a'+i)), "http://127.0.0.1:"+string(rune('1'+i)), s
			ch.Providers = append(ch.Providers, p)
		}
		cfg.Chains = []Chain{ch}
		cfg.Complete()
		return cfg
	}
	if cfg := build("", StageProbation); cfg.Chains[0].HeadAgreement != 1 || cfg.Validate() != nil {
		t.Errorf("one admitted, one on probation: head agreement %d (%v), want 1, valid", cfg.Chains[0].HeadAgreement, cfg.Validate())
	}
	if cfg := build(StageAdmitted, "", StageCandidate); cfg.Chains[0].HeadAgreement != 2 {
		t.Errorf("two admitted: head agreement %d, want 2", cfg.Chains[0].HeadAgreement)
	}
	err := build(StageProbation, StageCandidate).Validate()
	if err == nil || !strings.Contains(err.Error(), "no provider is admitted") {
		t.Errorf("none admitted: %v, want an error saying no provider is admitted", err)
	}
}

// FuzzParseProvider feeds arbitrary bodies to the admin API's provider
// parser: an entry or an error with FieldErrors, never a panic or hang.
func FuzzParseProvider(f *testing.F) {
	for _, s := range []string{
		`{"name":"b","http":"http://127.0.0.1:2","stage":"probation"}`,
		"name: b\nhttp: http://x\nlabels: {operator: o}\n",
		`[1]`, ``, `{"name":"${HOME}"}`, "a: &a [1,2]\nb: [*a,*a]\n", `{"weight":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ParseProvider(data); err != nil && len(FieldErrors(err)) == 0 {
			t.Fatalf("error without FieldErrors: %v", err)
		}
	})
}
