package bench

import (
	"fmt"
	"net/url"
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
	*fastServer
	up    *fasthttp.HostClient
	upURI string
}

// StartHop listens on addr ("127.0.0.1:0" picks a free port) and forwards
// to the http:// URL to until Close.
func StartHop(addr, to string) (*HopServer, error) {
	u, err := url.Parse(to)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("bench hop: the upstream must be an http:// URL, got %q", to)
	}
	h := &HopServer{
		up:    &fasthttp.HostClient{Addr: u.Host, MaxConns: 1024, ReadTimeout: time.Minute, WriteTimeout: time.Minute},
		upURI: u.String(),
	}
	if h.fastServer, err = startFast("bench hop", addr, h.forward); err != nil {
		return nil, err
	}
	return h, nil
}

// Close stops serving, waits for the server to return and closes the
// upstream connections; safe to call more than once.
func (h *HopServer) Close() error {
	err := h.fastServer.Close()
	h.up.CloseIdleConnections()
	return err
}

// forward sends the request's body upstream as a POST and copies the
// answer's status and body back; a failed upstream is a 502 saying why.
func (h *HopServer) forward(ctx *fasthttp.RequestCtx) {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetRequestURI(h.upURI)
	req.SetBody(ctx.PostBody())
	if err := h.up.Do(req, &ctx.Response); err != nil {
		ctx.Response.Reset()
		ctx.Error("bench hop: upstream: "+err.Error(), fasthttp.StatusBadGateway)
	}
}
