package bench

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// HopServer forwards every request's body to one upstream and hands its
// answer back, reading nothing in either: the least any forwarding hop does,
// on the gateway's HTTP library (fasthttp) both ways. Its latency and CPU
// per request (rpcmesh-bench --pid) are what one more process between a
// client and a node costs on the machine, before the hop does any work of
// its own, so a gateway's tail latency is best read against it.
type HopServer struct {
	// URL is the HTTP endpoint, e.g. http://127.0.0.1:41234.
	URL string

	srv       *fasthttp.Server
	up        *fasthttp.HostClient
	upURI     string
	done      chan error
	closeOnce sync.Once
	closeErr  error
}

// StartHop listens on addr ("127.0.0.1:0" picks a free port) and forwards
// to the http:// URL to until Close.
func StartHop(addr, to string) (*HopServer, error) {
	u, err := url.Parse(to)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("bench hop: the upstream must be an http:// URL, got %q", to)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("bench hop: listen: %w", err)
	}
	s := &HopServer{
		URL:   "http://" + ln.Addr().String(),
		up:    &fasthttp.HostClient{Addr: u.Host, MaxConns: 1024, ReadTimeout: time.Minute, WriteTimeout: time.Minute},
		upURI: u.String(),
		done:  make(chan error, 1),
	}
	s.srv = &fasthttp.Server{
		Handler:            s.forward,
		ReadTimeout:        time.Minute,
		IdleTimeout:        2 * time.Minute,
		MaxRequestBodySize: 1 << 20,
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Close stops serving and waits for the server to return; safe to call
// more than once.
func (s *HopServer) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.srv.Shutdown()
		if err := <-s.done; err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = fmt.Errorf("bench hop: serve: %w", err)
		}
		s.up.CloseIdleConnections()
	})
	return s.closeErr
}

// forward sends the request's body upstream as a POST and copies the
// answer's status and body back; a failed upstream is a 502 saying why.
func (s *HopServer) forward(ctx *fasthttp.RequestCtx) {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetRequestURI(s.upURI)
	req.SetBody(ctx.PostBody())
	if err := s.up.Do(req, &ctx.Response); err != nil {
		ctx.Response.Reset()
		ctx.Error("bench hop: upstream: "+err.Error(), fasthttp.StatusBadGateway)
	}
}
