package bench

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHopForwards(t *testing.T) {
	floor, err := StartFloor("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer floor.Close()
	// A port nothing listens on: taken, then given back.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tt := range []struct {
		name, to   string
		wantStatus int
		wantBody   string
	}{
		{"answer handed back", floor.URL, 200, `{"jsonrpc":"2.0","id":17,"result":"0xde0b6b3a7640000"}`},
		{"upstream refuses", closed, 502, "bench hop: upstream: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hop, err := StartHop("127.0.0.1:0", tt.to)
			if err != nil {
				t.Fatal(err)
			}
			defer hop.Close()
			body := `{"jsonrpc":"2.0","id":17,"method":"eth_getBalance","params":["0x1","latest"]}`
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hop.URL, strings.NewReader(body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || !strings.HasPrefix(string(b), tt.wantBody) {
				t.Errorf("answered %d %s, want %d %s…", resp.StatusCode, b, tt.wantStatus, tt.wantBody)
			}
			if err := hop.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
}

func TestHopRefusesABadUpstream(t *testing.T) {
	for _, to := range []string{"", "ws://127.0.0.1:1", "127.0.0.1:1", "http://"} {
		if _, err := StartHop("127.0.0.1:0", to); err == nil || !strings.Contains(err.Error(), "http:// URL") {
			t.Errorf("StartHop(%q) = %v, want an error naming http:// URLs", to, err)
		}
	}
}
