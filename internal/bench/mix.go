package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"github.com/rpcmesh/rpcmesh/internal/yamljson"
)

// Limits of a method mix.
const (
	maxMixEntries   = 64
	maxMixWeight    = 10000 // sum of weights; the pick table has this many slots at most
	maxListLen      = 1 << 20
	maxMixFileBytes = 16 << 20
)

// MixEntry is one method of a mix: how often it is called and with what params.
type MixEntry struct {
	// Method is the JSON-RPC method name.
	Method string `json:"method" yaml:"method"`
	// Weight is the method's share of calls relative to the others; 0 means 1.
	Weight int `json:"weight,omitempty" yaml:"weight"`
	// Params is a params template (see template.go); nil means the method's
	// default params (defaultParams).
	Params any `json:"params,omitempty" yaml:"params"`
}

// MixFile is the document --mix-file reads (JSON or YAML):
//
//	lists:
//	  addresses: ["0x...", "0x..."]
//	methods:
//	  - {method: eth_getBalance, weight: 3, params: ["$addresses", "latest"]}
//	  - {method: eth_blockNumber, weight: 1}
type MixFile struct {
	// Lists are named lists of JSON values a params template draws from as "$name".
	Lists map[string][]any `json:"lists,omitempty" yaml:"lists"`
	// Methods are the calls of the mix.
	Methods []MixEntry `json:"methods" yaml:"methods"`
}

// Mix is a compiled weighted set of calls; Run draws every call from it.
// Build one with NewMix, SingleMethod, ParseMixFlag or LoadMixFile.
type Mix struct {
	entries []mixCall
	table   []uint8 // entry index per slot, weights interleaved (smooth weighted round robin)
	spec    []MixEntry
}

// mixCall is one compiled entry.
type mixCall struct {
	method []byte // JSON-quoted method name
	params *template
}

// Entries returns the mix as given (for reports).
func (m *Mix) Entries() []MixEntry { return m.spec }

// NewMix compiles a mix. Entries without params get defaultParams(method,
// distinct); lists are the named lists "$name" templates draw from.
func NewMix(entries []MixEntry, lists map[string][]any, distinct bool) (*Mix, error) {
	if len(entries) == 0 {
		return nil, errors.New("mix: no methods")
	}
	if len(entries) > maxMixEntries {
		return nil, fmt.Errorf("mix: %d methods, at most %d", len(entries), maxMixEntries)
	}
	encoded := make(map[string][][]byte, len(lists))
	for name, values := range lists {
		if name == "" || name == genAddress || name == genSeq || strings.HasPrefix(name, "$") {
			return nil, fmt.Errorf("mix: lists.%s: reserved or empty name", name)
		}
		if len(values) == 0 || len(values) > maxListLen {
			return nil, fmt.Errorf("mix: lists.%s: %d values, want 1..%d", name, len(values), maxListLen)
		}
		enc := make([][]byte, len(values))
		for i, v := range values {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("mix: lists.%s[%d]: %w", name, i, err)
			}
			enc[i] = b
		}
		encoded[name] = enc
	}
	m := &Mix{}
	weights := make([]int, len(entries))
	total := 0
	for i, e := range entries {
		if e.Method == "" {
			return nil, fmt.Errorf("mix: methods[%d]: method is empty", i)
		}
		if e.Weight < 0 {
			return nil, fmt.Errorf("mix: methods[%d] (%s): weight %d is negative", i, e.Method, e.Weight)
		}
		if e.Weight == 0 {
			e.Weight = 1
		}
		params := e.Params
		if params == nil {
			params = defaultParams(e.Method, distinct)
		}
		t, err := compileTemplate(params, encoded)
		if err != nil {
			return nil, fmt.Errorf("mix: methods[%d] (%s): %w", i, e.Method, err)
		}
		name, _ := json.Marshal(e.Method)
		m.entries = append(m.entries, mixCall{method: name, params: t})
		m.spec = append(m.spec, MixEntry{Method: e.Method, Weight: e.Weight, Params: params})
		weights[i] = e.Weight
		total += e.Weight
		if total > maxMixWeight {
			return nil, fmt.Errorf("mix: weights add up to more than %d", maxMixWeight)
		}
	}
	m.table = smoothTable(weights, total)
	return m, nil
}

