package main

import (
	"encoding/json"
	"os"
	"testing"
)

// TestMain lets a test run this binary's main as a child process (the test
// binary re-executed with RPCMESH_TEST_MAIN set to the arguments as JSON), so
// signal handling is tested on a real process.
func TestMain(m *testing.M) {
	if raw := os.Getenv("RPCMESH_TEST_MAIN"); raw != "" {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			os.Exit(3)
		}
		os.Exit(run(args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
