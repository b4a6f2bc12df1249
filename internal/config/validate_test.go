package config

import (
	"fmt"
	"strings"
	"testing"
)

// withChain appends a valid chain to top-level YAML.
func withChain(top string) string { return top + minimal }

// parseWant parses top (withChain) and fails t unless the error is the one
// want names: none for "", else one containing want.
func parseWant(t *testing.T, top, want string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(withChain(top)), "t.yaml")
	checkErr(t, err, want)
	return cfg
}

// wantFieldError fails t unless err holds one field error, at path,
// whose message contains msg.
func wantFieldError(t *testing.T, err error, path, msg string) {
	t.Helper()
	fes := FieldErrors(err)
	if len(fes) != 1 || fes[0].Path != path || !strings.Contains(fes[0].Msg, msg) {
		t.Fatalf("%v\nwant one error at %s saying %q", err, path, msg)
	}
}

// checkErr fails t unless err is the one want names: none for "", else
// one containing want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("error %v, want none", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("error %v, want one with %q", err, want)
	}
}

// chainDoc wraps provider YAML (indented for a providers list) in a chain.
func chainDoc(chainExtra, providers string) string {
	return "chains:\n  - name: eth\n    chain_id: 1\n" + chainExtra + "    providers:\n" + providers
}

const provA = "      - name: a\n        http: https://a.example\n"
const provB = "      - name: b\n        http: https://b.example\n"

// markedLine returns the 1-based line of src holding the "#<" marker, or 0.
func markedLine(src string) int {
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, "#<") {
			return i + 1
		}
	}
	return 0
}

