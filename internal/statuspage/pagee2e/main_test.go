package pagee2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/statuspage/browser"
)

var (
	dn       *devnet.Devnet
	gw       *server.Gateway
	base     string // the gateway's public listener, "http://host:port"
	chromium *browser.Browser
)

// screenshot, when set, is where TestCloudOutageOnThePage writes a picture
// of the page with the outage's incident open (docs/status-page.png):
// go test ./internal/statuspage/pagee2e -run TestCloudOutageOnThePage
// -screenshot $PWD/docs/status-page.png
var screenshot = flag.String("screenshot", "", "write a screenshot of the page during the cloud outage to this PNG file")

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(browser.Main(m, func(b *browser.Browser) int {
		chromium = b
		return devnetgw.RunSuite("status page e2e", false,
			func(ctx context.Context, d *devnet.Devnet) (*server.Gateway, error) {
				return devnetgw.Start(ctx, gatewayConfig(d.Info()), devnetgw.SuiteLogger())
			},
			func(d *devnet.Devnet, g *server.Gateway) int {
				dn, gw, base = d, g, "http://"+g.HTTPAddr()
				ctx, stop := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				wg.Go(func() { traffic(ctx) })
				code := m.Run()
				stop()
				wg.Wait()
				return code
			})
	}))
}

// gatewayConfig is the devnet's gateway (five operators, two of them on
// aws) with the page sampling every second for its charts, and integrity
// penalties that fade within seconds, so that a liar caught by one test is
// up again for the next.
func gatewayConfig(info devnet.Info) *config.Config {
	cfg := devnetgw.Config(info, "127.0.0.1:0", "")
	cfg.StatusPage.SampleInterval = config.Duration(time.Second)
	cfg.StatusPage.History = config.Duration(5 * time.Minute)
	cfg.Health.PenaltyHalfLife = config.Duration(2 * time.Second)
	return cfg
}

// traffic reads balances of random accounts, 20 a second, until ctx ends:
// the page's shares, latencies and answers come from it, as from users.
func traffic(ctx context.Context) {
	client := &http.Client{Timeout: 5 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var addr [20]byte
		_, _ = rand.Read(addr[:])
		body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x%s","latest"]}`, hex.EncodeToString(addr[:]))
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/devnet", strings.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
