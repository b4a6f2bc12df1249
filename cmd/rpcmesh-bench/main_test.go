package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRunExitCodes runs the command's entry as a user would: --help of each
// mode prints its usage and exits 0, a bad flag or argument exits 1 with a
// message naming the command.
func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"--help"}, 0, "usage: rpcmesh-bench --target"},
		{[]string{"upstream", "--help"}, 0, "usage: rpcmesh-bench upstream"},
		{[]string{"floor", "--help"}, 0, "usage: rpcmesh-bench floor"},
		{[]string{"--concurrency", "many"}, 1, "rpcmesh-bench: "},
		{[]string{"extra"}, 1, "rpcmesh-bench: unexpected argument"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(tt.args, &stdout, &stderr); code != tt.code || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr.String(), tt.code, tt.want)
		}
	}
}
