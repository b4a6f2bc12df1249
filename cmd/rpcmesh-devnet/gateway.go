package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
)

// devnetGateway is the gateway running in front of the devnet.
type devnetGateway struct {
	info  devnet.GatewayInfo
	close func()
}

// startDevnetGateway runs the gateway with a config generated from the
// devnet's nodes, and returns once every chain is ready.
func startDevnetGateway(ctx context.Context, info devnet.Info, listen, admin string, log *slog.Logger) (*devnetGateway, error) {
	cfg := devnetgw.Config(info, listen, admin)
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	gw, err := devnetgw.Start(rctx, cfg, log)
	if err != nil {
		return nil, err
	}
	closeGW := func() { devnetgw.Stop(gw) }
	gi := devnet.GatewayInfo{HTTP: devnetgw.URL(gw)}
	if cfg.WebSocket.Enabled {
		gi.WS = devnetgw.WSURL(gw) // same path: eth_subscribe from the agreed head
	}
	if a := gw.AdminAddr(); a != "" {
		gi.Admin = "http://" + a
	}
	return &devnetGateway{info: gi, close: closeGW}, nil
}