// TestParseErrors checks that each problem is reported as
// "t.yaml:LINE: path: message", LINE being the line marked "#<" (no line when
// nothing is marked: the field is not in the file).
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, path, msg string
	}{
		// YAML itself
		{"syntax: flow list", "server:\n  listen: [1, #<\n  x: y\n", "", "invalid YAML: did not find expected ',' or ']'"},
		{"syntax: block list", "chains:\n  - 1 #<\n  x: y\n", "", "invalid YAML: did not find expected '-' indicator"},
		{"syntax: tab", "server:\n\tlisten: x #<\n", "", "invalid YAML: found character that cannot start any token"},
		{"syntax: indentation", "server:\n  listen: x\n   gzip: true #<\n", "", "invalid YAML: mapping values are not allowed in this context"},
		{"two documents", withChain("---\nserver: {}\n") + "--- #<\nserver: {}\n", "", "holds one YAML document"},
		{"empty", "# nothing here\n", "chains", "at least one chain is required"},
		{"duplicate key", withChain("server:\n  listen: 127.0.0.1:1\n  listen: 127.0.0.1:2 #<\n"), "server.listen", `key "listen" appears twice (first on line 2)`},
		{"non-scalar key", withChain("server:\n  ? [a] #<\n  : 1\n"), "server", "keys must be plain words"},

		// unknown keys
		{"unknown top", withChain("sever: {} #<\n"), "sever", `unknown key "sever" (did you mean "server"?)`},
		{"unknown server", withChain("server:\n  lisen: 127.0.0.1:1 #<\n"), "server.lisen", `(did you mean "listen"?)`},
		{"unknown no suggestion", withChain("limits:\n  frobnicate: 3 #<\n"), "limits.frobnicate", `unknown key "frobnicate"`},
		{"unknown chain key", "chains:\n  - name: eth\n    chainid: 1 #<\n    providers: [{name: a, http: 'https://a.example'}]\n", "chains[0].chainid", `(did you mean "chain_id"?)`},
		{"unknown provider key dash", chainDoc("", provA+"        max-rps: 5 #<\n"), "chains[0].providers[0].max-rps", `(did you mean "max_rps"?)`},
		{"unknown label", chainDoc("", provA+"        labels: {teir: own} #<\n"), "chains[0].providers[0].labels.teir", `(did you mean "tier"?)`},
		{"unknown chain routing key", chainDoc("    routing:\n      hedge_qunatile: 0.5 #<\n", provA), "chains[0].routing.hedge_qunatile", `(did you mean "hedge_quantile"?)`},

		// types
		{"chain_id not a number", chainDoc("", provA)[:0] + "chains:\n  - name: eth\n    chain_id: abc #<\n    providers: [{name: a, http: 'https://a.example'}]\n", "chains[0].chain_id", `"abc" is not a non-negative integer`},
		{"negative uint", withChain("limits:\n  max_logs_block_range: -1 #<\n"), "limits.max_logs_block_range", `"-1" is not a non-negative integer`},
		{"float for int", withChain("limits:\n  max_batch_items: 1.5 #<\n"), "limits.max_batch_items", `"1.5" is not an integer`},
		{"int overflow", withChain("limits:\n  max_body_bytes: 99999999999999999999 #<\n"), "limits.max_body_bytes", "is not an integer in range"},
		{"not a number", chainDoc("", provA+"        weight: heavy #<\n"), "chains[0].providers[0].weight", `"heavy" is not a number`},
		{"nan", chainDoc("", provA+"        weight: NaN #<\n"), "chains[0].providers[0].weight", `"NaN" is not a number`},
		{"bool", withChain("server:\n  gzip: yes #<\n"), "server.gzip", `"yes" is not true or false`},
		{"duration without unit", withChain("server:\n  read_timeout: 5 #<\n"), "server.read_timeout", `"5" is not a duration`},
		{"mapping for scalar", withChain("server:\n  listen: {a: 1} #<\n"), "server.listen", "expected a single value, got a mapping"},
		{"list for mapping", withChain("server: [1] #<\n"), "server", "expected a mapping (key: value lines), got a list"},
		{"scalar for list", withChain("server:\n  cors:\n    allowed_origins: '*' #<\n"), "server.cors.allowed_origins", `expected a list, got "*"`},
		{"chains mapping", "chains: {name: eth} #<\n", "chains", "expected a list, got a mapping"},
		{"merge of scalar", chainDoc("", "      - <<: 5 #<\n        name: a\n        http: https://a.example\n"), "chains[0].providers[0]", "<< merges a mapping"},

		// server and admin
		{"listen no port", withChain("server:\n  listen: localhost #<\n"), "server.listen", `"localhost" is not a host:port address`},
		{"listen bad port", withChain("server:\n  listen: 127.0.0.1:99999 #<\n"), "server.listen", `port "99999" is not a number from 0 to 65535`},
		{"listen bad host", withChain("server:\n  listen: 'bad host:80' #<\n"), "server.listen", `"bad host" is not an IP address or host name`},
		{"read_timeout negative", withChain("server:\n  read_timeout: -1s #<\n"), "server.read_timeout", "must be a positive duration, got -1s"},
		{"idle_timeout zero", withChain("server:\n  idle_timeout: 0s #<\n"), "server.idle_timeout", "must be a positive duration"},
		{"shutdown_timeout zero", withChain("server:\n  shutdown_timeout: 0s #<\n"), "server.shutdown_timeout", "must be a positive duration"},
		{"max_header_bytes small", withChain("server:\n  max_header_bytes: 1024 #<\n"), "server.max_header_bytes", "must be between 4096 and 1048576, got 1024"},
		{"read_header_timeout > read_timeout", withChain("server:\n  read_header_timeout: 40s #<\n"), "server.read_header_timeout", "40s is longer than server.read_timeout (30s)"},
		{"cors origin", withChain("server:\n  cors:\n    allowed_origins:\n      - https://ok.example\n      - example.com #<\n"), "server.cors.allowed_origins[1]", `"example.com" is not "*" or an origin`},
		{"cors origin path", withChain("server:\n  cors: {allowed_origins: ['https://a.example/app']} #<\n"), "server.cors.allowed_origins[0]", "is not \"*\" or an origin"},
		{"cors max_age", withChain("server:\n  cors: {max_age: -1s} #<\n"), "server.cors.max_age", "must not be negative"},
		{"admin same port", withChain("admin:\n  listen: 127.0.0.1:8545 #<\n"), "admin.listen", "is also server.listen"},
		{"admin bad", withChain("admin:\n  listen: nope #<\n"), "admin.listen", `(or "" to disable)`},

		// limits
		{"max_body_bytes", withChain("limits:\n  max_body_bytes: 0 #<\n"), "limits.max_body_bytes", "must be at least 1, got 0"},
		{"max_batch_items", withChain("limits:\n  max_batch_items: -5 #<\n"), "limits.max_batch_items", "must be at least 1, got -5"},
		{"batch_concurrency", withChain("limits:\n  batch_concurrency: 0 #<\n"), "limits.batch_concurrency", "must be at least 1"},
		{"max_response_bytes", withChain("limits:\n  max_response_bytes: 0 #<\n"), "limits.max_response_bytes", "must be at least 1"},
		{"request_timeout", withChain("limits:\n  request_timeout: 0s #<\n"), "limits.request_timeout", "must be a positive duration"},
		{"max_concurrent_requests", withChain("limits:\n  max_concurrent_requests: 0 #<\n"), "limits.max_concurrent_requests", "must be at least 1"},
		{"max_logs_block_range", withChain("limits:\n  max_logs_block_range: 0 #<\n"), "limits.max_logs_block_range", "must be at least 1"},
		{"logs_split_blocks zero", withChain("limits:\n  logs_split_blocks: 0 #<\n"), "limits.logs_split_blocks", "must be at least 1"},
		{"logs_split_blocks > range", withChain("limits:\n  max_logs_block_range: 500\n  logs_split_blocks: 1000 #<\n"), "limits.logs_split_blocks", "1000 is larger than limits.max_logs_block_range (500)"},

		// routing
		{"operator share 0", withChain("routing:\n  max_operator_share: 0 #<\n"), "routing.max_operator_share", "must be in (0, 1], got 0"},
		{"operator share 1.5", withChain("routing:\n  max_operator_share: 1.5 #<\n"), "routing.max_operator_share", "must be in (0, 1], got 1.5"},
		{"cloud share", withChain("routing:\n  max_cloud_share: -0.1 #<\n"), "routing.max_cloud_share", "must be in (0, 1]"},
		{"share_window", withChain("routing:\n  share_window: 0s #<\n"), "routing.share_window", "must be a positive duration"},
		{"retries negative", withChain("routing:\n  retries: -1 #<\n"), "routing.retries", "must be from 0 to 10, got -1"},
		{"retries many", withChain("routing:\n  retries: 11 #<\n"), "routing.retries", "must be from 0 to 10, got 11"},
		{"retry_backoff", withChain("routing:\n  retry_backoff: -1ms #<\n"), "routing.retry_backoff", "must not be negative"},
		{"hedge_quantile 1", withChain("routing:\n  hedge_quantile: 1 #<\n"), "routing.hedge_quantile", "must be in (0, 1), got 1"},
		{"hedge_quantile 0", withChain("routing:\n  hedge_quantile: 0 #<\n"), "routing.hedge_quantile", "must be in (0, 1), got 0"},
		{"hedge_min_delay", withChain("routing:\n  hedge_min_delay: -1ms #<\n"), "routing.hedge_min_delay", "must not be negative"},
		{"hedge_max_delay", withChain("routing:\n  hedge_max_delay: 0s #<\n"), "routing.hedge_max_delay", "must be a positive duration"},
		{"hedge min > max", withChain("routing:\n  hedge_min_delay: 3s #<\n"), "routing.hedge_min_delay", "hedge_min_delay (3s) is longer than hedge_max_delay (2s)"},
		{"hedge_max_delay >= request_timeout", withChain("routing:\n  hedge_max_delay: 30s #<\n"), "routing.hedge_max_delay", "30s is not shorter than limits.request_timeout (30s)"},
		{"exploration_share 1", withChain("routing:\n  exploration_share: 1 #<\n"), "routing.exploration_share", "must be in [0, 1), got 1"},
		{"exploration_share negative", withChain("routing:\n  exploration_share: -0.1 #<\n"), "routing.exploration_share", "must be in [0, 1)"},
		{"privacy mode", withChain("routing:\n  privacy: hide #<\n"), "routing.privacy", `must be "spread" or "off", got "hide"`},
		{"privacy share 0", withChain("routing:\n  privacy_max_share: 0 #<\n"), "routing.privacy_max_share", "must be in (0, 1], got 0"},
		{"privacy addresses 0", withChain("routing:\n  privacy_addresses: 0 #<\n"), "routing.privacy_addresses", "must be from 1 to 1048576, got 0"},
		{"privacy clients many", withChain("routing:\n  privacy_clients: 70000 #<\n"), "routing.privacy_clients", "must be from 1 to 65536, got 70000"},
		{"privacy remembered", withChain("routing:\n  privacy_clients: 65536 #<\n"), "routing.privacy_clients", "65536 clients of 1024 addresses each is over 16777216 addresses in all"},
		{"chain privacy mode", chainDoc("    routing:\n      privacy: yes #<\n", provA), "chains[0].routing.privacy", `must be "spread" or "off", got "yes"`},

		// health
		{"poll_interval", withChain("health:\n  poll_interval: 0s #<\n"), "health.poll_interval", "must be a positive duration"},
		{"poll_min_interval", withChain("health:\n  poll_min_interval: 0s #<\n"), "health.poll_min_interval", "must be a positive duration"},
		{"head_stale_blocks under 1", withChain("health:\n  head_stale_blocks: 0.5 #<\n"), "health.head_stale_blocks", "must be 0 (off) or at least 1, got 0.5"},
		{"ready_stale_blocks negative", withChain("health:\n  ready_stale_blocks: -1 #<\n"), "health.ready_stale_blocks", "must be 0 (off) or positive, got -1"},
		{"chain_id_interval", withChain("health:\n  chain_id_interval: 0s #<\n"), "health.chain_id_interval", "must be a positive duration"},
		{"breaker_failures", withChain("health:\n  breaker_failures: 0 #<\n"), "health.breaker_failures", "must be at least 1"},
		{"breaker_cooldown", withChain("health:\n  breaker_cooldown: 0s #<\n"), "health.breaker_cooldown", "must be a positive duration"},
		{"probe_interval", withChain("health:\n  probe_interval: -5s #<\n"), "health.probe_interval", "must be a positive duration"},
		{"ewma_half_life", withChain("health:\n  ewma_half_life: 0s #<\n"), "health.ewma_half_life", "must be a positive duration"},
		{"provider_timeout", withChain("health:\n  provider_timeout: 0s #<\n"), "health.provider_timeout", "must be a positive duration"},
		{"provider_timeout > request_timeout", withChain("health:\n  provider_timeout: 31s #<\n"), "health.provider_timeout", "31s is longer than limits.request_timeout (30s)"},

		// chains
		{"no chains", "chains: [] #<\n", "chains", "at least one chain is required"},
		{"name missing", "chains:\n  - chain_id: 1 #<\n    providers: [{name: a, http: 'https://a.example'}]\n", "chains[0].name", "is required"},
		{"name upper", "chains:\n  - name: Ethereum #<\n    chain_id: 1\n    providers: [{name: a, http: 'https://a.example'}]\n", "chains[0].name", `"Ethereum" must be 1 to 64 characters of a-z, 0-9 and -`},
		{"name long", "chains:\n  - name: " + strings.Repeat("a", 65) + " #<\n    chain_id: 1\n    providers: [{name: a, http: 'https://a.example'}]\n", "chains[0].name", "must be 1 to 64 characters"},
		{"name digits", "chains:\n  - name: '137' #<\n    chain_id: 1\n    providers: [{name: a, http: 'https://a.example'}]\n", "chains[0].name", `"137" is all digits`},
		{"name duplicate", minimal + "  - name: eth #<\n    chain_id: 2\n    providers: [{name: a, http: 'https://a.example'}]\n", "chains[1].name", `"eth" is also the name of chains[0]`},
		{"chain_id missing", "chains:\n  - name: eth #<\n    providers: [{name: a, http: 'https://a.example'}]\n", "chains[0].chain_id", "is required"},
		{"chain_id zero", "chains:\n  - name: eth\n    chain_id: 0 #<\n    providers: [{name: a, http: 'https://a.example'}]\n", "chains[0].chain_id", "is required"},
		{"chain_id duplicate", minimal + "  - name: eth2\n    chain_id: 1 #<\n    providers: [{name: a, http: 'https://a.example'}]\n", "chains[1].chain_id", "1 is also the chain_id of chains[0]"},
		{"providers missing", "chains:\n  - name: eth #<\n    chain_id: 1\n", "chains[0].providers", "at least one provider is required"},
		{"providers empty", "chains:\n  - name: eth\n    chain_id: 1\n    providers: [] #<\n", "chains[0].providers", "at least one provider is required"},
		{"head_agreement too high", chainDoc("    head_agreement: 3 #<\n", provA+provB), "chains[0].head_agreement", "3 operators must agree on the head but the chain's providers have only 2 distinct operators"},
		{"head_agreement same operator", chainDoc("    head_agreement: 2 #<\n", provA+"        labels: {operator: x}\n"+provB+"        labels: {operator: x}\n"), "chains[0].head_agreement", "only 1 distinct operators"},
		{"head_agreement negative", chainDoc("    head_agreement: -1 #<\n", provA), "chains[0].head_agreement", "must be at least 1, got -1"},
		{"chain routing override", chainDoc("    routing:\n      max_cloud_share: 2 #<\n", provA), "chains[0].routing.max_cloud_share", "must be in (0, 1], got 2"},
		{"chain routing cross-field", chainDoc("    routing:\n      hedge_max_delay: 10ms #<\n", provA), "chains[0].routing.hedge_max_delay", "hedge_min_delay (20ms) is longer than hedge_max_delay (10ms)"},

		// providers
		{"provider name missing", chainDoc("", "      - http: https://a.example #<\n"), "chains[0].providers[0].name", "is required"},
		{"provider name space", chainDoc("", "      - name: a b #<\n        http: https://a.example\n"), "chains[0].providers[0].name", `"a b" must be 1 to 64 characters without spaces`},
		{"provider name duplicate", chainDoc("", provA+"      - name: a #<\n        http: https://b.example\n"), "chains[0].providers[1].name", `"a" is also the name of providers[0] of this chain`},
		{"http missing", chainDoc("", "      - name: a #<\n"), "chains[0].providers[0].http", "is required"},
		{"http ftp", chainDoc("", provA+provB+"      - name: c\n        http: ftp://x #<\n"), "chains[0].providers[2].http", `"ftp://x" is not an http(s) URL`},
		{"http no host", chainDoc("", "      - name: a\n        http: 'https://' #<\n"), "chains[0].providers[0].http", "is not an http(s) URL"},
		{"http relative", chainDoc("", "      - name: a\n        http: /rpc #<\n"), "chains[0].providers[0].http", "is not an http(s) URL"},
		{"http duplicate", chainDoc("", provA+"      - name: b\n        http: https://a.example #<\n"), "chains[0].providers[1].http", "same URL as providers[0]"},
		{"ws scheme", chainDoc("", provA+"        ws: https://a.example #<\n"), "chains[0].providers[0].ws", `"https://a.example" is not a ws(s) URL`},
		{"tier", chainDoc("", provA+"        labels:\n          tier: gold #<\n"), "chains[0].providers[0].labels.tier", `"gold" is not one of own, partner, community, public`},
		{"weight zero", chainDoc("", provA+"        weight: 0 #<\n"), "chains[0].providers[0].weight", "must be a positive number, got 0"},
		{"weight negative", chainDoc("", provA+"        weight: -2 #<\n"), "chains[0].providers[0].weight", "must be a positive number, got -2"},
		{"max_concurrency", chainDoc("", provA+"        max_concurrency: 0 #<\n"), "chains[0].providers[0].max_concurrency", "must be at least 1, got 0"},
		{"max_rps", chainDoc("", provA+"        max_rps: -1 #<\n"), "chains[0].providers[0].max_rps", "must be 0 (unlimited) or a positive number, got -1"},
		{"call_transport unknown", chainDoc("", provA+"        call_transport: grpc #<\n"), "chains[0].providers[0].call_transport", `"grpc" is not one of http, ws`},
		{"call_transport empty", chainDoc("", provA+"        call_transport: '' #<\n"), "chains[0].providers[0].call_transport", `"" is not one of http, ws`},
		{"call_transport ws without ws", chainDoc("", provA+"        call_transport: ws #<\n"), "chains[0].providers[0].call_transport", "ws needs the provider's ws URL"},
		{"ws_conns zero", chainDoc("", provA+"        ws: wss://a.example\n        call_transport: ws\n        ws_conns: 0 #<\n"), "chains[0].providers[0].ws_conns", "must be between 1 and 64, got 0"},
		{"ws_conns too many", chainDoc("", provA+"        ws_conns: 65 #<\n"), "chains[0].providers[0].ws_conns", "must be between 1 and 64, got 65"},
		{"ws_conns negative", chainDoc("", provA+"        ws_conns: -1 #<\n"), "chains[0].providers[0].ws_conns", "must be between 1 and 64, got -1"},
		{"coalesce_above negative", chainDoc("", provA+"        coalesce_above: -1 #<\n"), "chains[0].providers[0].coalesce_above", "must be 0 (off) to 256, got -1"},
		{"coalesce_above too many", chainDoc("", provA+"        coalesce_above: 300 #<\n"), "chains[0].providers[0].coalesce_above", "must be 0 (off) to 256, got 300"},
		{"coalesce_above not below max_concurrency", chainDoc("", provA+"        max_concurrency: 8\n        coalesce_above: 8 #<\n"), "chains[0].providers[0].coalesce_above", "must be below max_concurrency (8)"},
		{"coalesce_max one", chainDoc("", provA+"        coalesce_max: 1 #<\n"), "chains[0].providers[0].coalesce_max", "must be between 2 and 256, got 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse([]byte(tt.src), "t.yaml", env())
			if err == nil {
				t.Fatalf("no error for:\n%s", tt.src)
			}
			want := "t.yaml"
			if l := markedLine(tt.src); l > 0 {
				want += fmt.Sprintf(":%d", l)
			}
			want += ": "
			if tt.path != "" {
				want += tt.path + ": "
			}
			for _, fe := range FieldErrors(err) {
				if s := fe.Error(); strings.HasPrefix(s, want) && strings.Contains(s, tt.msg) {
					return
				}
			}
			t.Errorf("error:\n%v\nwant a line starting %q containing %q", err, want, tt.msg)
		})
	}
}

