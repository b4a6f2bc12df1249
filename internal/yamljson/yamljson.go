// Package yamljson makes values decoded from YAML encodable as JSON: YAML
// allows map keys that are not strings (numbers, booleans), which the
// decoder returns as map[any]any and encoding/json refuses.
package yamljson

import "fmt"

// StringKeys returns v with every map[any]any below it turned into a
// map[string]any, its keys written as fmt prints them. Maps and slices
// with string keys are rewritten in place.
func StringKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = StringKeys(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = StringKeys(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = StringKeys(e)
		}
		return x
	}
	return v
}
