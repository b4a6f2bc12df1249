package subscribe

import (
	"encoding/json"
	"testing"
)

// FuzzLogFilter: a client's logs filter never panics the parser or the
// matcher, and a filter that parses matches deterministically.
func FuzzLogFilter(f *testing.F) {
	for _, s := range []string{`{}`, `null`, `{"address":"0xaa"}`, `{"address":["0xaa","0xbb"],"topics":[null,["0x01","0x02"],"0x03"]}`, `{"topics":[1]}`, `[]`} {
		f.Add(s)
	}
	l := &logEntry{address: "0xaa", topics: []string{"0x01", "0x02", "0x03"}}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := parseLogFilter(json.RawMessage(s))
		if err != nil {
			return
		}
		first := flt.match(l)
		if again := flt.match(l); again != first {
			t.Fatal("match is not deterministic")
		}
		if len(flt.topics) > 4 {
			t.Fatalf("%d topic positions accepted", len(flt.topics))
		}
	})
}