// Every problem is reported, in line order, and a value that failed to decode
// is not reported a second time by validation.
func TestParseReportsAllErrors(t *testing.T) {
	src := `server:
  lisen: ":8545"
  read_timeout: 5
limits:
  max_batch_items: 0
chains:
  - name: Eth
    chain_id: abc
    providers:
      - name: a
        http: ftp://x
      - name: a
        http: https://b.example
        labels: {tier: gold}
`
	_, err := parse([]byte(src), "t.yaml", env())
	got := FieldErrors(err)
	want := []string{
		"t.yaml:2: server.lisen:",
		"t.yaml:3: server.read_timeout:",
		"t.yaml:5: limits.max_batch_items:",
		"t.yaml:7: chains[0].name:",
		"t.yaml:8: chains[0].chain_id: \"abc\" is not a non-negative integer",
		"t.yaml:11: chains[0].providers[0].http:",
		"t.yaml:12: chains[0].providers[1].name:",
		"t.yaml:14: chains[0].providers[1].labels.tier:",
	}
	if len(got) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(got), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(got[i].Error(), want[i]) {
			t.Errorf("error %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
	if strings.Count(err.Error(), "\n") != len(want)-1 {
		t.Errorf("want one problem per line:\n%v", err)
	}
}

// Validate works on a config built in code, without lines or file.
func TestValidateInCode(t *testing.T) {
	c := Default()
	c.Limits.MaxBatchItems = 0
	c.Chains = []Chain{{Name: "eth", ChainID: 1, Providers: []Provider{{Name: "a", HTTP: "https://a.example"}}}}
	c.Complete()
	err := c.Validate()
	for _, want := range []string{
		"limits.max_batch_items: must be at least 1, got 0",
		"chains[0].providers[0].weight: must be a positive number, got 0",
		"chains[0].providers[0].max_concurrency: must be at least 1, got 0",
		`chains[0].providers[0].call_transport: "" is not one of http, ws`,
		"chains[0].providers[0].ws_conns: must be between 1 and 64, got 0",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
	if c.Chains[0].Providers[0].Labels.Tier != TierPublic || c.Chains[0].Providers[0].Labels.Operator != "a" || c.Chains[0].HeadAgreement != 1 {
		t.Errorf("Complete: %+v", c.Chains[0])
	}
}

func TestDecodeBudget(t *testing.T) {
	// Each level multiplies by 9: 9^7 origins if aliases were expanded naively.
	var b strings.Builder
	b.WriteString("a0: &a0 ['*','*','*','*','*','*','*','*','*']\n")
	for i := 1; i <= 7; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString("server:\n  cors:\n    allowed_origins: *a7\n")
	_, err := parse([]byte(b.String()), "t.yaml", env())
	if err == nil {
		t.Fatal("no error")
	}
}

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		e    FieldError
		want string
	}{
		{FieldError{"f.yaml", 3, "a.b", "bad"}, "f.yaml:3: a.b: bad"},
		{FieldError{"f.yaml", 0, "a.b", "bad"}, "f.yaml: a.b: bad"},
		{FieldError{"", 3, "a.b", "bad"}, "line 3: a.b: bad"},
		{FieldError{"", 0, "a.b", "bad"}, "a.b: bad"},
		{FieldError{"f.yaml", 3, "", "bad"}, "f.yaml:3: bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.e, got, tt.want)
		}
	}
}

// A file full of problems gives a bounded error, and long values are shortened.
func TestErrorsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("server:\n  listen: " + strings.Repeat("x", 10000) + "\n")
	for i := range 200 {
		fmt.Fprintf(&b, "  bogus%d: 1\n", i)
	}
	_, err := parse([]byte(b.String()), "t.yaml", env())
	fes := FieldErrors(err)
	if len(fes) != MaxErrors+1 {
		t.Fatalf("%d errors, want %d", len(fes), MaxErrors+1)
	}
	if last := fes[MaxErrors].Error(); last != "t.yaml: and 152 more problems" {
		t.Errorf("last = %q", last)
	}
	if len(err.Error()) > 10000 {
		t.Errorf("error is %d bytes: a long value was not shortened", len(err.Error()))
	}
}

// Port 0 on both listeners asks for two free ports, which never clash.
func TestAdminAndServerOnFreePorts(t *testing.T) {
	doc := withChain("server:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n")
	if _, err := Parse([]byte(doc), "rpcmesh.yaml"); err != nil {
		t.Fatalf("free ports for both listeners rejected: %v", err)
	}
}
