package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// runVersion runs "rpcmesh version": what an operator reports with a bug,
// the module version and source revision the binary was built from.
func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "usage: rpcmesh version\n\nPrints the version, source revision and Go version the binary was built with.", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, versionLine(bi))
	return nil
}

// versionLine is "rpcmesh VERSION [revision REV[, modified]] GOVERSION"
// from the build information Go records in the binary (nil: none).
func versionLine(bi *debug.BuildInfo) string {
	if bi == nil {
		return "rpcmesh (unknown version: built without module information)"
	}
	line := "rpcmesh " + bi.Main.Version
	if bi.Main.Version == "" {
		line = "rpcmesh (devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		line += " revision " + rev[:min(len(rev), 12)]
		if modified == "true" {
			line += ", modified"
		}
	}
	return line + " " + bi.GoVersion
}
