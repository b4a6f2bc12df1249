package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxDecodeNodes bounds the work one document may cause, so aliases that
// expand exponentially ("billion laughs") end in an error, not an OOM.
const maxDecodeNodes = 200_000

// maxMergeDepth bounds nested YAML merge keys ("<<: *base").
const maxMergeDepth = 16

// decoder decodes a yaml.Node tree into the config structs, by reflection over
// their yaml tags, remembering where each field was set.
type decoder struct {
	file    string
	lookup  func(string) (string, bool)
	lines   map[string]int  // field path -> line where the file sets it
	fromEnv map[string]bool // field paths whose value came from ${...}
	errs    []*FieldError
	bad     map[string]bool // paths with decode errors; validation stays quiet about them
	budget  int
}

var (
	durationType = reflect.TypeFor[Duration]()
	chainType    = reflect.TypeFor[Chain]()
	providerType = reflect.TypeFor[Provider]()
	routingType  = reflect.TypeFor[Routing]()
	verifyType   = reflect.TypeFor[Verify]()
)

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &FieldError{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
	if d.bad == nil {
		d.bad = map[string]bool{}
	}
	d.bad[path] = true
}

// isBad reports whether path is at or under a path that failed to decode.
func (d *decoder) isBad(path string) bool {
	if len(d.bad) == 0 {
		return false
	}
	for {
		if d.bad[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parent(path)
	}
}

// parent returns the path one level up: "a.b[2]" -> "a.b" -> "a" -> "".
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// maxShown bounds how much of a value an error message quotes.
const maxShown = 80

// quote quotes s for an error message, shortened when long.
func quote(s string) string {
	if len(s) > maxShown {
		s = s[:maxShown] + "..."
	}
	return strconv.Quote(s)
}

// decode sets v from n; path names v in errors ("" for the root).
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.budget--; d.budget < 0 {
		if d.budget == -1 {
			d.errorf(n, path, "document too large (more than %d values after expanding aliases)", maxDecodeNodes)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.errorf(n, path, "unknown alias")
			return
		}
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" or "key: ~" keeps the default
	}
	if v.Type() == durationType {
		d.scalar(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	default:
		d.scalar(n, v, path)
	}
}

// kindName names a node's kind for "expected a list, got a mapping".
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return quote(n.Value)
	}
	return "nothing"
}

// field is one settable struct field with its YAML key.
type field struct {
	key   string
	index int
}

func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" {
			key = strings.ToLower(f.Name)
		}
		out = append(out, field{key, i})
	}
	return out
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping (key: value lines), got %s", kindName(n))
		return
	}
	fields := fieldsOf(v.Type())
	for _, kv := range d.pairs(n, path, 0) {
		k, val := kv[0], kv[1]
		var f *field
		for i := range fields {
			if fields[i].key == k.Value {
				f = &fields[i]
				break
			}
		}
		fpath := join(path, k.Value)
		if f == nil {
			msg := "unknown key " + quote(k.Value)
			if s := suggest(k.Value, fields); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(k, fpath, "%s", msg)
			continue
		}
		d.lines[fpath] = k.Line
		d.decode(val, v.Field(f.index), fpath)
	}
}

// pairs returns n's key/value pairs with YAML merge keys ("<<: *base")
// expanded: keys written in n win over merged ones, and earlier merge sources
// over later ones. Duplicate keys are errors.
func (d *decoder) pairs(n *yaml.Node, path string, depth int) [][2]*yaml.Node {
	var out, merged [][2]*yaml.Node
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be plain words, got %s", kindName(k))
			continue
		}
		if k.Tag == "!!merge" || (k.Value == "<<" && k.Style == 0) {
			merged = append(merged, d.mergeSources(val, path, depth)...)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, join(path, k.Value), "key %s appears twice (first on line %d)", quote(k.Value), first.Line)
			continue
		}
		seen[k.Value] = k
		out = append(out, [2]*yaml.Node{k, val})
	}
	for _, kv := range merged {
		if _, ok := seen[kv[0].Value]; !ok {
			seen[kv[0].Value] = kv[0]
			out = append(out, kv)
		}
	}
	return out
}

