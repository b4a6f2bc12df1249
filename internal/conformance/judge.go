package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Judge decides whether an answer passes as hive's rpc-compat does
// (simulators/ethereum/rpc-compat/main.go, runTest).
type Judge struct {
	Schemas *Schemas // result schemas for speconly tests
}

// Check returns nil when got passes for the step, else what differs.
func (j *Judge) Check(specOnly bool, step Step, got []byte) error {
	gotV, err := decode(got)
	if err != nil {
		return fmt.Errorf("answer is not JSON: %.200s", got)
	}
	wantV, err := decode(step.Want)
	if err != nil {
		return fmt.Errorf("fixture answer is not JSON: %w", err)
	}
	gotObj, _ := gotV.(map[string]any)
	// speconly: an answer without an error needs only a result that
	// conforms to the method's result schema; an error answer is compared.
	if _, hasErr := gotObj["error"]; specOnly && !hasErr {
		res, ok := gotObj["result"]
		if !ok {
			res = nil // hive validates gjson's empty Raw, which fails
		}
		if err := j.Schemas.Validate(step.Method, res); err != nil {
			return fmt.Errorf("result does not conform to the %s result schema: %w", step.Method, err)
		}
		return nil
	}
	redactErrorMessages(gotV, wantV)
	if path, ok := equal("", gotV, wantV); !ok {
		return fmt.Errorf("differs at %s", path)
	}
	return nil
}

func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

// redactErrorMessages deletes "message" from every "error" object that
// both sides have at the same place, walking the expected tree (hive's
// collectErrorMessagePaths): codes and data still count, wording does not.
func redactErrorMessages(got, want any) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				continue
			}
			if k == "error" {
				we, wok := wv.(map[string]any)
				ge, gok := gv.(map[string]any)
				if wok && gok {
					_, wm := we["message"]
					_, gm := ge["message"]
					if wm && gm {
						delete(we, "message")
						delete(ge, "message")
					}
				}
				continue // never descend into an error
			}
			redactErrorMessages(gv, wv)
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return
		}
		for i := range min(len(w), len(g)) {
			redactErrorMessages(g[i], w[i])
		}
	}
}

// equal compares JSON values as hive's jsondiff does with numbers compared
// by value: same keys (a null is not a missing key), same array order.
// It returns where the first difference is, with both sides, when not equal.
func equal(path string, got, want any) (string, bool) {
	at := func() string { return fmt.Sprintf("%s: got %s, want %s", orRoot(path), short(got), short(want)) }
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return at(), false
		}
		keys := make([]string, 0, len(w)+len(g))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, gok := g[k]
			wv, wok := w[k]
			p := path + "." + k
			switch {
			case !gok:
				return fmt.Sprintf("%s: missing, want %s", p, short(wv)), false
			case !wok:
				return fmt.Sprintf("%s: got %s, want no such key", p, short(gv)), false
			}
			if d, ok := equal(p, gv, wv); !ok {
				return d, false
			}
		}
		return "", true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return at(), false
		}
		for i := range w {
			if d, ok := equal(path+"["+strconv.Itoa(i)+"]", g[i], w[i]); !ok {
				return d, false
			}
		}
		return "", true
	case json.Number:
		g, ok := got.(json.Number)
		if !ok || !numbersEqual(g, w) {
			return at(), false
		}
		return "", true
	default: // string, bool, nil
		if got != want {
			return at(), false
		}
		return "", true
	}
}

func numbersEqual(a, b json.Number) bool {
	af, err1 := a.Float64()
	bf, err2 := b.Float64()
	if err1 == nil && err2 == nil {
		return af == bf || math.IsNaN(af) && math.IsNaN(bf)
	}
	return a == b
}

func orRoot(path string) string {
	if path == "" {
		return "."
	}
	return path
}

// short renders a value for a failure line, cut to stay readable.
func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 160 {
		return string(b[:160]) + "…"
	}
	return string(b)
}
