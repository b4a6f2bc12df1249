package config

// The YAML library is go.yaml.in/yaml/v3: the YAML org's maintained
// continuation of gopkg.in/yaml.v3 (same API, same parser, fixes since). We parse into its yaml.Node tree, which keeps the line of every
// key and value, and decode that tree ourselves (decode.go) so that every error
// names the field path and line, unknown keys are caught, and all errors are
// reported at once. goccy/go-yaml would also give positions, but we need only
// the node tree, and yaml.v3's is small and well known.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileBytes bounds the size of a config file.
const MaxFileBytes = 4 << 20

// Load reads the config file at path and returns it parsed, defaulted and
// validated (see Parse).
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, &FieldError{File: path, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileBytes)}
	}
	return Parse(data, path)
}

// Parse reads a config from YAML bytes; filename is used only in errors.
//
// ${NAME} and ${NAME:-default} in values are replaced from the environment
// first (in each scalar value of the parsed tree, so a secret can never change
// the file's structure and comments are left alone); a variable that is unset
// and has no default is an error naming it and its line. Then keys the file
// leaves out take their defaults (defaults.go) and the result is validated.
// The error lists every problem found, one *FieldError per line of its
// message (see FieldErrors).
func Parse(data []byte, filename string) (*Config, error) {
	return parse(data, filename, os.LookupEnv)
}

func parse(data []byte, filename string, lookup func(string) (string, bool)) (*Config, error) {
	root, err := parseYAML(data, filename)
	if err != nil {
		return nil, err
	}
	d := &decoder{
		file:    filename,
		lookup:  lookup,
		lines:   map[string]int{},
		fromEnv: map[string]bool{},
		budget:  maxDecodeNodes,
	}
	cfg := Default()
	if root != nil {
		d.decode(root, reflect.ValueOf(cfg).Elem(), "")
	}
	d.resolveChainRouting(cfg)
	d.resolveChainVerify(cfg)
	cfg.Complete()
	v := &validator{file: filename, lines: d.lines, fromEnv: d.fromEnv}
	v.config(cfg)
	errs := d.errs
	for _, e := range v.errs {
		if !d.isBad(e.Path) {
			errs = append(errs, e)
		}
	}
	if err := joinSorted(errs); err != nil {
		return nil, err
	}
	return cfg, nil
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML returns the root node of the single document in data, or nil for
// an empty document.
func parseYAML(data []byte, filename string) (root *yaml.Node, err error) {
	defer func() {
		// The parser is outside code fed outside input: a bug in it must
		// not take the gateway down at reload.
		if r := recover(); r != nil {
			root, err = nil, &FieldError{File: filename, Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(err, filename)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(err, filename)
		}
		return nil, &FieldError{File: filename, Line: next.Line, Msg: "a config file holds one YAML document; found a second one"}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// parserErrors are the yaml.v3 parser's (not scanner's) messages. The library
// numbers their lines from 0 (and names the line where the enclosing list or
// mapping starts), while scanner errors are numbered from 1.
var parserErrors = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
}

// yamlError turns "yaml: line 3: msg" into a FieldError at line 3.
func yamlError(err error, filename string) error {
	msg := err.Error()
	fe := &FieldError{File: filename, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		fe.Msg = "invalid YAML: " + m[2]
		if parserErrors[m[2]] {
			fe.Line++
		}
	}
	return fe
}
