package yamljson

import (
	"encoding/json"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestStringKeys(t *testing.T) {
	cases := []struct{ yaml, json string }{
		{"a: 1", `{"a":1}`},
		{"1: one\ntrue: yes", `{"1":"one","true":"yes"}`},
		{"- {2: [ {3: x} ]}\n- plain", `[{"2":[{"3":"x"}]},"plain"]`},
		{"just a string", `"just a string"`},
	}
	for _, tc := range cases {
		var v any
		if err := yaml.Unmarshal([]byte(tc.yaml), &v); err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		b, err := json.Marshal(StringKeys(v))
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if string(b) != tc.json {
			t.Errorf("%q: %s, want %s", tc.yaml, b, tc.json)
		}
	}
}
