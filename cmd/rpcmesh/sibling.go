package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// sibling is a command served by another rpcmesh binary: the devnet and
// the load generator link go-ethereum's node, which the gateway must not.
type sibling struct {
	binary string   // rpcmesh-devnet, rpcmesh-bench
	prefix []string // arguments before the user's (demo, chaos)
	doc    string   // where it is documented
}

// run replaces this process with the sibling binary, found next to this
// executable or on PATH, passing the arguments through; when there is none
// it says how to get it and returns 2.
func (s sibling) run(name string, args []string, stderr io.Writer) int {
	path, err := s.find()
	if err != nil {
		cmd := strings.Join(append([]string{"./cmd/" + s.binary}, s.prefix...), " ")
		fmt.Fprintf(stderr, "rpcmesh %s: %s is a binary of its own, not found next to rpcmesh or on PATH: "+
			"go run %s [flags] from a checkout, or install it with go install github.com/rpcmesh/rpcmesh/cmd/%s@latest "+
			"(or make tools); see %s\n", name, s.binary, cmd, s.binary, s.doc)
		return 2
	}
	argv := append(append([]string{path}, s.prefix...), args...)
	// Exec, not a child: the sibling gets the terminal and the signals.
	err = syscall.Exec(path, argv, os.Environ())
	fmt.Fprintf(stderr, "rpcmesh %s: run %s: %v\n", name, path, err)
	return 1
}

// find looks for the binary next to this executable, then on PATH.
func (s sibling) find() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), s.binary)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(s.binary)
	if err != nil {
		return "", errors.New(s.binary + " not found")
	}
	return filepath.Abs(p)
}
