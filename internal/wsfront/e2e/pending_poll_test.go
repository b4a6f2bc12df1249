package e2e

import (
	"log/slog"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// TestPendingTransactionsPolledWithoutWS: a second gateway in front of the
// same devnet, configured with no provider WS URL, still delivers pending
// transaction hashes (by polling filters), each once.
func TestPendingTransactionsPolledWithoutWS(t *testing.T) {
	ctx := testwait.Context(t, 60*time.Second)
	cfg := gatewayConfig(dn.Info())
	for i := range cfg.Chains[0].Providers {
		cfg.Chains[0].Providers[i].WS = ""
	}
	cfg.WebSocket.PendingPollInterval = config.Duration(200 * time.Millisecond)
	g, err := devnetgw.Start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer devnetgw.Stop(g)
	c := dialWSAt(t, devnetgw.WSURL(g))
	_, ch := c.subscribe(t, ctx, `["newPendingTransactions"]`)
	expectPendingOnce(ctx, t, ch, 1, 8)
}
