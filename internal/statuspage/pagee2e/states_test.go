package pagee2e

import (
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/statuspage/browser"
)

// TestProviderStatesOnThePage: the page shows a provider's state in one
// word as internal/chain/state.go derives it from what the gateway
// measured, with its reason: a node that hangs is stalled (before its
// calls time out), a node whose blocks do not hash to what it claims is
// suspect with its failed answers counted; each is up again once the
// fault is cleared.
func TestProviderStatesOnThePage(t *testing.T) {
	tab := openPage(t)
	for _, tc := range []struct {
		name, params, node string
		kind               devnet.FaultKind
		want               status.ProviderState
		within             time.Duration
		reason, record     string // in the row's reason and verification cell
	}{
		{name: "hung node", kind: devnet.FaultHang, node: "node3", want: status.StateStalled, within: 3 * time.Second,
			reason: "probably hung", record: "clean"},
		{name: "liar", kind: devnet.FaultLie, params: `{"what":["blockhash"]}`, node: "node5", want: status.StateSuspect,
			within: 5 * time.Second, reason: "failed verification", record: "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab.Wait(t, 30*time.Second, "every provider up", allUp)
			clear := stage(t, tc.kind, tc.params, tc.node)
			staged := time.Now()
			row := rowSel(tc.node)
			tab.Wait(t, tc.within, tc.node+" "+string(tc.want)+" on the page", row+`.dataset.state === "`+string(tc.want)+`"`)
			t.Logf("%s: %s %s on the page %s after staging", tc.name, tc.node, tc.want, time.Since(staged).Round(time.Millisecond))
			if got := browser.Eval[string](t, tab, row+`.querySelector(".state").textContent`); !strings.Contains(got, string(tc.want)) {
				t.Errorf("%s's state reads %q, want %s", tc.node, got, tc.want)
			}
			if got := browser.Eval[string](t, tab, row+`.querySelector(".reason").textContent`); !strings.Contains(got, tc.reason) {
				t.Errorf("%s's reason %q does not say %q", tc.node, got, tc.reason)
			}
			if got := browser.Eval[string](t, tab, row+`.querySelector("td:nth-child(10)").textContent`); !strings.Contains(got, tc.record) {
				t.Errorf("%s's verification record %q does not say %q", tc.node, got, tc.record)
			}
			clear()
			tab.Wait(t, 30*time.Second, tc.node+" up again", row+`.dataset.state === "up"`)
		})
	}
}
