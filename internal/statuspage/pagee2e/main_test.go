package pagee2e

import (
	"context"
	"flag"
	"os"
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
				// Balance reads of random accounts, up to 20 a second: the
				// page's shares, latencies and answers come from them, as
				// from users.
				return devnetgw.WithTraffic(base+"/devnet", 50*time.Millisecond, m.Run)
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
