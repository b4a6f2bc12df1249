package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseMixFlag(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []MixEntry
		err  string
	}{
		{in: "eth_blockNumber", want: []MixEntry{{Method: "eth_blockNumber", Weight: 1}}},
		{in: "eth_blockNumber=3, eth_getBalance=1", want: []MixEntry{{Method: "eth_blockNumber", Weight: 3}, {Method: "eth_getBalance", Weight: 1}}},
		{in: "a=2,,b", want: []MixEntry{{Method: "a", Weight: 2}, {Method: "b", Weight: 1}}},
		{in: "a=0", err: "positive integer"},
		{in: "a=x", err: "positive integer"},
		{in: "=3", err: "empty method"},
		{in: " , ", err: "no methods"},
	} {
		got, err := ParseMixFlag(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

// callsOf draws n requests from a fresh source and decodes them.
func callsOf(t *testing.T, m *Mix, n, batch int) []rpcCall {
	t.Helper()
	src := newCallSource(m)
	var out []rpcCall
	for i := 0; i < n; i++ {
		body, first := src.appendRequest(nil, batch)
		var calls []rpcCall
		if batch == 0 {
			var c rpcCall
			if err := json.Unmarshal(body, &c); err != nil {
				t.Fatalf("request %s: %v", body, err)
			}
			calls = []rpcCall{c}
		} else if err := json.Unmarshal(body, &calls); err != nil {
			t.Fatalf("request %s: %v", body, err)
		}
		for j, c := range calls {
			if c.ID != first+uint64(j) || c.JSONRPC != "2.0" {
				t.Fatalf("call %d of %s: id %d, want %d", j, body, c.ID, first+uint64(j))
			}
		}
		out = append(out, calls...)
	}
	return out
}

type rpcCall struct {
	JSONRPC string            `json:"jsonrpc"`
	ID      uint64            `json:"id"`
	Method  string            `json:"method"`
	Params  []json.RawMessage `json:"params"`
}

func TestMixWeightsInterleaved(t *testing.T) {
	m, err := NewMix([]MixEntry{{Method: "a", Weight: 3}, {Method: "b", Weight: 1}}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	calls := callsOf(t, m, 400, 0)
	count := map[string]int{}
	for i, c := range calls {
		count[c.Method]++
		// Every window of 4 consecutive calls holds exactly one b.
		if i%4 == 3 {
			b := 0
			for _, w := range calls[i-3 : i+1] {
				if w.Method == "b" {
					b++
				}
			}
			if b != 1 {
				t.Fatalf("calls %d..%d hold %d b, want 1", i-3, i, b)
			}
		}
	}
	if count["a"] != 300 || count["b"] != 100 {
		t.Fatalf("counts %v, want a=300 b=100", count)
	}
}

func TestDistinctParams(t *testing.T) {
	for _, c := range []struct {
		name     string
		distinct bool
		batch    int
		want     int // distinct params seen in 200 calls
	}{
		{"fixed", false, 0, 1},
		{"distinct", true, 0, 200},
		{"distinct batches", true, 10, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := NewMix([]MixEntry{{Method: "eth_getBalance"}}, nil, c.distinct)
			if err != nil {
				t.Fatal(err)
			}
			n := 200
			if c.batch > 0 {
				n /= c.batch
			}
			seen := map[string]bool{}
			for _, call := range callsOf(t, m, n, c.batch) {
				var a string
				if err := json.Unmarshal(call.Params[0], &a); err != nil || len(a) != 42 || !strings.HasPrefix(a, "0x") {
					t.Fatalf("param %s is not an address", call.Params[0])
				}
				seen[a] = true
			}
			if len(seen) != c.want {
				t.Fatalf("%d distinct addresses, want %d", len(seen), c.want)
			}
		})
	}
}

func TestTemplates(t *testing.T) {
	lists := map[string][]any{"addrs": {"0x01", "0x02", "0x03"}, "objs": {map[string]any{"k": 1.0}}}
	for _, c := range []struct {
		name   string
		params any
		want   []string // params of the first calls, as JSON
		err    string
	}{
		{name: "list round robin", params: []any{"$addrs", "latest"},
			want: []string{`["0x01","latest"]`, `["0x02","latest"]`, `["0x03","latest"]`, `["0x01","latest"]`}},
		{name: "object list", params: []any{"$objs"}, want: []string{`[{"k":1}]`}},
		{name: "seq", params: []any{"$seq", true}, want: []string{`["0x0",true]`, `["0x1",true]`}},
		{name: "escape", params: []any{"$$addrs"}, want: []string{`["$addrs"]`}},
		{name: "nested", params: []any{map[string]any{"to": "$addrs", "data": "0x"}},
			want: []string{`[{"data":"0x","to":"0x01"}]`, `[{"data":"0x","to":"0x02"}]`}},
		{name: "no params", params: nil, want: []string{`[]`}},
		{name: "unknown", params: []any{"$nope"}, err: `"$nope" names no list`},
	} {
		t.Run(c.name, func(t *testing.T) {
			params := c.params
			if params == nil {
				params = []any{}
			}
			m, err := NewMix([]MixEntry{{Method: "m", Params: params}}, lists, false)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			src := newCallSource(m)
			for i, want := range c.want {
				body, _ := src.appendRequest(nil, 0)
				var call struct{ Params json.RawMessage }
				if err := json.Unmarshal(body, &call); err != nil {
					t.Fatalf("%s: %v", body, err)
				}
				if string(call.Params) != want {
					t.Fatalf("call %d: params %s, want %s", i, call.Params, want)
				}
			}
		})
	}
}

func TestAddressesDistinct(t *testing.T) {
	seen := map[string]bool{}
	for n := uint64(0); n < 10000; n++ {
		a := string(appendAddress(nil, n))
		if len(a) != 44 || seen[a] {
			t.Fatalf("address %d: %s (len %d, repeated %v)", n, a, len(a), seen[a])
		}
		seen[a] = true
	}
}

func TestMixFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	yamlFile := write("mix.yaml", `
lists:
  addresses: ["0x1111111111111111111111111111111111111111", "0x2222222222222222222222222222222222222222"]
methods:
  - method: eth_getBalance
    weight: 3
    params: ["$addresses", "latest"]
  - method: eth_call
    params: [{to: "$address", data: "0x"}, latest]
  - method: eth_blockNumber
`)
	jsonFile := write("mix.json", `{"lists":{"addresses":["0x1111111111111111111111111111111111111111"]},
 "methods":[{"method":"eth_getBalance","weight":2,"params":["$addresses","latest"]},{"method":"eth_chainId"}]}`)

	m, err := LoadMixFile(yamlFile, false)
	if err != nil {
		t.Fatal(err)
	}
	calls := callsOf(t, m, 50, 0)
	methods := map[string]int{}
	for _, c := range calls {
		methods[c.Method]++
		if c.Method == "eth_call" {
			var obj map[string]string
			if err := json.Unmarshal(c.Params[0], &obj); err != nil || len(obj["to"]) != 42 {
				t.Fatalf("eth_call params %s", c.Params[0])
			}
		}
	}
	if methods["eth_getBalance"] != 30 || methods["eth_call"] != 10 || methods["eth_blockNumber"] != 10 {
		t.Fatalf("mix %v, want 30/10/10", methods)
	}

	if _, err := LoadMixFile(jsonFile, false); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ name, body, err string }{
		{"bad.yaml", "methods:\n  - method: a\n    wieght: 2\n", "wieght"},
		{"bad.json", `{"methods":[{"method":"a","wieght":2}]}`, "wieght"},
		{"empty.yaml", "lists: {}\n", "methods: none given"},
		{"neg.yaml", "methods:\n  - {method: a, weight: -1}\n", "negative"},
		{"list.yaml", "lists: {l: []}\nmethods:\n  - {method: a}\n", "lists.l"},
		{"ref.yaml", "methods:\n  - {method: a, params: [$missing]}\n", "$missing"},
	} {
		_, err := LoadMixFile(write(c.name, c.body), false)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.err)
		}
	}
	if _, err := LoadMixFile(filepath.Join(dir, "missing.yaml"), false); err == nil {
		t.Error("missing file: no error")
	}
}
