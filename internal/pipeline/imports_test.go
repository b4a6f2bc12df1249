package pipeline_test

import (
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoStageImportsAnother: a stage sees the others only through the
// pipeline core (what they share is on the call); only assemble, which
// wires them, imports stages.
func TestNoStageImportsAnother(t *testing.T) {
	const core = "github.com/rpcmesh/rpcmesh/internal/pipeline"
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	stages := 0
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "assemble" {
			continue
		}
		pkg, err := build.ImportDir(filepath.Join(".", e.Name()), 0)
		if err != nil {
			continue // a folder of tests only (e2e)
		}
		stages++
		for _, imp := range pkg.Imports {
			if strings.HasPrefix(imp, core+"/") {
				t.Errorf("stage %s imports %s", e.Name(), imp)
			}
		}
	}
	if stages < 5 {
		t.Fatalf("found %d stages", stages)
	}
}
