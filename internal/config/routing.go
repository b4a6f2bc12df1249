package config

import "reflect"

// EffectiveRouting returns the routing that applies to the chain: top, with
// the fields of the chain's own routing block laid over it.
//
// For a chain loaded from YAML exactly the keys written in its routing block
// override top (so "hedge: false" works). For a Chain built in code, the
// non-zero fields of Routing override top; build such a chain from a full
// Routing value to turn a boolean off.
func (c *Chain) EffectiveRouting(top Routing) Routing {
	if c.Routing == nil {
		return top
	}
	out := top
	dst := reflect.ValueOf(&out).Elem()
	src := reflect.ValueOf(c.Routing).Elem()
	for i := range src.NumField() {
		f := src.Field(i)
		if c.routingSet != 0 {
			if c.routingSet&(1<<i) == 0 {
				continue
			}
		} else if f.IsZero() {
			continue
		}
		dst.Field(i).Set(f)
	}
	return out
}
