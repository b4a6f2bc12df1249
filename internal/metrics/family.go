package metrics

import (
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// labelValues are one series' label values, in the order its family
// declares the labels; no family recorded on the request path has more
// than four labels.
type labelValues [4]string

// family is a metric family with labels. Each child (one series per set of
// label values) is registered in the gateway's Set on first use and cached,
// so recording a value neither builds a series name nor takes the Set's lock.
type family[M any] struct {
	name     string
	labels   []string // label names, in the order callers give values
	order    []int    // indices into labels by label name: the exposition order, as client_golang wrote it
	create   func(series string) M
	children childCache[labelValues, M]
}

func newFamily[M any](name string, create func(series string) M, labels ...string) *family[M] {
	if len(labels) > len(labelValues{}) {
		panic("metrics: family " + name + " has more labels than labelValues holds")
	}
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	return &family[M]{name: name, labels: labels, order: order, create: create}
}

// with returns the child for the label values v (in the family's label
// order), creating it on first use.
func (f *family[M]) with(v labelValues) M {
	return f.children.get(v, func() M {
		b := []byte(f.name)
		for n, i := range f.order {
			if n == 0 {
				b = append(b, '{')
			} else {
				b = append(b, ',')
			}
			b = appendLabel(b, f.labels[i], v[i])
		}
		if len(f.order) > 0 {
			b = append(b, '}')
		}
		return f.create(string(b))
	})
}

// appendLabel appends name="value" with the value escaped as the
// Prometheus text format requires (backslash, double quote and line feed),
// so a label value from outside (a provider's name, added at run time
// through the admin API) cannot break the exposition; invalid UTF-8 becomes
// U+FFFD.
func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	for _, r := range value {
		switch r {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = utf8.AppendRune(b, r) // an invalid byte comes as utf8.RuneError
		}
	}
	return append(b, '"')
}

// childCache maps label values to a family's children, built on first use.
// Label values are bounded (chains, providers, known methods, codes), so it
// stays small.
type childCache[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

func (c *childCache[K, V]) get(k K, build func() V) V {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[k]; ok {
		return v
	}
	if c.m == nil {
		c.m = make(map[K]V)
	}
	v = build()
	c.m[k] = v
	return v
}
