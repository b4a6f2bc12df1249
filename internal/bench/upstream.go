package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// Limits of the trivial upstream, so a broken client cannot make it allocate
// without bound.
const (
	upstreamMaxBody  = 5 << 20
	upstreamMaxBatch = 1000
)

// UpstreamOptions configures a trivial upstream; the zero value is ready to use.
type UpstreamOptions struct {
	// ChainID is answered to eth_chainId (hex) and net_version (decimal); 0 means 1337.
	ChainID uint64
	// Head is the block number eth_blockNumber answers; blocks 0..Head exist. 0 means 256.
	Head uint64
	// Latency is a fixed delay added to every HTTP request or WebSocket message.
	Latency time.Duration
}

func (o UpstreamOptions) withDefaults() UpstreamOptions {
	if o.ChainID == 0 {
		o.ChainID = 1337
	}
	if o.Head == 0 {
		o.Head = 256
	}
	if o.Head > 1<<16 {
		o.Head = 1 << 16
	}
	return o
}

// Upstream is a deliberately trivial in-memory JSON-RPC node: an http.Handler
// that answers POSTed single and batch requests, and WebSocket connections on
// the same path, with fixed valid results at the speed of the machine.
// Close ends its WebSocket connections.
type Upstream struct {
	opts UpstreamOptions
	ans  *answers
	ws   wsSessions
	bufs sync.Pool // *exchangeBufs
	ctx  context.Context
	stop context.CancelFunc
	// maxBody bounds a request body or message (upstreamMaxBody; tests lower it).
	maxBody int64
}

// exchangeBufs are the buffers of one HTTP exchange, pooled.
type exchangeBufs struct {
	in  bytes.Buffer
	out []byte
}

// maxPooledBuf is the largest buffer kept for reuse.
const maxPooledBuf = 1 << 20

// NewUpstream returns a trivial upstream with the given options.
func NewUpstream(opts UpstreamOptions) *Upstream {
	opts = opts.withDefaults()
	u := &Upstream{opts: opts, ans: newAnswers(opts.ChainID, opts.Head), maxBody: upstreamMaxBody}
	u.bufs.New = func() any { return new(exchangeBufs) }
	u.ctx, u.stop = context.WithCancel(context.Background())
	u.ws.init()
	return u
}

// ServeHTTP answers a POSTed JSON-RPC request or batch, or upgrades a GET to
// a WebSocket session.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && isWebSocketUpgrade(r) {
		u.serveWS(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "POST a JSON-RPC request, or GET with a WebSocket upgrade", http.StatusMethodNotAllowed)
		return
	}
	bufs := u.bufs.Get().(*exchangeBufs)
	defer func() {
		if bufs.in.Cap() <= maxPooledBuf && cap(bufs.out) <= maxPooledBuf {
			u.bufs.Put(bufs)
		}
	}()
	bufs.in.Reset()
	if _, err := bufs.in.ReadFrom(http.MaxBytesReader(w, r.Body, u.maxBody)); err != nil {
		http.Error(w, "request body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	if !sleepCtx(r.Context(), u.opts.Latency) {
		return
	}
	bufs.out = u.appendHandle(bufs.out[:0], bufs.in.Bytes())
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h.Set("Content-Length", strconv.Itoa(len(bufs.out)))
	_, _ = w.Write(bufs.out)
}

var jsonContentType = []string{"application/json"}

// Handle answers one raw JSON-RPC message, a single request or a batch, and
// returns the raw response. Requests without an id are answered with id null.
func (u *Upstream) Handle(msg []byte) []byte {
	return u.appendHandle(nil, msg)
}

// appendHandle appends the response to msg to dst.
func (u *Upstream) appendHandle(dst, msg []byte) []byte {
	if !json.Valid(msg) {
		return appendError(dst, nil, jsonrpc.CodeParseError, "parse error")
	}
	msg = msg[skipSpace(msg, 0):]
	if msg[0] != '[' {
		return u.appendOne(dst, msg)
	}
	n := 0
	forEachElement(msg, func([]byte) { n++ })
	switch {
	case n == 0:
		return appendError(dst, nil, jsonrpc.CodeInvalidRequest, "empty batch")
	case n > upstreamMaxBatch:
		return appendError(dst, nil, jsonrpc.CodeInvalidRequest, "batch too large")
	}
	dst = append(dst, '[')
	first := true
	forEachElement(msg, func(item []byte) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = u.appendOne(dst, item)
	})
	return append(dst, ']')
}

