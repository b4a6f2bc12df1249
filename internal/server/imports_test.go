package server

import (
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// TestCallPathImports: the front door's call path knows the pipeline's
// contract and the JSON-RPC envelope, nothing behind them (no stage, no
// routing, no upstream): what a stage tells it is on the call.
func TestCallPathImports(t *testing.T) {
	allowed := map[string]bool{
		"github.com/rpcmesh/rpcmesh/internal/jsonrpc":  true,
		"github.com/rpcmesh/rpcmesh/internal/pipeline": true,
	}
	for _, file := range []string{"calls.go", "http.go", "verified.go", "listener.go", "cors.go"} {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/rpcmesh/") && !allowed[path] {
				t.Errorf("%s imports %s", file, path)
			}
		}
	}
}
