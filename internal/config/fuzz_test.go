package config

import (
	"os"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser: it must return a config or
// an error, never panic or hang, and a config it returns must validate.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../../examples/rpcmesh.yaml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		minimal,
		"",
		"chains: [{name: a, chain_id: 1, providers: [{name: p, http: 'http://x', labels: {tier: own}}]}]",
		"a: &a [1,2]\nb: [*a,*a]\n",
		"chains:\n  - <<: {name: x}\n    chain_id: 1\n",
		"server: {listen: '${X:-127.0.0.1:1}'}\n",
		"routing: {hedge_quantile: .nan, retries: 0x10}\n",
		"--- \n...\n---\n",
		"chains:\n  - routing: {hedge: false}\n",
	} {
		f.Add([]byte(s))
	}
	lookup := env("X", "1", "KEY", "k")
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parse(data, "fuzz.yaml", lookup)
		if err != nil {
			if cfg != nil {
				t.Fatalf("config and error both returned")
			}
			if len(FieldErrors(err)) == 0 {
				t.Fatalf("error without FieldErrors: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config Validate rejects: %v", err)
		}
	})
}
