package bench

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// UpstreamServer is a trivial upstream listening on a TCP address.
type UpstreamServer struct {
	// URL is the HTTP endpoint, e.g. http://127.0.0.1:41234.
	URL string
	// WSURL is the WebSocket endpoint on the same port, e.g. ws://127.0.0.1:41234.
	WSURL string

	up        *Upstream
	srv       *http.Server
	done      chan error
	closeOnce sync.Once
	closeErr  error
}

// StartUpstream listens on addr ("127.0.0.1:0" picks a free port) and serves
// a trivial upstream until Close.
func StartUpstream(addr string, opts UpstreamOptions) (*UpstreamServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("bench upstream: listen: %w", err)
	}
	up := NewUpstream(opts)
	s := &UpstreamServer{
		URL:   "http://" + ln.Addr().String(),
		WSURL: "ws://" + ln.Addr().String(),
		up:    up,
		srv: &http.Server{
			Handler:           up,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
		},
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Upstream returns the handler the server runs.
func (s *UpstreamServer) Upstream() *Upstream { return s.up }

// Close stops listening, closes every connection (HTTP and WebSocket) and
// waits for the serving goroutine to return. It is safe to call more than once.
func (s *UpstreamServer) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.srv.Close()
		_ = s.up.Close()
		if serveErr := <-s.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
			s.closeErr = fmt.Errorf("bench upstream: serve: %w", serveErr)
		}
	})
	return s.closeErr
}
