// Package clientlibs finds the real client libraries (ethers v6, viem) the
// tests drive: Node and the modules `npm ci` installs in clients/ from its
// lockfile (.ci/run does it). It is used by tests only.
package clientlibs

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Dir returns the absolute path of clients/ and of the node binary. It
// skips the test when either or the installed modules are missing, unless
// CI is set: in CI they must be there, and their absence fails the test.
func Dir(t testing.TB) (dir, node string) {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(root, "clients")
	missing := func(what string) {
		msg := what + ": the ethers and viem tests need Node 20 and `npm ci` in clients/ (.ci/run does it)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "; CI is set, so this is a failure")
		}
		t.Skip(msg)
	}
	node, err = exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	for _, mod := range []string{"ethers", "viem"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", mod, "package.json")); err != nil {
			missing(mod + " is not installed in clients/node_modules")
		}
	}
	return dir, node
}

// repoRoot is the nearest directory above the working directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
