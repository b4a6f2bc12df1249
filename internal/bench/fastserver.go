package bench

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// fastServer serves one handler on fasthttp, the gateway's HTTP library,
// for the yardstick servers (floor, hop): listening, serving on a
// goroutine of its own, and one Close that waits for it.
type fastServer struct {
	// URL is the HTTP endpoint, e.g. http://127.0.0.1:41234.
	URL string

	name      string // for errors: "bench floor"
	srv       *fasthttp.Server
	done      chan error
	closeOnce sync.Once
	closeErr  error
}

// startFast listens on addr ("127.0.0.1:0" picks a free port) and serves h
// until Close.
func startFast(name, addr string, h fasthttp.RequestHandler) (*fastServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen: %w", name, err)
	}
	s := &fastServer{
		URL:  "http://" + ln.Addr().String(),
		name: name,
		srv: &fasthttp.Server{
			Handler:            h,
			ReadTimeout:        time.Minute,
			IdleTimeout:        2 * time.Minute,
			MaxRequestBodySize: 1 << 20,
		},
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Close stops serving and waits for the server to return; safe to call
// more than once.
func (s *fastServer) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.srv.Shutdown()
		if err := <-s.done; err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = fmt.Errorf("%s: serve: %w", s.name, err)
		}
	})
	return s.closeErr
}
