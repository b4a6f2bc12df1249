package server

import (
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
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
	for _, file := range []string{"calls.go", "http.go", "verified.go", "fast.go"} {
		if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
			continue // fast.go goes when the public listener has one HTTP stack
		}
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
