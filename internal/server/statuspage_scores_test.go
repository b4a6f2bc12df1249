package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/audit"
)

// TestStatusPageReadsScores: the gateway's status page names ScoresPath as
// its scores source, and the same listener (the page's origin) answers it
// with the served chain's providers.
func TestStatusPageReadsScores(t *testing.T) {
	tg := startGateway(t, 2, nil)
	code, _, body := get(t, tg.url+"/status")
	if code != 200 || !strings.Contains(body, `data-scores="`+ScoresPath+`"`) {
		t.Fatalf("GET /status: %d, the scores section does not name %s: %.2000s", code, ScoresPath, body)
	}
	code, ctype, body := get(t, tg.url+ScoresPath)
	var doc audit.Scores
	if err := json.Unmarshal([]byte(body), &doc); code != 200 || ctype != "application/json" || err != nil {
		t.Fatalf("GET %s: %d %s %v %.300s", ScoresPath, code, ctype, err, body)
	}
	if len(doc.Chains) != 1 || doc.Chains[0].Name != "dev" || len(doc.Chains[0].Providers) != 2 {
		t.Errorf("GET %s: %+v, want chain dev with 2 providers", ScoresPath, doc.Chains)
	}
}
