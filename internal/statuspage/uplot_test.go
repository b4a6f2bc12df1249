package statuspage

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// clientsDir is the npm project that pins uPlot (clients/package.json).
const clientsDir = "../../clients"

// TestUPlotIsThePinnedPackage: the uPlot files served from the binary are
// byte for byte those of the version clients/package.json pins, as npm ci
// installs it (CI runs npm ci before the tests). Updating uPlot: change the
// version there, npm install, copy dist/uPlot.iife.min.js,
// dist/uPlot.min.css and LICENSE into web/uplot/.
func TestUPlotIsThePinnedPackage(t *testing.T) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSON(t, filepath.Join(clientsDir, "package.json"), &pkg)
	pinned := pkg.Dependencies["uplot"]
	if pinned == "" || pinned[0] < '0' || pinned[0] > '9' {
		t.Fatalf("clients/package.json pins uplot as %q: want an exact version", pinned)
	}
	mod := filepath.Join(clientsDir, "node_modules", "uplot")
	if _, err := os.Stat(mod); errors.Is(err, fs.ErrNotExist) {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: CI runs npm ci in clients/ first", mod)
		}
		t.Skipf("%s is missing: run npm ci in clients/", mod)
	}
	var installed struct {
		Version string `json:"version"`
	}
	readJSON(t, filepath.Join(mod, "package.json"), &installed)
	if installed.Version != pinned {
		t.Fatalf("clients/node_modules has uplot %s, package.json pins %s: run npm ci in clients/", installed.Version, pinned)
	}
	for embedded, npm := range map[string]string{
		"uPlot.iife.min.js": "dist/uPlot.iife.min.js",
		"uPlot.min.css":     "dist/uPlot.min.css",
		"LICENSE":           "LICENSE",
	} {
		got, err := fs.ReadFile(web, "web/uplot/"+embedded)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(mod, npm))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("web/uplot/%s differs from uplot %s's %s: copy it again", embedded, pinned, npm)
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
