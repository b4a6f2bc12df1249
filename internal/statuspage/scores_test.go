package statuspage_test

import (
	"strings"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/statuspage"
	"github.com/rpcmesh/rpcmesh/internal/statuspage/pagetest"
)

// TestScoresPathInPage: the page's scores section names the scores path it
// was given (HTML-escaped), on every path of the page; without one the
// section names none (scores.js then fetches nothing), and scores.js is
// served as a script.
func TestScoresPathInPage(t *testing.T) {
	for _, tc := range []struct {
		name, path, want string
	}{
		{"given", "/scores.json", `data-scores="/scores.json"`},
		{"escaped", `/x"><script>`, `data-scores="/x&#34;&gt;&lt;script&gt;"`},
		{"none", "", `data-scores=""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := pagetest.Serve(t, statuspage.New(pagetest.NewSource(pagetest.Example()), statuspage.Options{ScoresPath: tc.path}))
			for _, p := range []string{"/", "/status", "/status/"} {
				resp, body := fetch(t, "GET", base+p)
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
					t.Fatalf("GET %s: %d %s", p, resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				if !strings.Contains(body, `<section id="scores" class="card scores" `+tc.want+` hidden>`) {
					t.Errorf("GET %s: the scores section lacks %s", p, tc.want)
				}
				if !strings.Contains(body, `<script src="/status/assets/scores.js"></script>`) {
					t.Errorf("GET %s: no scores.js", p)
				}
			}
		})
	}
	base := pagetest.Serve(t, statuspage.New(pagetest.NewSource(pagetest.Example()), statuspage.Options{}))
	resp, body := fetch(t, "GET", base+"/status/assets/scores.js")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || !strings.Contains(body, "dataset.scores") {
		t.Errorf("GET scores.js: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
