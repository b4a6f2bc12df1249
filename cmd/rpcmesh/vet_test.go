package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestVetExitStatus: rpcmesh vet's exit status reaches the process as vet
// gives it (2 for bad usage, 0 for --help), with its message once.
func TestVetExitStatus(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"vet"}, 2, "usage: rpcmesh vet URL"},
		{[]string{"vet", "--help"}, 0, "usage: rpcmesh vet URL"},
		{[]string{"vet", "ftp://example.org", "--against", "/nonexistent.yaml"}, 2, `rpcmesh vet: "ftp://example.org" is not a http:// or https:// URL`},
		{[]string{"vet", "http://127.0.0.1:1", "--against", "/nonexistent.yaml"}, 2, "rpcmesh vet: --against: config: open /nonexistent.yaml"},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, code, tc.code, stderr.String())
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: stderr lacks %q:\n%s", tc.args, tc.want, stderr.String())
		}
		if strings.Contains(stderr.String(), "exit status") {
			t.Errorf("%v: the exit status is printed as an error:\n%s", tc.args, stderr.String())
		}
	}
}
