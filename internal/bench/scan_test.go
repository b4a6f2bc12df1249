package bench

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzScanRequest: on any valid JSON object whose member names encoding/json
// cannot match case-insensitively, the scanner finds the same id, method and
// params as encoding/json.
func FuzzScanRequest(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0xab","latest"]}`))
	f.Add([]byte(` { "params" : [ {"a":"}]"} ] , "method":"m\"x", "id":"s\\"} `))
	f.Add([]byte(`{"id":1,"id":2,"x":{"id":3},"method":null}`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		// On any input, valid or not, the scanner ends without panicking.
		scanRequest(msg)
		forEachElement(msg, func([]byte) {})
		firstParam(msg)
		if !json.Valid(msg) || bytes.ContainsFunc(msg, func(r rune) bool { return r >= 'A' && r <= 'Z' || r > 0x7f }) {
			return
		}
		got, ok := scanRequest(msg)
		want, err := decodeRequest(msg)
		if !ok {
			if err == nil && !bytes.Contains(msg, []byte(`\`)) {
				t.Fatalf("scanner refused %s", msg)
			}
			return
		}
		if err != nil {
			t.Fatalf("scanner read %s, encoding/json refused it: %v", msg, err)
		}
		for _, c := range []struct {
			name      string
			got, want []byte
		}{{"id", got.id, want.id}, {"method", got.method, want.method}, {"params", got.params, want.params}} {
			// Tolerate encoding/json leaving a RawMessage nil for a null member.
			if !bytes.Equal(c.got, c.want) && !(string(c.got) == "null" && c.want == nil) {
				t.Fatalf("%s of %s: scanner %q, encoding/json %q", c.name, msg, c.got, c.want)
			}
		}
	})
}

func TestParseQuantity(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    uint64
		okay bool
	}{
		{"0x0", 0, true}, {"0x1f", 31, true}, {"0xFFFFFFFFFFFFFFFF", 1<<64 - 1, true},
		{"0x", 0, false}, {"1f", 0, false}, {"0xg", 0, false}, {"0x10000000000000000", 0, false},
	} {
		n, ok := parseQuantity([]byte(c.in))
		if n != c.n || ok != c.okay {
			t.Errorf("%s: %d %v, want %d %v", c.in, n, ok, c.n, c.okay)
		}
	}
}
