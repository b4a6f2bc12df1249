package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveLoopback serves g's public listener (its fasthttp server) on a
// loopback port without starting g's chains, and returns the listener's
// base URL; it is shut down when the test ends. Tests of what the front
// door answers go through it, over real connections.
func serveLoopback(tb testing.TB, g *Gateway) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := g.newPublicServer()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.ShutdownWithContext(ctx); err != nil {
			tb.Error(err)
		}
		if err := <-served; err != nil {
			tb.Error(err)
		}
	})
	return "http://" + ln.Addr().String()
}

// postTo posts body to url as JSON and returns the answer's status and body.
func postTo(tb testing.TB, client *http.Client, url, body string) (int, []byte) {
	tb.Helper()
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, out
}
