package conformance

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/rpcmesh/rpcmesh/internal/yamljson"
)

// The spec's source folders hive's rpc-compat builds openrpc.json from
// (its Dockerfile: specgen -schemas … -methods …), relative to src/.
var (
	schemaDirs = []string{"schemas", "engine/openrpc/schemas"}
	methodDirs = []string{"eth", "debug", "txpool", "testing"}
)

// specURL names the in-memory document every result schema lives in, so
// their "#/components/schemas/…" references resolve within it.
const specURL = "mem:///openrpc.json"

// Schemas holds the compiled result schema of each method of the spec.
type Schemas struct {
	byMethod map[string]*jsonschema.Schema
}

// LoadSchemas reads the spec's YAML sources under src and compiles every
// method's result schema against draft 2019-09, the draft hive forces.
func LoadSchemas(src string) (*Schemas, error) {
	components := map[string]any{}
	for _, d := range schemaDirs {
		if err := walkYAML(filepath.Join(src, d), func(path string, v any) error {
			m, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("%s: not a map of schemas", path)
			}
			for k, s := range m {
				components[k] = s
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	results := map[string]any{}
	for _, d := range methodDirs {
		if err := walkYAML(filepath.Join(src, d), func(path string, v any) error {
			list, ok := v.([]any)
			if !ok {
				return fmt.Errorf("%s: not a list of methods", path)
			}
			for _, item := range list {
				m, _ := item.(map[string]any)
				name, _ := m["name"].(string)
				res, _ := m["result"].(map[string]any)
				if name == "" || res == nil || res["schema"] == nil {
					continue // no result schema: hive skips it too
				}
				results[name] = res["schema"]
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	doc, err := asJSONValue(map[string]any{"components": map[string]any{"schemas": components}, "results": results})
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2019)
	if err := c.AddResource(specURL, doc); err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	s := &Schemas{byMethod: map[string]*jsonschema.Schema{}}
	for name := range results {
		sch, err := c.Compile(specURL + "#/results/" + name)
		if err != nil {
			return nil, fmt.Errorf("result schema of %s: %w", name, err)
		}
		s.byMethod[name] = sch
	}
	return s, nil
}

// Validate checks a decoded result (json.Number for numbers) against the
// method's result schema.
func (s *Schemas) Validate(method string, result any) error {
	sch := s.byMethod[method]
	if sch == nil {
		return fmt.Errorf("no result schema for %s in the spec", method)
	}
	return sch.Validate(result)
}

func walkYAML(dir string, fn func(path string, v any) error) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("spec: %w", err)
		}
		if d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("spec: %w", err)
		}
		var v any
		if err := yaml.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("spec %s: %w", path, err)
		}
		return fn(path, v)
	})
}

// asJSONValue turns YAML-decoded values into what the schema compiler
// takes (JSON's types, json.Number for numbers) by a JSON round trip.
func asJSONValue(v any) (any, error) {
	b, err := json.Marshal(yamljson.StringKeys(v))
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	out, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	return out, nil
}
