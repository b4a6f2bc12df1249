package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestFiltersInStatusAndMetrics: the filters the gateway keeps for a
// chain's clients are counted in /status and /metrics, and uninstalling
// one takes it off the count.
func TestFiltersInStatusAndMetrics(t *testing.T) {
	tg := startGateway(t, 1, nil)
	count := func() (status int, metric string) {
		t.Helper()
		resp, err := http.Get("http://" + tg.gw.AdminAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, `rpcmesh_chain_filters{chain="dev"}`) {
				metric = strings.TrimSpace(strings.TrimPrefix(line, `rpcmesh_chain_filters{chain="dev"}`))
			}
		}
		return tg.gw.Status().Chains[0].Filters, metric
	}
	if s, m := count(); s != 0 || m != "0" {
		t.Fatalf("before any filter: status %d, metric %q; want 0 and 0", s, m)
	}
	_, _, body := tg.post(t, "/dev", `{"jsonrpc":"2.0","id":1,"method":"eth_newBlockFilter","params":[]}`)
	id := strings.TrimSuffix(strings.TrimPrefix(body, `{"jsonrpc":"2.0","id":1,"result":"`), `"}`)
	if !strings.HasPrefix(id, "0x") {
		t.Fatalf("eth_newBlockFilter: %s", body)
	}
	if s, m := count(); s != 1 || m != "1" {
		t.Fatalf("with one filter: status %d, metric %q; want 1 and 1", s, m)
	}
	if _, _, body := tg.post(t, "/dev", `{"jsonrpc":"2.0","id":2,"method":"eth_uninstallFilter","params":["`+id+`"]}`); !strings.Contains(body, `"result":true`) {
		t.Fatalf("eth_uninstallFilter: %s", body)
	}
	if s, m := count(); s != 0 || m != "0" {
		t.Fatalf("after uninstalling: status %d, metric %q; want 0 and 0", s, m)
	}
	http.DefaultClient.CloseIdleConnections()
}
