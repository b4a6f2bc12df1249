package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	t.Setenv("ALCHEMY_API_KEY", "")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("chains:\n  - name: eth\n    chain_id: 1\n    providers:\n      - name: a\n        http: ftp://x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	example := filepath.Join("..", "..", "examples", "rpcmesh.yaml")
	tests := []struct {
		name       string
		args       []string
		wantErr    bool
		wantOut    []string
		wantStderr []string
	}{
		{"example", []string{"check", example}, false, []string{example + ": ok (6 chains, "}, nil},
		{"bad", []string{"check", bad}, true, nil, []string{bad + ":6: chains[0].providers[0].http: \"ftp://x\" is not an http(s) URL"}},
		{"mixed", []string{"check", example, bad}, true, []string{example + ": ok"}, []string{bad + ":6:", "1 of 2 files invalid"}},
		{"missing file", []string{"check", filepath.Join(dir, "nope.yaml")}, true, nil, []string{"nope.yaml"}},
		{"no file", []string{"check"}, true, nil, []string{"usage: rpcmesh config check"}},
		{"no subcommand", nil, true, nil, []string{"usage: rpcmesh config check"}},
		{"unknown subcommand", []string{"lint"}, true, nil, []string{`unknown subcommand "lint"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runConfig(context.Background(), tt.args, &stdout, &stderr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v\nstdout: %s\nstderr: %s", err, tt.wantErr, &stdout, &stderr)
			}
			all := stderr.String()
			if err != nil {
				all += err.Error()
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout %q lacks %q", &stdout, w)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(all, w) {
					t.Errorf("stderr+error %q lacks %q", all, w)
				}
			}
		})
	}
}

func TestConfigHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"check", "-h"}} {
		var stdout, stderr bytes.Buffer
		err := runConfig(context.Background(), args, &stdout, &stderr)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: err = %v, want flag.ErrHelp", args, err)
		}
		if !strings.Contains(stderr.String(), "usage: rpcmesh config check") {
			t.Errorf("%v: no usage in %q", args, &stderr)
		}
	}
}
