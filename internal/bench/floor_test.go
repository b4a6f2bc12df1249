package bench

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFloorEchoesTheID(t *testing.T) {
	s, err := StartFloor("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tt := range []struct{ body, wantID string }{
		{`{"jsonrpc":"2.0","id":17,"method":"eth_getBalance","params":["0x1","latest"]}`, `17`},
		{`{"jsonrpc":"2.0","id": "a\"b","method":"x"}`, `"a\"b"`},
		{`{"jsonrpc":"2.0","method":"x"}`, `null`},
		{`{"jsonrpc":"2.0","method":"x","id":`, `null`},
		{``, `null`},
	} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, strings.NewReader(tt.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var got struct {
			ID     json.RawMessage `json:"id"`
			Result string          `json:"result"`
		}
		if err := json.Unmarshal(b, &got); err != nil || string(got.ID) != tt.wantID || got.Result != "0xde0b6b3a7640000" {
			t.Errorf("%s: answered %s (%v), want id %s", tt.body, b, err, tt.wantID)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}
