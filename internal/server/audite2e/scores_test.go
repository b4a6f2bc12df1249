package audite2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/audit"
	"github.com/rpcmesh/rpcmesh/internal/server"
)

// GET /scores.json on the public and the admin listener: every provider
// with its labels, score and inputs over the audit windows, and no URL of
// any provider (nor the direct node URLs behind the fault proxies).
func TestScoresShapeAndNoURLs(t *testing.T) {
	s, body := publicScores(t, gw)
	code, admin := adminGet(gw, server.ScoresPath)
	if code != http.StatusOK {
		t.Fatalf("admin %s: %d %s", server.ScoresPath, code, admin)
	}
	var fromAdmin audit.Scores
	dec := json.NewDecoder(bytes.NewReader(admin))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fromAdmin); err != nil {
		t.Fatalf("admin scores: %v: %s", err, admin)
	}
	for _, doc := range []audit.Scores{s, fromAdmin} {
		if doc.Generated.IsZero() || len(doc.Chains) != 1 || doc.Chains[0].Name != "devnet" {
			t.Fatalf("scores %+v", doc)
		}
		ps := doc.Chains[0].Providers
		if len(ps) != len(dn.Info().Nodes) {
			t.Fatalf("%d providers scored, %d configured", len(ps), len(dn.Info().Nodes))
		}
		for i, p := range ps {
			n := dn.Info().Nodes[i]
			if p.Name != n.Name || p.Operator != n.Labels.Operator || p.Tier != n.Labels.Tier || p.State == "" ||
				p.Score <= 0 || p.Penalty.HalfLife == "" || p.Penalty.Reasons == nil {
				t.Errorf("provider %d: %+v", i, p)
			}
			for _, w := range audit.Windows {
				if _, ok := p.Audit.Windows[w.Name]; !ok {
					t.Errorf("%s: no audit window %s: %+v", p.Name, w.Name, p.Audit)
				}
			}
		}
	}
	// Raw keys a reader codes against.
	for _, key := range []string{`"score"`, `"availability"`, `"latencyMs"`, `"p99"`, `"lagBlocks"`, `"penalty"`,
		`"verificationFailures"`, `"censorship"`, `"audit"`, `"windows"`, `"5m"`, `"1h"`, `"24h"`} {
		if !strings.Contains(body, key) {
			t.Errorf("no %s in %s", key, body)
		}
	}
	for _, doc := range []string{body, string(admin)} {
		for _, n := range dn.Info().Nodes {
			direct, _ := dn.DirectURL(n.Name)
			for _, u := range []string{n.HTTP, n.WS, direct, strings.TrimPrefix(n.HTTP, "http://"), strings.TrimPrefix(direct, "http://")} {
				if u != "" && strings.Contains(doc, u) {
					t.Fatalf("scores name %s's URL %s: %s", n.Name, u, doc)
				}
			}
		}
		if strings.Contains(doc, "://") {
			t.Fatalf("scores hold a URL: %s", doc)
		}
	}
	// Only GET (and HEAD) read it; a POST to the path is no chain's.
	resp, err := client.Post("http://"+gw.HTTPAddr()+server.ScoresPath, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("POST %s: %d, want 404", server.ScoresPath, resp.StatusCode)
	}
}
