package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/rpc"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

// PenaltyHalfLife is the gateway's integrity penalty half-life in the
// chaos environment (10 minutes by default for mainnet).
const PenaltyHalfLife = 2 * time.Second

// EnvOptions configure the devnet and gateway a run uses.
type EnvOptions struct {
	BlockTime time.Duration // default 500ms
	Listen    string        // gateway listener; default 127.0.0.1:0
	Admin     string        // gateway admin listener; "" for none
	Logger    *slog.Logger  // the gateway's and devnet's; default: discard
}

// Env is a devnet with a gateway in front of it, and a direct (honest)
// client to each node, bypassing its fault proxy.
type Env struct {
	Devnet  *devnet.Devnet
	Gateway *server.Gateway
	// Source is the gateway's status (provider states and incidents).
	Source status.Source
	// HTTP and WS are the gateway's URLs for the devnet chain.
	HTTP, WS  string
	BlockTime time.Duration

	direct map[string]*rpc.Client // node name → its node, bypassing the proxy
	names  []string
	cfg    *config.Config
	log    *slog.Logger
}

// StartEnv starts a five-node devnet and a gateway in front of it, and
// returns once the gateway is ready (bounded by ctx).
func StartEnv(ctx context.Context, o EnvOptions) (*Env, error) {
	if o.BlockTime == 0 {
		o.BlockTime = 500 * time.Millisecond
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	d, err := devnet.Start(ctx, devnet.Options{BlockTime: o.BlockTime, Labels: Labels, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	e := &Env{Devnet: d, BlockTime: o.BlockTime, direct: map[string]*rpc.Client{}}
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()
	cfg := devnetgw.Config(d.Info(), o.Listen, o.Admin)
	// A caught provider is suspect until its integrity penalty halves; at
	// the devnet's pace that is seconds, as devnetgw scales the other
	// health timings, so that a scenario's recovery can be timed.
	cfg.Health.PenaltyHalfLife = config.Duration(PenaltyHalfLife)
	e.cfg, e.log = cfg, o.Logger
	if err := e.startGateway(ctx); err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	for _, n := range d.Info().Nodes {
		u, _ := d.DirectURL(n.Name)
		c, err := rpc.DialOptions(ctx, u, rpc.WithHTTPClient(hc))
		if err != nil {
			return nil, fmt.Errorf("chaos: dial %s directly: %w", n.Name, err)
		}
		e.direct[n.Name] = c
		e.names = append(e.names, n.Name)
	}
	ok = true
	return e, nil
}

func (e *Env) startGateway(ctx context.Context) error {
	gw, err := devnetgw.Start(ctx, e.cfg, e.log)
	if err != nil {
		return err
	}
	e.Gateway, e.Source = gw, gw.StatusSource()
	e.HTTP = devnetgw.URL(gw)
	if e.cfg.WebSocket.Enabled {
		e.WS = devnetgw.WSURL(gw)
	}
	return nil
}

// RestartGateway replaces the gateway with a fresh one in front of the
// same devnet (on the same address, or a new free port when it was 0),
// so that one scenario's scars (a breaker's doubled cooldown, a penalty)
// do not carry into the next. It returns once the new one is ready.
func (e *Env) RestartGateway(ctx context.Context) error {
	if e.Gateway != nil {
		devnetgw.Stop(e.Gateway)
		e.Gateway = nil
	}
	return e.startGateway(ctx)
}

// PageURL is where the gateway's status page is served.
func (e *Env) PageURL() string { return "http://" + e.Gateway.HTTPAddr() + "/" }

// Honest returns a direct client to the first node no fault in faults
// touches, and its name: the reference every answer is checked against.
func (e *Env) Honest(faulty []string) (*rpc.Client, string, error) {
	for _, n := range e.names {
		if !slices.Contains(faulty, n) {
			return e.direct[n], n, nil
		}
	}
	return nil, "", fmt.Errorf("chaos: every node is faulty, none to check answers against")
}

// Close stops the gateway and the devnet.
func (e *Env) Close() {
	for _, c := range e.direct {
		c.Close()
	}
	if e.Gateway != nil {
		devnetgw.Stop(e.Gateway)
	}
	_ = e.Devnet.Close()
}

// waitUntil polls cond every step until it holds (true) or ctx ends (false).
func waitUntil(ctx context.Context, step time.Duration, cond func() bool) bool {
	t := time.NewTicker(step)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}