// appendOne appends the response to one valid JSON request to dst.
func (u *Upstream) appendOne(dst, msg []byte) []byte {
	f, ok := scanRequest(msg)
	if !ok {
		var err error
		if f, err = decodeRequest(msg); err != nil {
			return appendError(dst, nil, jsonrpc.CodeInvalidRequest, "invalid request")
		}
	}
	if !validID(f.id) {
		return appendError(dst, nil, jsonrpc.CodeInvalidRequest, "invalid id")
	}
	method, ok := jsonString(f.method)
	if !ok || len(method) == 0 {
		return appendError(dst, f.id, jsonrpc.CodeInvalidRequest, "missing method")
	}
	result, code, text := u.answer(method, f.params)
	if code != 0 {
		return appendError(dst, f.id, code, text)
	}
	return appendResult(dst, f.id, result)
}

// decodeRequest reads a request the scanner leaves alone (member names with
// escapes) with encoding/json; it fails for anything but an object.
func decodeRequest(msg []byte) (requestFields, error) {
	var r struct {
		ID     json.RawMessage `json:"id"`
		Method json.RawMessage `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	err := json.Unmarshal(msg, &r)
	return requestFields{id: r.ID, method: r.Method, params: r.Params}, err
}

// answer returns the result of one call, or a JSON-RPC error code and message.
func (u *Upstream) answer(method, params []byte) ([]byte, int, string) {
	a := u.ans
	switch string(method) {
	case "eth_chainId":
		return a.chainID, 0, ""
	case "net_version":
		return a.netVersion, 0, ""
	case "eth_blockNumber":
		return a.blockNumber, 0, ""
	case "eth_gasPrice":
		return a.gasPrice, 0, ""
	case "eth_getBalance":
		if !isAddress(firstStringParam(params)) {
			return nil, jsonrpc.CodeInvalidParams, "invalid params: want [address, block]"
		}
		return a.balance, 0, ""
	case "eth_getTransactionCount":
		if !isAddress(firstStringParam(params)) {
			return nil, jsonrpc.CodeInvalidParams, "invalid params: want [address, block]"
		}
		return a.nonce, 0, ""
	case "eth_getBlockByNumber":
		tag := firstStringParam(params)
		if tag == nil {
			return nil, jsonrpc.CodeInvalidParams, "invalid params: want [block, fullTx]"
		}
		b, ok := a.block(tag)
		if !ok {
			return nil, jsonrpc.CodeInvalidParams, "invalid params: bad block number " + strconv.Quote(string(tag))
		}
		if b == nil {
			return []byte("null"), 0, ""
		}
		return b, 0, ""
	case "eth_getBlockByHash":
		h := firstStringParam(params)
		if h == nil {
			return nil, jsonrpc.CodeInvalidParams, "invalid params: want [hash, fullTx]"
		}
		if b, found := a.byHash[string(h)]; found {
			return b, 0, ""
		}
		return []byte("null"), 0, ""
	}
	return nil, jsonrpc.CodeMethodNotFound, "the method " + string(method) + " does not exist/is not available"
}

// firstStringParam returns the first element of a params array if it is a
// string, else nil.
func firstStringParam(params []byte) []byte {
	s, ok := jsonString(firstParam(params))
	if !ok {
		return nil
	}
	return s
}

// isAddress reports whether s is a 0x-prefixed 20-byte hex address.
func isAddress(s []byte) bool {
	if len(s) != 42 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return false
	}
	for _, c := range s[2:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// validID reports whether id is absent, null, a number or a string.
func validID(id json.RawMessage) bool {
	if len(id) == 0 {
		return true
	}
	switch id[0] {
	case '{', '[', 't', 'f':
		return false
	}
	return true
}

func appendResult(dst, id, result []byte) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"result":`...)
	dst = append(dst, result...)
	return append(dst, '}')
}

func appendError(dst, id []byte, code int, message string) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"error":{"code":`...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, `,"message":`...)
	msg, _ := json.Marshal(message) // a string always marshals
	dst = append(dst, msg...)
	return append(dst, "}}"...)
}

func appendID(dst, id []byte) []byte {
	if len(id) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, id...)
}
