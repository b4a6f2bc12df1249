package devnet

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/pause"
)

// maxWSPending bounds the calls a WebSocket client may have in flight through
// the proxy (their methods are remembered to know how to lie about answers).
const maxWSPending = 10_000

var wsUpgrader = websocket.Upgrader{
	ReadBufferSize:  32 << 10,
	WriteBufferSize: 32 << 10,
	CheckOrigin:     func(*http.Request) bool { return true },
}

// wsSession is one client WebSocket connection relayed to the node, with
// what is needed to apply faults message by message.
type wsSession struct {
	p       *proxy
	client  *websocket.Conn
	node    *websocket.Conn
	writeMu sync.Mutex // guards writes to client

	mu      sync.Mutex
	methods map[string]string    // call id → method
	subReqs map[string]string    // eth_subscribe call id → subscription kind
	subs    map[string]string    // subscription id → kind
	merges  map[string][]*rpcMsg // first forwarded id of a batch → replies made by the proxy
}

func (p *proxy) serveWS(w http.ResponseWriter, r *http.Request) {
	node, _, err := websocket.DefaultDialer.DialContext(r.Context(), p.backendWS, nil)
	if err != nil {
		http.Error(w, "node unreachable", http.StatusBadGateway)
		return
	}
	node.SetReadLimit(maxProxyBody)
	client, err := wsUpgrader.Upgrade(w, r, nil)
	if err != nil {
		_ = node.Close()
		return
	}
	client.SetReadLimit(maxProxyBody)
	p.mu.Lock()
	if p.srv == nil || p.closed {
		p.mu.Unlock()
		_ = client.Close()
		_ = node.Close()
		return
	}
	p.wsConns[client] = struct{}{}
	p.wsConns[node] = struct{}{}
	p.mu.Unlock()
	s := &wsSession{p: p, client: client, node: node, methods: map[string]string{}, subReqs: map[string]string{}, subs: map[string]string{}, merges: map[string][]*rpcMsg{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); defer cancel(); s.upstream(ctx) }()
	go func() { defer wg.Done(); defer cancel(); s.downstream(ctx) }()
	<-ctx.Done()
	_ = client.Close()
	_ = node.Close()
	wg.Wait()
	p.mu.Lock()
	delete(p.wsConns, client)
	delete(p.wsConns, node)
	p.mu.Unlock()
}

// waitHang blocks while the node hangs; false when the session ends.
func (s *wsSession) waitHang(ctx context.Context) bool {
	for {
		fs := s.p.faults.Load()
		if !fs.hang {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-fs.changed:
		}
	}
}

func (s *wsSession) writeClient(mt int, data []byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.client.WriteMessage(mt, data)
}

// upstream relays client → node, answering censored, failed and throttled
// calls itself.
func (s *wsSession) upstream(ctx context.Context) {
	for {
		mt, data, err := s.client.ReadMessage()
		if err != nil {
			return
		}
		if !s.waitHang(ctx) {
			return
		}
		fs := s.p.faults.Load()
		msgs, batch, ok := parseMsgs(data)
		if !ok {
			if s.node.WriteMessage(mt, data) != nil {
				return
			}
			continue
		}
		throttled := fs.throttled()
		var own, forward []*rpcMsg
		for _, m := range msgs {
			var rep *rpcMsg
			switch {
			case throttled:
				rep = errorReply(m.ID, -32005, "rate limit exceeded")
			case fs.censor && m.Method == "eth_sendRawTransaction":
				rep, _ = censoredReply(m)
			case fs.errs != nil && fs.failCall():
				rep = errorReply(m.ID, fs.errs.Code, fs.errs.Message)
			default:
				rep = fs.pruned.reply(m)
			}
			if rep != nil {
				if !isNotification(m) {
					own = append(own, rep)
				}
				continue
			}
			forward = append(forward, m)
		}
		s.remember(forward)
		switch {
		case len(forward) == 0:
			if len(own) > 0 && s.writeClient(websocket.TextMessage, encodeMsgs(own, batch)) != nil {
				return
			}
		default:
			if batch && len(own) > 0 {
				s.mu.Lock()
				s.merges[idKey(forward[0].ID)] = own
				s.mu.Unlock()
			} else if len(own) > 0 && s.writeClient(websocket.TextMessage, encodeMsgs(own, false)) != nil {
				return
			}
			if s.node.WriteMessage(websocket.TextMessage, encodeMsgs(forward, batch)) != nil {
				return
			}
		}
	}
}

func (s *wsSession) remember(calls []*rpcMsg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range calls {
		if isNotification(m) || len(s.methods) >= maxWSPending {
			continue
		}
		k := idKey(m.ID)
		s.methods[k] = m.Method
		if m.Method == "eth_subscribe" {
			var params []json.RawMessage
			var kind string
			if json.Unmarshal(m.Params, &params) == nil && len(params) > 0 && json.Unmarshal(params[0], &kind) == nil {
				s.subReqs[k] = kind
			}
		}
	}
}

// downstream relays node → client, delaying and lying as the faults say.
func (s *wsSession) downstream(ctx context.Context) {
	for {
		mt, data, err := s.node.ReadMessage()
		if err != nil {
			return
		}
		if !s.waitHang(ctx) {
			return
		}
		fs := s.p.faults.Load()
		if !pause.For(ctx, fs.delay()) {
			return
		}
		msgs, batch, ok := parseMsgs(data)
		if ok {
			data = s.rewrite(msgs, batch, fs)
			mt = websocket.TextMessage
		}
		if s.writeClient(mt, data) != nil {
			return
		}
	}
}

// rewrite applies the liar to answers and notifications, tracks
// subscriptions, and merges the proxy's own replies into batch answers.
func (s *wsSession) rewrite(msgs []*rpcMsg, batch bool, fs *faultSet) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if batch && len(msgs) > 0 {
		k := idKey(msgs[0].ID)
		if own, ok := s.merges[k]; ok {
			delete(s.merges, k)
			msgs = append(msgs, own...)
		}
	}
	for _, m := range msgs {
		if m.Method == "eth_subscription" {
			var n struct {
				Subscription string          `json:"subscription"`
				Result       json.RawMessage `json:"result"`
			}
			if fs.liar != nil && json.Unmarshal(m.Params, &n) == nil {
				if res, changed := fs.liar.notification(s.subs[n.Subscription], n.Result); changed {
					n.Result = res
					m.Params = mustJSON(n)
				}
			}
			continue
		}
		if len(m.ID) == 0 {
			continue
		}
		k := idKey(m.ID)
		method := s.methods[k]
		delete(s.methods, k)
		if kind, ok := s.subReqs[k]; ok {
			delete(s.subReqs, k)
			var subID string
			if m.Error == nil && json.Unmarshal(m.Result, &subID) == nil {
				s.subs[subID] = kind
			}
		}
		if fs.liar != nil && m.Error == nil {
			if res, changed := fs.liar.result(method, m.Result); changed {
				m.Result = res
			}
		}
	}
	return encodeMsgs(msgs, batch)
}
