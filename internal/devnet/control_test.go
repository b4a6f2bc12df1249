package devnet

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestControlAPI(t *testing.T) {
	srv := httptest.NewServer(dn.ControlHandler(dn.Info))
	defer srv.Close()
	do := func(method, path, body string) (int, map[string]any, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return resp.StatusCode, m, raw
	}
	bad := []struct {
		name, method, path, body string
		status                   int
		msg                      string
	}{
		{"unknown node", "POST", "/faults", `{"target":"node42","kind":"down"}`, 404, "no node matches"},
		{"unknown fault", "POST", "/faults", `{"target":"node1","kind":"meteor"}`, 400, "unknown fault kind"},
		{"bad params", "POST", "/faults", `{"target":"node1","kind":"error","params":{"rate":-1}}`, 400, "rate must be"},
		{"unknown field", "POST", "/faults", `{"target":"node1","kind":"down","oops":1}`, 400, "unknown field"},
		{"not json", "POST", "/faults", `down node1`, 400, "bad fault"},
		{"unknown label", "POST", "/faults", `{"target":"planet=mars","kind":"down"}`, 400, "unknown label"},
		{"too large", "POST", "/faults", `{"target":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "64 KiB"},
		{"unknown id", "DELETE", "/faults/f424242", ``, 404, "no such fault"},
		{"unknown path", "GET", "/nope", ``, 404, "no such endpoint"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			status, m, raw := do(tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, raw)
			}
			if msg, _ := m["error"].(string); !strings.Contains(msg, tc.msg) {
				t.Fatalf("error %q does not say %q", msg, tc.msg)
			}
			if n := len(dn.Faults()); n != 0 {
				t.Fatalf("a rejected request left %d faults", n)
			}
		})
	}

	status, f, raw := do("POST", "/faults", `{"target":"cloud=aws","kind":"slow","params":{"latency":"10ms","jitter":"0s"}}`)
	if status != 200 || f["id"] == "" {
		t.Fatalf("set fault: %d %s", status, raw)
	}
	if nodes, _ := f["nodes"].([]any); len(nodes) != 2 {
		t.Fatalf("cloud=aws matched %v", f["nodes"])
	}
	_, _, list := do("GET", "/faults", "")
	var faults []Fault
	if err := json.Unmarshal(list, &faults); err != nil || len(faults) != 1 || faults[0].ID != f["id"] {
		t.Fatalf("list: %s (%v)", list, err)
	}
	if status, _, raw := do("DELETE", "/faults/"+f["id"].(string), ""); status != 200 {
		t.Fatalf("delete: %d %s", status, raw)
	}
	do("POST", "/faults", `{"target":"node1","kind":"censor"}`)
	do("POST", "/faults", `{"target":"node2","kind":"lag"}`)
	if status, _, _ := do("DELETE", "/faults", ""); status != 200 || len(dn.Faults()) != 0 {
		t.Fatalf("clear all: %d, %d left", status, len(dn.Faults()))
	}
	_, info, raw := do("GET", "/", "")
	if info["chainId"] != float64(1337) || len(info["nodes"].([]any)) != 5 || len(info["accounts"].([]any)) != 10 {
		t.Fatalf("info: %s", raw)
	}
}
