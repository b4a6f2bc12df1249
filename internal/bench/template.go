package bench

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// A params template is JSON in which a string "$name" stands for a value
// drawn per call: from the list called name in the mix file (round robin), or
// from a built-in generator. "$$..." is the literal string "$...".
//
// Built-in generators:
//
//	$address  a distinct 20-byte address per call
//	$seq      the call's sequence number as a hex quantity ("0x1f")
const (
	genAddress = "address"
	genSeq     = "seq"
)

// fixedAddress is the address default params use unless calls must be distinct.
const fixedAddress = "0x00000000000000000000000000000000000000aa"

// template is a params value compiled to literal pieces and slots.
type template struct {
	parts []templatePart
}

// templatePart is literal JSON, or a slot filled per call from a list or a generator.
type templatePart struct {
	lit  []byte
	list [][]byte // pre-encoded values, drawn round robin
	gen  string
}

// compileTemplate compiles a decoded params value (nil means no params).
// lists holds the mix file's named lists, already JSON-encoded.
func compileTemplate(params any, lists map[string][][]byte) (*template, error) {
	t := &template{}
	if params == nil {
		params = []any{}
	}
	if err := t.add(params, lists); err != nil {
		return nil, err
	}
	// Merge adjacent literals so rendering appends as few pieces as possible.
	merged := t.parts[:0]
	for _, p := range t.parts {
		if n := len(merged); n > 0 && p.lit != nil && merged[n-1].lit != nil {
			merged[n-1].lit = append(merged[n-1].lit, p.lit...)
			continue
		}
		merged = append(merged, p)
	}
	t.parts = merged
	return t, nil
}

func (t *template) literal(b []byte) {
	t.parts = append(t.parts, templatePart{lit: append([]byte(nil), b...)})
}

func (t *template) add(v any, lists map[string][][]byte) error {
	switch v := v.(type) {
	case string:
		return t.addString(v, lists)
	case []any:
		t.literal([]byte("["))
		for i, e := range v {
			if i > 0 {
				t.literal([]byte(","))
			}
			if err := t.add(e, lists); err != nil {
				return err
			}
		}
		t.literal([]byte("]"))
		return nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.literal([]byte("{"))
		for i, k := range keys {
			if i > 0 {
				t.literal([]byte(","))
			}
			kb, _ := json.Marshal(k)
			t.literal(append(kb, ':'))
			if err := t.add(v[k], lists); err != nil {
				return err
			}
		}
		t.literal([]byte("}"))
		return nil
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("params: %w", err)
		}
		t.literal(b)
		return nil
	}
}

func (t *template) addString(s string, lists map[string][][]byte) error {
	if !strings.HasPrefix(s, "$") {
		b, _ := json.Marshal(s)
		t.literal(b)
		return nil
	}
	if strings.HasPrefix(s, "$$") {
		b, _ := json.Marshal(s[1:])
		t.literal(b)
		return nil
	}
	name := s[1:]
	if l, ok := lists[name]; ok {
		t.parts = append(t.parts, templatePart{list: l})
		return nil
	}
	switch name {
	case genAddress, genSeq:
		t.parts = append(t.parts, templatePart{gen: name})
		return nil
	}
	return fmt.Errorf("params: %q names no list and no generator (lists: %s; generators: $address, $seq)",
		s, strings.Join(sortedKeys(lists), ", "))
}

// render appends the params of call number n (counted per method) to dst.
func (t *template) render(dst []byte, n uint64) []byte {
	for _, p := range t.parts {
		switch {
		case p.lit != nil:
			dst = append(dst, p.lit...)
		case p.list != nil:
			dst = append(dst, p.list[n%uint64(len(p.list))]...)
		case p.gen == genAddress:
			dst = appendAddress(dst, n)
		case p.gen == genSeq:
			dst = append(dst, `"0x`...)
			dst = strconv.AppendUint(dst, n, 16)
			dst = append(dst, '"')
		}
	}
	return dst
}

// appendAddress appends a quoted address that is distinct for each n and
// does not look sequential (the low 8 bytes hold n, the rest a hash of it).
func appendAddress(dst []byte, n uint64) []byte {
	const hexdigits = "0123456789abcdef"
	dst = append(dst, `"0x`...)
	h := splitmix64(n)
	for _, v := range [...]struct {
		x      uint64
		digits int
	}{{0xbe0c4, 5}, {h >> 12, 13}, {h ^ 0x9e37, 6}, {n, 16}} {
		for i := v.digits - 1; i >= 0; i-- {
			dst = append(dst, hexdigits[(v.x>>(4*uint(i)))&0xf])
		}
	}
	return append(dst, '"')
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
