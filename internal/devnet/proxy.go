package devnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/pause"
)

// maxProxyBody bounds one request or answer passing through the proxy.
const maxProxyBody = 64 << 20

// proxy is the network path in front of one node: a fixed loopback address
// that forwards HTTP and WebSocket JSON-RPC to the node, and where the
// network-path faults happen.
type proxy struct {
	name      string
	addr      string
	backend   string
	backendWS string
	client    *http.Client
	log       *slog.Logger
	faults    atomic.Pointer[faultSet]

	mu       sync.Mutex
	srv      *http.Server // nil while down
	wsConns  map[*websocket.Conn]struct{}
	flapDown bool
	closed   bool
}

func newProxy(name, backend, backendWS string, log *slog.Logger) *proxy {
	p := &proxy{
		name:      name,
		backend:   backend,
		backendWS: backendWS,
		log:       log,
		wsConns:   map[*websocket.Conn]struct{}{},
		client: &http.Client{Transport: &http.Transport{
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		}},
	}
	p.faults.Store(newFaultSet())
	return p
}

// start binds the proxy's address (a free port, or the given one) and serves.
func (p *proxy) start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("proxy %s: listen: %w", p.name, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.addr = ln.Addr().String()
	p.serveLocked(ln)
	return nil
}

func (p *proxy) serveLocked(ln net.Listener) {
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(p.log.Handler(), slog.LevelDebug)}
	p.srv = srv
	go func() { _ = srv.Serve(ln) }()
}

// setFaults installs a new fault set and brings the listener up or down.
func (p *proxy) setFaults(fs *faultSet) {
	old := p.faults.Swap(fs)
	close(old.changed)
	p.reconcile()
}

// setFlapDown is called by a flap fault's timer.
func (p *proxy) setFlapDown(down bool) {
	p.mu.Lock()
	p.flapDown = down
	p.mu.Unlock()
	p.reconcile()
}

// reconcile makes the listener match the faults: down means connection
// refused (no listener) and every open connection cut.
func (p *proxy) reconcile() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	wantDown := p.faults.Load().down || p.flapDown
	switch {
	case wantDown && p.srv != nil:
		_ = p.srv.Close()
		p.srv = nil
		for c := range p.wsConns {
			_ = c.Close()
		}
	case !wantDown && p.srv == nil:
		var ln net.Listener
		var err error
		for range 50 { // the port was just released; retry briefly
			if ln, err = net.Listen("tcp", p.addr); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			p.log.Error("devnet: proxy cannot listen again", "node", p.name, "addr", p.addr, "err", err)
			return
		}
		p.serveLocked(ln)
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.srv != nil {
		_ = p.srv.Close()
		p.srv = nil
	}
	for c := range p.wsConns {
		_ = c.Close()
	}
	p.client.CloseIdleConnections()
}

// hang holds a request until its client gives up or the hang is cleared;
// either way no answer is ever written.
func (p *proxy) hang(ctx context.Context) {
	for {
		fs := p.faults.Load()
		if !fs.hang {
			break
		}
		select {
		case <-ctx.Done():
			panic(http.ErrAbortHandler)
		case <-fs.changed:
		}
	}
	panic(http.ErrAbortHandler) // cut the connection: this request was swallowed
}

// ServeHTTP forwards one HTTP request to the node, applying faults.
func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fs := p.faults.Load()
	if fs.hang {
		p.hang(r.Context())
	}
	if websocket.IsWebSocketUpgrade(r) {
		p.serveWS(w, r)
		return
	}
	if fs.throttled() {
		writeThrottled(w, fs.rateLimit)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxProxyBody+1))
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxProxyBody {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	httpFail, allCalls, perCall := fs.errorPlan()
	if !pause.For(r.Context(), fs.delay()) {
		return
	}
	if httpFail {
		http.Error(w, http.StatusText(fs.errs.Status), fs.errs.Status)
		return
	}
	if r.Method != http.MethodPost || (!fs.interceptsBody() && !allCalls) {
		p.forwardRaw(w, r, body)
		return
	}
	msgs, batch, ok := parseMsgs(body)
	if !ok {
		p.forwardRaw(w, r, body)
		return
	}
	replies, status, err := p.exchange(r.Context(), msgs, batch, fs, allCalls, perCall)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if len(replies) == 0 && status == http.StatusOK {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(encodeMsgs(replies, batch))
}

// exchange answers calls: some from the faults (censored, failed), the rest
// from the node, with the liar's changes. Replies keep the request order.
func (p *proxy) exchange(ctx context.Context, msgs []*rpcMsg, batch bool, fs *faultSet, allCalls, perCall bool) ([]*rpcMsg, int, error) {
	replies := make([]*rpcMsg, len(msgs))
	var forward []*rpcMsg
	var forwardIdx []int
	for i, m := range msgs {
		if rep := fs.pruned.reply(m); rep != nil {
			replies[i] = rep
			continue
		}
		switch {
		case fs.censor && m.Method == "eth_sendRawTransaction":
			if rep, ok := censoredReply(m); ok {
				replies[i] = rep
				continue
			}
		case allCalls || (perCall && fs.failCall()):
			replies[i] = errorReply(m.ID, fs.errs.Code, fs.errs.Message)
			continue
		}
		forward = append(forward, m)
		forwardIdx = append(forwardIdx, i)
	}
	status := http.StatusOK
	if len(forward) > 0 {
		body, st, err := p.post(ctx, encodeMsgs(forward, batch))
		if err != nil {
			return nil, 0, err
		}
		status = st
		answers, _, ok := parseMsgs(body)
		if !ok {
			if len(bytes.TrimSpace(body)) == 0 { // only notifications were forwarded
				answers = nil
			} else {
				return nil, 0, fmt.Errorf("node %s: answer is not JSON-RPC", p.name)
			}
		}
		byID := map[string][]*rpcMsg{}
		for _, a := range answers {
			k := idKey(a.ID)
			byID[k] = append(byID[k], a)
		}
		for j, m := range forward {
			if isNotification(m) {
				continue
			}
			k := idKey(m.ID)
			q := byID[k]
			if len(q) == 0 {
				continue
			}
			a := q[0]
			byID[k] = q[1:]
			if fs.liar != nil && a.Error == nil {
				if res, changed := fs.liar.result(m.Method, a.Result); changed {
					a.Result = res
				}
			}
			replies[forwardIdx[j]] = a
		}
	}
	out := replies[:0]
	for i, r := range replies {
		if r != nil && !isNotification(msgs[i]) {
			out = append(out, r)
		}
	}
	return out, status, nil
}

func (p *proxy) post(ctx context.Context, body []byte) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.backend, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("node %s: %w", p.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxProxyBody))
	if err != nil {
		return nil, 0, fmt.Errorf("node %s: read answer: %w", p.name, err)
	}
	return b, resp.StatusCode, nil
}

// forwardRaw passes a request through untouched.
func (p *proxy) forwardRaw(w http.ResponseWriter, r *http.Request, body []byte) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.backend+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if r.Context().Err() == nil {
			http.Error(w, "node unreachable", http.StatusBadGateway)
		}
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Content-Length"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, maxProxyBody))
}

// writeThrottled answers the way rate-limiting providers do: 429, a
// Retry-After in seconds, and a JSON-RPC error body.
func writeThrottled(w http.ResponseWriter, p *RateLimitParams) {
	secs := int(math.Ceil(time.Duration(p.RetryAfter).Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write(mustJSON(errorReply(json.RawMessage("null"), -32005, "rate limit exceeded")))
}
