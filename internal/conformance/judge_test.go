package conformance

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// specSchemas compiles the spec's result schemas once for the tests here.
var specSchemas = sync.OnceValues(func() (*Schemas, error) {
	return LoadSchemas(filepath.Join(fixturesDir, "src"))
})

func testJudge(t *testing.T) *Judge {
	t.Helper()
	s, err := specSchemas()
	if err != nil {
		t.Fatal(err)
	}
	return &Judge{Schemas: s}
}

// TestJudge checks the comparison rules hive's rpc-compat applies.
func TestJudge(t *testing.T) {
	j := testJudge(t)
	tests := []struct {
		name     string
		specOnly bool
		method   string
		want     string
		got      string
		pass     bool
	}{
		{name: "equal", want: `{"jsonrpc":"2.0","id":1,"result":"0x1"}`, got: `{"id":1,"result":"0x1","jsonrpc":"2.0"}`, pass: true},
		{name: "other string", want: `{"jsonrpc":"2.0","id":1,"result":"0x1"}`, got: `{"jsonrpc":"2.0","id":1,"result":"0x01"}`},
		{name: "id counts", want: `{"jsonrpc":"2.0","id":1,"result":null}`, got: `{"jsonrpc":"2.0","id":2,"result":null}`},
		{name: "numbers by value", want: `{"jsonrpc":"2.0","id":1,"result":null}`, got: `{"jsonrpc":"2.0","id":1.0,"result":null}`, pass: true},
		{name: "null is not missing", want: `{"jsonrpc":"2.0","id":1,"result":{"a":null}}`, got: `{"jsonrpc":"2.0","id":1,"result":{}}`},
		{name: "extra key", want: `{"jsonrpc":"2.0","id":1,"result":{}}`, got: `{"jsonrpc":"2.0","id":1,"result":{"a":1}}`},
		{name: "array order", want: `{"jsonrpc":"2.0","id":1,"result":[1,2]}`, got: `{"jsonrpc":"2.0","id":1,"result":[2,1]}`},
		{name: "error message ignored", want: `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"a"}}`, got: `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"b"}}`, pass: true},
		{name: "error code counts", want: `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"a"}}`, got: `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"a"}}`},
		{name: "error data counts", want: `{"jsonrpc":"2.0","id":1,"error":{"code":3,"message":"a","data":"0x1"}}`, got: `{"jsonrpc":"2.0","id":1,"error":{"code":3,"message":"a","data":"0x2"}}`},
		{name: "error for a result", want: `{"jsonrpc":"2.0","id":1,"result":null}`, got: `{"jsonrpc":"2.0","id":1,"error":{"code":-32012,"message":"x"}}`},
		{name: "nested error message ignored", want: `{"jsonrpc":"2.0","id":1,"result":[{"calls":[{"error":{"code":3,"message":"a"}}]}]}`, got: `{"jsonrpc":"2.0","id":1,"result":[{"calls":[{"error":{"code":3,"message":"b"}}]}]}`, pass: true},
		{name: "message only on one side", want: `{"jsonrpc":"2.0","id":1,"error":{"code":3}}`, got: `{"jsonrpc":"2.0","id":1,"error":{"code":3,"message":"b"}}`},
		{name: "not JSON", want: `{"jsonrpc":"2.0","id":1,"result":null}`, got: `oops`},
		{name: "speconly valid", specOnly: true, method: "txpool_status", want: `{"jsonrpc":"2.0","id":1,"result":{"pending":"0x1","queued":"0x0"}}`, got: `{"jsonrpc":"2.0","id":1,"result":{"pending":"0x5","queued":"0x2"}}`, pass: true},
		{name: "speconly invalid", specOnly: true, method: "txpool_status", want: `{"jsonrpc":"2.0","id":1,"result":{"pending":"0x1","queued":"0x0"}}`, got: `{"jsonrpc":"2.0","id":1,"result":{"pending":5,"queued":"0x2"}}`},
		{name: "speconly error compared", specOnly: true, method: "txpool_status", want: `{"jsonrpc":"2.0","id":1,"result":{"pending":"0x1","queued":"0x0"}}`, got: `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"x"}}`},
		{name: "speconly unknown method", specOnly: true, method: "eth_nothing", want: `{"jsonrpc":"2.0","id":1,"result":"0x1"}`, got: `{"jsonrpc":"2.0","id":1,"result":"0x1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := j.Check(tt.specOnly, Step{Method: tt.method, Want: []byte(tt.want)}, []byte(tt.got))
			if tt.pass && err != nil {
				t.Errorf("want pass, got %v", err)
			}
			if !tt.pass && err == nil {
				t.Error("want a failure, got a pass")
			}
		})
	}
}

// TestFixturesLoad checks the snapshot: 232 tests in hive's order, each
// with at least one request, and a schema for every speconly method.
func TestFixturesLoad(t *testing.T) {
	fs, err := LoadFixtures(filepath.Join(fixturesDir, "tests"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 232 {
		t.Errorf("%d fixtures, want 232", len(fs))
	}
	j := testJudge(t)
	for i, f := range fs {
		// filepath.Walk order, as hive's: by file name, ".io" included.
		if i > 0 && fs[i-1].Path+".io" >= f.Path+".io" {
			t.Errorf("%s runs after %s", f.Path, fs[i-1].Path)
		}
		if len(f.Steps) == 0 {
			t.Errorf("%s: no request", f.Path)
		}
		for _, s := range f.Steps {
			if f.SpecOnly && j.Schemas.byMethod[s.Method] == nil {
				t.Errorf("%s: no result schema for %s", f.Path, s.Method)
			}
		}
	}
}

// TestKnownFailuresFile checks the list parses and names real tests.
func TestKnownFailuresFile(t *testing.T) {
	k, err := LoadKnown(knownFile)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := LoadFixtures(filepath.Join(fixturesDir, "tests"))
	if err != nil {
		t.Fatal(err)
	}
	checkKnownNames(t, k, fs)
	for cfg, tests := range k {
		for p, reason := range tests {
			if strings.TrimSpace(reason) == "" {
				t.Errorf("%s %s: no reason", cfg, p)
			}
		}
	}
}
