// Package server is the gateway's front door: the public HTTP listener
// (POST /{chain}, JSON-RPC 2.0 single and batch, limits, CORS, gzip) and
// the admin listener (/metrics, /healthz, /readyz, /status). Each served
// chain is built and run by internal/chain; the front door hands its calls
// to the chain's pipeline and reads plain data back.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/rpcmesh/rpcmesh/internal/chain"
	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/metrics"
	"github.com/rpcmesh/rpcmesh/internal/notify"
	"github.com/rpcmesh/rpcmesh/internal/statuspage"
	"github.com/rpcmesh/rpcmesh/internal/wsfront"
)

// Gateway is a running (or ready to run) rpcmesh gateway.
type Gateway struct {
	cfg     *config.Config
	logger  *slog.Logger
	metrics *metrics.Metrics
	set     *chain.Set      // the served chains and what they share
	chains  []*chain.Chain  // set.Chains()
	sem     chan struct{}   // bounds concurrent HTTP requests
	ws      *wsfront.Server // WebSocket front door; nil when disabled

	notify *notify.Notifier // webhooks of the set's incident events (notify.*)
	page   *statuspage.Page // the status page; nil when disabled (statuspage.go)

	scoresCache scoresCache // the open scores' last rendering (scores.go)

	mu       sync.Mutex
	httpSrv  *fasthttp.Server // the public listener (listener.go)
	adminSrv *http.Server
	httpLn   net.Listener
	adminLn  net.Listener
	stop     context.CancelFunc
	wg       sync.WaitGroup
	serveErr chan error
}

// New builds a gateway from a validated config. It does no I/O.
func New(cfg *config.Config, logger *slog.Logger) (*Gateway, error) {
	if cfg == nil || len(cfg.Chains) == 0 {
		return nil, errors.New("server: config has no chains")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{
		cfg:      cfg,
		logger:   logger,
		metrics:  metrics.New(),
		sem:      make(chan struct{}, max(cfg.Limits.MaxConcurrentRequests, 1)),
		serveErr: make(chan error, 2),
	}
	g.set = chain.NewSet(cfg, g.metrics, logger)
	g.chains = g.set.Chains()
	g.ws = g.newWSFront()
	g.notify = notify.New(cfg.Notify, notify.Options{Logger: logger})
	g.page = g.newStatusPage()
	g.metrics.WatchState(g.chainStates)
	return g, nil
}

// Metrics returns the gateway's metrics (tests read them).
func (g *Gateway) Metrics() *metrics.Metrics { return g.metrics }

// Start starts the providers' health loops and binds the listeners. It
// returns once both listeners accept connections; serving stops with Close.
func (g *Gateway) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.httpLn != nil {
		return errors.New("server: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", g.cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server: listen %s: %w", g.cfg.Server.Listen, err)
	}
	var adminLn net.Listener
	if g.cfg.Admin.Listen != "" {
		adminLn, err = lc.Listen(ctx, "tcp", g.cfg.Admin.Listen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("server: admin listen %s: %w", g.cfg.Admin.Listen, err)
		}
	}
	if err := g.set.Open(); err != nil {
		ln.Close()
		if adminLn != nil {
			adminLn.Close()
		}
		return err
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	g.stop = stop
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.set.Run(runCtx)
	}()
	g.notify.Start(g.set)
	if g.page != nil {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.page.Run(runCtx)
		}()
	}
	g.httpLn = ln
	g.httpSrv = g.newPublicServer()
	g.serve(ln, g.httpSrv.Serve)
	if adminLn != nil {
		g.adminLn = adminLn
		g.adminSrv = &http.Server{Handler: g.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
		g.serve(adminLn, g.adminSrv.Serve)
	}
	g.logger.Info("gateway listening", "http", ln.Addr().String(), "admin", g.AdminAddr(), "chains", len(g.chains))
	return nil
}

// serve runs a listener's server (serve is its Serve method) until it is
// shut down.
func (g *Gateway) serve(ln net.Listener, serve func(net.Listener) error) {
	go func() {
		if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.logger.Error("listener stopped", "addr", ln.Addr().String(), "err", err)
			g.serveErr <- err
		}
	}()
}

// Err returns a channel that receives an error when a listener fails.
func (g *Gateway) Err() <-chan error { return g.serveErr }

// HTTPAddr is the public listener's address ("" before Start).
func (g *Gateway) HTTPAddr() string {
	if g.httpLn == nil {
		return ""
	}
	return g.httpLn.Addr().String()
}

// AdminAddr is the admin listener's address ("" when disabled or before Start).
func (g *Gateway) AdminAddr() string {
	if g.adminLn == nil {
		return ""
	}
	return g.adminLn.Addr().String()
}

// Ready waits until every chain has an agreed head and a usable provider,
// or ctx ends.
func (g *Gateway) Ready(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		var waiting []string
		for _, c := range g.chains {
			if ok, _ := c.Ready(); !ok {
				waiting = append(waiting, c.Name())
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server: chains not ready %v: %w", waiting, ctx.Err())
		case <-t.C:
		}
	}
}

// Close stops accepting requests, waits for in-flight ones until ctx ends,
// then stops the health loops.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var errs []error
	if g.page != nil {
		g.page.Close() // its live streams hold connections the shutdown would wait for
	}
	if g.httpSrv != nil {
		// Waits for in-flight requests (each bounded by
		// limits.request_timeout) until ctx ends; WebSocket connections are
		// hijacked and closed by closeWS below.
		if err := g.httpSrv.ShutdownWithContext(ctx); err != nil {
			errs = append(errs, fmt.Errorf("server: shutdown: %w", err))
		}
	}
	if g.adminSrv != nil {
		if err := g.adminSrv.Shutdown(ctx); err != nil {
			g.adminSrv.Close()
		}
	}
	if err := g.closeWS(ctx); err != nil {
		errs = append(errs, fmt.Errorf("server: websocket: %w", err))
	}
	g.notify.Close(ctx) // sends what is queued, for up to notify.drain_timeout
	if g.stop != nil {
		g.stop()
	}
	g.wg.Wait()
	if err := g.set.Close(); err != nil {
		errs = append(errs, fmt.Errorf("server: transaction store: %w", err))
	}
	return errors.Join(errs...)
}
