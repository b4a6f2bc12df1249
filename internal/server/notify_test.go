package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/notify"
)

// TestNotifyRoute: a gateway with webhooks serves GET /notify on its
// admin listener: each webhook by name, its URL cut to scheme and host,
// never its secret or the token in its path.
func TestNotifyRoute(t *testing.T) {
	const secret, token = "webhook-secret-0123456789", "T000/B000/XXXXtoken"
	tg := startGateway(t, 1, func(c *config.Config) {
		c.Notify.Webhooks = []config.Webhook{
			{Name: "ops", URL: "http://127.0.0.1:1/rpcmesh", Secret: secret, MinSeverity: "major"},
			{Name: "chat", URL: "https://hooks.slack.com/services/" + token, Format: config.WebhookSlack},
		}
	})
	resp, err := http.Get("http://" + tg.gw.AdminAddr() + "/notify")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /notify: %d %s", resp.StatusCode, body)
	}
	for _, s := range []string{secret, token, "/rpcmesh"} {
		if strings.Contains(string(body), s) {
			t.Errorf("GET /notify shows %q: %s", s, body)
		}
	}
	var st notify.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Webhooks) != 2 || st.Webhooks[0].Name != "ops" || st.Webhooks[0].URL != "http://127.0.0.1:1" ||
		st.Webhooks[1].Format != "slack" || st.Webhooks[1].URL != "https://hooks.slack.com" || st.Webhooks[1].DeadLetters == nil {
		t.Errorf("GET /notify: %s", body)
	}
}