// mergeSources returns the pairs a merge key's value brings in: one mapping
// (usually an alias) or a list of them.
func (d *decoder) mergeSources(val *yaml.Node, path string, depth int) [][2]*yaml.Node {
	if depth >= maxMergeDepth {
		d.errorf(val, path, "merge keys nested deeper than %d", maxMergeDepth)
		return nil
	}
	resolve := func(n *yaml.Node) *yaml.Node {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			return n.Alias
		}
		return n
	}
	srcs := []*yaml.Node{resolve(val)}
	if srcs[0].Kind == yaml.SequenceNode {
		srcs = srcs[:0]
		for _, s := range resolve(val).Content {
			srcs = append(srcs, resolve(s))
		}
	}
	var out [][2]*yaml.Node
	for _, s := range srcs {
		if d.budget -= len(s.Content); d.budget < 0 {
			d.errorf(val, path, "document too large (more than %d values after expanding aliases)", maxDecodeNodes)
			return nil
		}
		if s.Kind != yaml.MappingNode {
			d.errorf(val, path, "<< merges a mapping, got %s", kindName(s))
			continue
		}
		out = append(out, d.pairs(s, path, depth+1)...)
	}
	return out
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected a list, got %s", kindName(n))
		return
	}
	et := v.Type().Elem()
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		d.lines[ipath] = item.Line
		e := s.Index(i)
		switch et {
		case chainType:
			e.Set(reflect.ValueOf(DefaultChain()))
		case providerType:
			e.Set(reflect.ValueOf(DefaultProvider()))
		}
		d.decode(item, e, ipath)
	}
	v.Set(s)
}

// scalar decodes one scalar value, after ${ENV} substitution.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "expected a single value, got %s", kindName(n))
		return
	}
	s, err := expandEnv(n.Value, d.lookup)
	if err != nil {
		d.errorf(n, path, "%v", err)
		return
	}
	if s != n.Value {
		d.fromEnv[path] = true
	}
	d.lines[path] = n.Line
	shown := quote(s)
	if d.fromEnv[path] {
		shown = quote(n.Value) // the ${...} as written: never echo a secret
	}
	if v.Type() == durationType {
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.errorf(n, path, "%s is not a duration (write it with a unit: \"250ms\", \"5s\", \"1m\")", shown)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	num := strings.ReplaceAll(s, "_", "") // 1_048_576
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		switch strings.ToLower(s) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.errorf(n, path, "%s is not true or false", shown)
		}
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(num, intBase(num), v.Type().Bits())
		if err != nil {
			d.errorf(n, path, "%s is not an integer%s", shown, rangeHint(err))
			return
		}
		v.SetInt(i)
	case reflect.Uint64:
		u, err := strconv.ParseUint(num, intBase(num), 64)
		if err != nil {
			d.errorf(n, path, "%s is not a non-negative integer%s", shown, rangeHint(err))
			return
		}
		v.SetUint(u)
	case reflect.Float64:
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.errorf(n, path, "%s is not a number", shown)
			return
		}
		v.SetFloat(f)
	default:
		d.errorf(n, path, "cannot decode into %s", v.Type()) // a config type this decoder does not know yet
	}
}

// intBase reads "0x..", "0o..", "0b.." in their base and everything else as
// decimal (so "010" is ten, as in YAML 1.2, not Go's octal eight).
func intBase(s string) int {
	t := strings.TrimLeft(s, "+-")
	if len(t) > 2 && t[0] == '0' && strings.ContainsRune("xXoObB", rune(t[1])) {
		return 0
	}
	return 10
}

func rangeHint(err error) string {
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return " in range"
	}
	return ""
}

// resolveChainRouting records which routing keys each chain's own routing
// block set, and makes the block complete (top-level values for the rest), so
// that both EffectiveRouting and a direct read of Chain.Routing give the
// routing that applies. An empty block is the same as none.
func (d *decoder) resolveChainRouting(cfg *Config) {
	for i := range cfg.Chains {
		ch := &cfg.Chains[i]
		if ch.Routing == nil {
			continue
		}
		prefix := fmt.Sprintf("chains[%d].routing", i)
		ch.routingSet = 0
		for _, f := range fieldsOf(routingType) {
			if _, ok := d.lines[join(prefix, f.key)]; ok {
				ch.routingSet |= 1 << f.index
			}
		}
		if ch.routingSet == 0 {
			ch.Routing = nil
			continue
		}
		r := ch.EffectiveRouting(cfg.Routing)
		ch.Routing = &r
	}
}

// resolveChainVerify completes each chain's verify block with the
// top-level values of the keys it leaves out.
func (d *decoder) resolveChainVerify(cfg *Config) {
	for i := range cfg.Chains {
		ch := &cfg.Chains[i]
		if ch.Verify == nil {
			continue
		}
		prefix := fmt.Sprintf("chains[%d].verify", i)
		out := cfg.Verify
		dst, src := reflect.ValueOf(&out).Elem(), reflect.ValueOf(ch.Verify).Elem()
		for _, f := range fieldsOf(verifyType) {
			if _, ok := d.lines[join(prefix, f.key)]; ok {
				dst.Field(f.index).Set(src.Field(f.index))
			}
		}
		ch.Verify = &out
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// suggest returns the field key closest to a mistyped key, or "".
func suggest(key string, fields []field) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	best, bestDist := "", 3
	for _, f := range fields {
		if norm(key) == f.key {
			return f.key
		}
		if dist := editDistance(key, f.key); dist < bestDist {
			best, bestDist = f.key, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