// smoothTable spreads each entry over total slots in proportion to its
// weight, interleaved (nginx's smooth weighted round robin), so even a short
// run sees the intended mix.
func smoothTable(weights []int, total int) []uint8 {
	current := make([]int, len(weights))
	table := make([]uint8, total)
	for slot := range table {
		best := 0
		for i, w := range weights {
			current[i] += w
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		table[slot] = uint8(best)
	}
	return table
}

// SingleMethod is a mix of one method with its default params; it panics on
// an empty name (a programming error).
func SingleMethod(method string) *Mix {
	m, err := NewMix([]MixEntry{{Method: method}}, nil, false)
	if err != nil {
		panic(err)
	}
	return m
}

// defaultParams are the params a method is called with unless a template is
// given. Calls that take an address get a distinct one per call when distinct
// is set, so no cache or in-flight dedup can merge them.
func defaultParams(method string, distinct bool) any {
	addr := any(fixedAddress)
	if distinct {
		addr = "$" + genAddress
	}
	switch method {
	case "eth_getBalance", "eth_getTransactionCount", "eth_getCode":
		return []any{addr, "latest"}
	case "eth_getStorageAt":
		return []any{addr, "0x0", "latest"}
	case "eth_getBlockByNumber":
		return []any{"latest", false}
	case "eth_call", "eth_estimateGas":
		return []any{map[string]any{"to": addr, "data": "0x"}, "latest"}
	}
	return []any{}
}

// ParseMixFlag parses "eth_blockNumber=3,eth_getBalance=1" (a missing weight
// means 1) into entries.
func ParseMixFlag(s string) ([]MixEntry, error) {
	var out []MixEntry
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		method, weight, hasWeight := strings.Cut(item, "=")
		e := MixEntry{Method: strings.TrimSpace(method), Weight: 1}
		if hasWeight {
			w, err := strconv.Atoi(strings.TrimSpace(weight))
			if err != nil || w <= 0 {
				return nil, fmt.Errorf("mix %q: weight of %s must be a positive integer", s, e.Method)
			}
			e.Weight = w
		}
		if e.Method == "" {
			return nil, fmt.Errorf("mix %q: empty method name", s)
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("mix %q: no methods", s)
	}
	return out, nil
}

// LoadMixFile reads a MixFile (.json, or YAML for any other extension) and
// compiles it.
func LoadMixFile(path string, distinct bool) (*Mix, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mix file: %w", err)
	}
	if len(data) > maxMixFileBytes {
		return nil, fmt.Errorf("mix file %s: larger than %d bytes", path, maxMixFileBytes)
	}
	f, err := ParseMixFile(data, strings.EqualFold(filepath.Ext(path), ".json"))
	if err != nil {
		return nil, fmt.Errorf("mix file %s: %w", path, err)
	}
	m, err := NewMix(f.Methods, f.Lists, distinct)
	if err != nil {
		return nil, fmt.Errorf("mix file %s: %w", path, err)
	}
	return m, nil
}

// ParseMixFile decodes a mix file, rejecting unknown fields.
func ParseMixFile(data []byte, isJSON bool) (*MixFile, error) {
	var f MixFile
	if isJSON {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, err
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil {
			return nil, err
		}
		f.Methods = normalizeYAML(f.Methods)
		for k, l := range f.Lists {
			for i := range l {
				l[i] = yamljson.StringKeys(l[i])
			}
			f.Lists[k] = l
		}
	}
	if len(f.Methods) == 0 {
		return nil, errors.New("methods: none given")
	}
	return &f, nil
}

// normalizeYAML turns YAML's map[any]any (never produced by yaml.v3 for
// string keys, but possible for others) into JSON-encodable values.
func normalizeYAML(es []MixEntry) []MixEntry {
	for i := range es {
		es[i].Params = yamljson.StringKeys(es[i].Params)
	}
	return es
}

// callSource hands out calls of a mix for one target: each call gets the
// next id and, per method, the next draw from its lists and generators, so
// every target of a run sees the same sequence of calls.
type callSource struct {
	mix     *Mix
	next    atomic.Uint64   // call sequence, also the JSON-RPC id
	perCall []atomic.Uint64 // draws per entry
}

func newCallSource(m *Mix) *callSource {
	return &callSource{mix: m, perCall: make([]atomic.Uint64, len(m.entries))}
}

// appendRequest appends a request of n calls (n == 0: a single call, not a
// batch) to dst and returns it with the id of its first call; ids of a batch
// are consecutive.
func (s *callSource) appendRequest(dst []byte, n int) ([]byte, uint64) {
	calls := max(n, 1)
	first := s.next.Add(uint64(calls)) - uint64(calls) + 1
	if n > 0 {
		dst = append(dst, '[')
	}
	for i := 0; i < calls; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		id := first + uint64(i)
		idx := s.mix.table[id%uint64(len(s.mix.table))]
		e := &s.mix.entries[idx]
		dst = append(dst, `{"jsonrpc":"2.0","id":`...)
		dst = strconv.AppendUint(dst, id, 10)
		dst = append(dst, `,"method":`...)
		dst = append(dst, e.method...)
		dst = append(dst, `,"params":`...)
		dst = e.params.render(dst, s.perCall[idx].Add(1)-1)
		dst = append(dst, '}')
	}
	if n > 0 {
		dst = append(dst, ']')
	}
	return dst, first
}
