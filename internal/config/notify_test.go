package config

import (
	"strings"
	"testing"
	"time"
)

// withHook is a valid config with one json webhook, edited.
func withHook(edit func(*Notify)) *Config {
	c := oneChainConfig()
	c.Notify.Webhooks = []Webhook{{Name: "ops", URL: "https://hooks.example.com/rpcmesh", Secret: "0123456789abcdef"}}
	if edit != nil {
		edit(&c.Notify)
	}
	return c
}

func TestNotifyValidation(t *testing.T) {
	if err := withHook(nil).Validate(); err != nil {
		t.Fatalf("one webhook: %v", err)
	}
	if err := oneChainConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		name, path, msg string
		edit            func(*Notify)
	}{
		{"no name", "notify.webhooks[0].name", "needs a name", func(n *Notify) { n.Webhooks[0].Name = "" }},
		{"same name", "notify.webhooks[1].name", `"ops" is also the name of notify.webhooks[0]`, func(n *Notify) { n.Webhooks = append(n.Webhooks, n.Webhooks[0]) }},
		{"no url", "notify.webhooks[0].url", "needs a url", func(n *Notify) { n.Webhooks[0].URL = "" }},
		{"url scheme", "notify.webhooks[0].url", `must start with http:// or https://, got scheme "ftp"`, func(n *Notify) { n.Webhooks[0].URL = "ftp://hooks.example.com/x" }},
		{"url without scheme", "notify.webhooks[0].url", "must start with http://", func(n *Notify) { n.Webhooks[0].URL = "hooks.example.com/x" }},
		{"url without host", "notify.webhooks[0].url", "has no host", func(n *Notify) { n.Webhooks[0].URL = "https:///x" }},
		{"url unparsable", "notify.webhooks[0].url", "not a URL", func(n *Notify) { n.Webhooks[0].URL = "https://h/%zz" }},
		{"no secret", "notify.webhooks[0].secret", "a json webhook needs a secret", func(n *Notify) { n.Webhooks[0].Secret = "" }},
		{"short secret", "notify.webhooks[0].secret", "is 5 characters, at least 16", func(n *Notify) { n.Webhooks[0].Secret = "short" }},
		{"short secret on slack", "notify.webhooks[0].secret", "at least 16", func(n *Notify) { n.Webhooks[0].Format, n.Webhooks[0].Secret = "slack", "short" }},
		{"format", "notify.webhooks[0].format", `"xml" is not json or slack`, func(n *Notify) { n.Webhooks[0].Format = "xml" }},
		{"severity", "notify.webhooks[0].min_severity", `"high" is not minor, major or critical`, func(n *Notify) { n.Webhooks[0].MinSeverity = "high" }},
		{"unknown chain", "notify.webhooks[0].chains[1]", `"base" is not the name of a chain`, func(n *Notify) { n.Webhooks[0].Chains = []string{"dev", "base"} }},
		{"chain by id", "notify.webhooks[0].chains[0]", `"1337" is not the name of a chain`, func(n *Notify) { n.Webhooks[0].Chains = []string{"1337"} }},
		{"too many hooks", "notify.webhooks", "33 webhooks, at most 32", func(n *Notify) {
			for i := range MaxWebhooks {
				h := n.Webhooks[0]
				h.Name = strings.Repeat("x", i+1)
				n.Webhooks = append(n.Webhooks, h)
			}
		}},
		{"zero queue", "notify.queue_size", "must be 1 to 100000, got 0", func(n *Notify) { n.QueueSize = 0 }},
		{"huge queue", "notify.queue_size", "must be 1 to 100000", func(n *Notify) { n.QueueSize = 1 << 30 }},
		{"zero attempts", "notify.max_attempts", "must be 1 to 100, got 0", func(n *Notify) { n.MaxAttempts = 0 }},
		{"zero dead letters", "notify.dead_letters", "must be 1 to 10000", func(n *Notify) { n.DeadLetters = 0 }},
		{"zero timeout", "notify.timeout", "must be a positive duration", func(n *Notify) { n.Timeout = 0 }},
		{"long timeout", "notify.timeout", "1h0m0s is over 5m0s", func(n *Notify) { n.Timeout = Duration(time.Hour) }},
		{"zero backoff", "notify.initial_backoff", "must be a positive duration", func(n *Notify) { n.InitialBackoff = 0 }},
		{"backoff over max", "notify.initial_backoff", "10m0s is over notify.max_backoff (5m0s)", func(n *Notify) { n.InitialBackoff = Duration(10 * time.Minute) }},
		{"long max backoff", "notify.max_backoff", "is over 1h0m0s", func(n *Notify) { n.MaxBackoff = Duration(2 * time.Hour) }},
		{"negative drain", "notify.drain_timeout", "must not be negative", func(n *Notify) { n.DrainTimeout = Duration(-time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := withHook(tt.edit)
			err := c.Validate()
			if err == nil {
				t.Fatal("valid")
			}
			wantFieldError(t, err, tt.path, tt.msg)
			for _, h := range c.Notify.Webhooks {
				if h.Secret != "" && strings.Contains(err.Error(), h.Secret) {
					t.Errorf("the error shows the secret: %v", err)
				}
			}
			if strings.Contains(err.Error(), "/rpcmesh") || strings.Contains(err.Error(), "%zz") {
				t.Errorf("the error shows the URL's path: %v", err)
			}
		})
	}
	// Valid variations.
	for name, edit := range map[string]func(*Notify){
		"slack without secret": func(n *Notify) { n.Webhooks[0].Format, n.Webhooks[0].Secret = "slack", "" },
		"explicit json":        func(n *Notify) { n.Webhooks[0].Format = "json" },
		"filters":              func(n *Notify) { n.Webhooks[0].MinSeverity, n.Webhooks[0].Chains = "critical", []string{"dev"} },
		"no drain":             func(n *Notify) { n.DrainTimeout = 0 },
	} {
		if err := withHook(edit).Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestNotifyFromYAML reads a notify section with the secret from the
// environment; a bad value is reported at its line, without the secret.
func TestNotifyFromYAML(t *testing.T) {
	const secret = "from-the-env-0123456789"
	t.Setenv("RPCMESH_TEST_HOOK_SECRET", secret)
	src := `
notify:
  queue_size: 64
  webhooks:
    - name: ops
      url: https://hooks.example.com/rpcmesh
      secret: ${RPCMESH_TEST_HOOK_SECRET}
      min_severity: major
      chains: [eth]
    - name: chat
      url: https://hooks.slack.com/services/T000/B000/XXXX
      format: slack
` + minimal
	c, err := Parse([]byte(src), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := c.Notify
	if n.QueueSize != 64 || n.MaxAttempts != DefaultNotify().MaxAttempts || len(n.Webhooks) != 2 ||
		n.Webhooks[0].Secret != secret || n.Webhooks[0].Chains[0] != "eth" || n.Webhooks[1].Format != WebhookSlack {
		t.Fatalf("notify section %+v", n)
	}

	bad := strings.Replace(src, "min_severity: major", "min_severity: urgent", 1)
	bad = strings.Replace(bad, "${RPCMESH_TEST_HOOK_SECRET}", "too-short", 1)
	_, err = Parse([]byte(bad), "t.yaml")
	fes := FieldErrors(err)
	if len(fes) != 2 || fes[0].Line != 7 || fes[0].Path != "notify.webhooks[0].secret" || fes[1].Line != 8 {
		t.Fatalf("errors: %v", err)
	}
	if strings.Contains(err.Error(), "too-short") || strings.Contains(err.Error(), "T000/B000") {
		t.Errorf("an error shows a secret: %v", err)
	}
}
