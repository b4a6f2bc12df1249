package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// response is a decoded JSON-RPC response for assertions.
type response struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

const addr = `"0x00000000000000000000000000000000000000aa"`

// upstreamCases are requests and what the trivial upstream must answer:
// a result, or an error code.
var upstreamCases = []struct {
	name     string
	method   string
	params   string
	result   string // exact JSON result, or "" to check with resultOK
	resultOK func(json.RawMessage) error
	code     int
}{
	{name: "chainId", method: "eth_chainId", params: `[]`, result: `"0x7"`},
	{name: "net_version", method: "net_version", result: `"7"`},
	{name: "blockNumber", method: "eth_blockNumber", params: `[]`, result: `"0x20"`},
	{name: "gasPrice", method: "eth_gasPrice", result: `"0x3b9aca00"`},
	{name: "balance", method: "eth_getBalance", params: `[` + addr + `,"latest"]`, result: `"0xde0b6b3a7640000"`},
	{name: "nonce", method: "eth_getTransactionCount", params: `[` + addr + `,"0x1"]`, result: `"0x0"`},
	{name: "balance bad address", method: "eth_getBalance", params: `["0x12","latest"]`, code: jsonrpc.CodeInvalidParams},
	{name: "balance no params", method: "eth_getBalance", code: jsonrpc.CodeInvalidParams},
	{name: "block latest", method: "eth_getBlockByNumber", params: `["latest",false]`, resultOK: blockNumbered("0x20")},
	{name: "block by number", method: "eth_getBlockByNumber", params: `["0x5",true]`, resultOK: blockNumbered("0x5")},
	{name: "block earliest", method: "eth_getBlockByNumber", params: `["earliest",false]`, resultOK: blockNumbered("0x0")},
	{name: "block past head", method: "eth_getBlockByNumber", params: `["0x21",false]`, result: `null`},
	{name: "block bad tag", method: "eth_getBlockByNumber", params: `["soon",false]`, code: jsonrpc.CodeInvalidParams},
	{name: "block by hash", method: "eth_getBlockByHash", params: `["` + blockHash(3) + `",false]`, resultOK: blockNumbered("0x3")},
	{name: "block by unknown hash", method: "eth_getBlockByHash", params: `["0x` + strings.Repeat("ab", 32) + `",false]`, result: `null`},
	{name: "unknown method", method: "eth_sendRawTransaction", params: `["0x00"]`, code: jsonrpc.CodeMethodNotFound},
}

// blockNumbered checks a block object: its number, a parent hash chaining to
// the previous block, and the fields a client needs.
func blockNumbered(number string) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		var b map[string]any
		if err := json.Unmarshal(raw, &b); err != nil {
			return err
		}
		if b["number"] != number {
			return fmt.Errorf("number %v, want %s", b["number"], number)
		}
		for _, f := range []string{"hash", "parentHash", "stateRoot", "timestamp", "gasLimit", "baseFeePerGas", "transactions", "logsBloom"} {
			if _, ok := b[f]; !ok {
				return fmt.Errorf("block lacks %s", f)
			}
		}
		if h := b["hash"].(string); len(h) != 66 {
			return fmt.Errorf("hash %q is not 32 bytes", h)
		}
		if bloom := b["logsBloom"].(string); len(bloom) != 2+512 {
			return fmt.Errorf("logsBloom has %d chars", len(bloom))
		}
		return nil
	}
}

func requestJSON(id int, method, params string) string {
	if params == "" {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q}`, id, method)
	}
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params)
}

func checkCase(t *testing.T, name string, id int, want int, result string, ok func(json.RawMessage) error, r response) {
	t.Helper()
	if string(r.ID) != fmt.Sprint(id) {
		t.Errorf("%s: id %s, want %d", name, r.ID, id)
	}
	if want != 0 {
		if r.Error == nil || r.Error.Code != want {
			t.Errorf("%s: error %+v, want code %d", name, r.Error, want)
		}
		return
	}
	if r.Error != nil {
		t.Errorf("%s: unexpected error %+v", name, r.Error)
		return
	}
	if result != "" && string(r.Result) != result {
		t.Errorf("%s: result %s, want %s", name, r.Result, result)
	}
	if ok != nil {
		if err := ok(r.Result); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func newTestUpstream(t *testing.T, opts UpstreamOptions) *UpstreamServer {
	t.Helper()
	s, err := StartUpstream("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

func TestUpstreamSingleHTTP(t *testing.T) {
	s := newTestUpstream(t, UpstreamOptions{ChainID: 7, Head: 0x20})
	for i, c := range upstreamCases {
		t.Run(c.name, func(t *testing.T) {
			status, body := post(t, s.URL, requestJSON(i+1, c.method, c.params))
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			var r response
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			checkCase(t, c.name, i+1, c.code, c.result, c.resultOK, r)
		})
	}
}

func TestUpstreamBatchHTTP(t *testing.T) {
	s := newTestUpstream(t, UpstreamOptions{ChainID: 7, Head: 0x20})
	var reqs []string
	for i, c := range upstreamCases {
		reqs = append(reqs, requestJSON(i+1, c.method, c.params))
	}
	_, body := post(t, s.URL, "["+strings.Join(reqs, ",")+"]")
	var rs []response
	if err := json.Unmarshal(body, &rs); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if len(rs) != len(upstreamCases) {
		t.Fatalf("%d responses, want %d", len(rs), len(upstreamCases))
	}
	for i, c := range upstreamCases {
		checkCase(t, c.name, i+1, c.code, c.result, c.resultOK, rs[i])
	}
}

func TestUpstreamWebSocket(t *testing.T) {
	s := newTestUpstream(t, UpstreamOptions{ChainID: 7, Head: 0x20})
	conn, _, err := websocket.DefaultDialer.Dial(s.WSURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i, c := range upstreamCases {
		if err := conn.WriteMessage(websocket.TextMessage, []byte(requestJSON(i+1, c.method, c.params))); err != nil {
			t.Fatal(err)
		}
		var r response
		if err := conn.ReadJSON(&r); err != nil {
			t.Fatal(err)
		}
		checkCase(t, c.name, i+1, c.code, c.result, c.resultOK, r)
	}
	// A batch over WebSocket.
	if err := conn.WriteMessage(websocket.TextMessage, []byte("["+requestJSON(100, "eth_chainId", "")+","+requestJSON(101, "nope", "")+"]")); err != nil {
		t.Fatal(err)
	}
	var rs []response
	if err := conn.ReadJSON(&rs); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("%d responses, want 2", len(rs))
	}
	checkCase(t, "ws batch chainId", 100, 0, `"0x7"`, nil, rs[0])
	checkCase(t, "ws batch unknown", 101, jsonrpc.CodeMethodNotFound, "", nil, rs[1])
}

func TestUpstreamMalformed(t *testing.T) {
	u := NewUpstream(UpstreamOptions{})
	for _, c := range []struct {
		name, in string
		code     int
		id       string
	}{
		{"bad JSON", `{"jsonrpc":`, jsonrpc.CodeParseError, "null"},
		{"garbage", `hello`, jsonrpc.CodeParseError, "null"},
		{"bad JSON batch", `[{"id":1,`, jsonrpc.CodeParseError, "null"},
		{"empty batch", `[]`, jsonrpc.CodeInvalidRequest, "null"},
		{"not an object", `42`, jsonrpc.CodeInvalidRequest, "null"},
		{"no method", `{"jsonrpc":"2.0","id":9}`, jsonrpc.CodeInvalidRequest, "9"},
		{"object id", `{"jsonrpc":"2.0","id":{},"method":"eth_chainId"}`, jsonrpc.CodeInvalidRequest, "null"},
		{"string id kept", `{"jsonrpc":"2.0","id":"x-1","method":"nope"}`, jsonrpc.CodeMethodNotFound, `"x-1"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := u.Handle([]byte(c.in))
			var r response
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if r.Error == nil || r.Error.Code != c.code {
				t.Fatalf("got %s, want code %d", out, c.code)
			}
			if string(r.ID) != c.id {
				t.Fatalf("id %s, want %s", r.ID, c.id)
			}
		})
	}
	// A bad item in a batch gets its own error; the others are answered.
	out := u.Handle([]byte(`[1,{"jsonrpc":"2.0","id":2,"method":"eth_chainId"}]`))
	var rs []response
	if err := json.Unmarshal(out, &rs); err != nil || len(rs) != 2 {
		t.Fatalf("batch with a bad item: %s (%v)", out, err)
	}
	if rs[0].Error == nil || rs[0].Error.Code != jsonrpc.CodeInvalidRequest || rs[1].Error != nil {
		t.Fatalf("batch with a bad item: %s", out)
	}
	// An unknown method's name is echoed as valid JSON even with odd bytes.
	out = u.Handle([]byte(`{"id":1,"method":"a\u0000\"b"}`))
	if !json.Valid(out) {
		t.Fatalf("invalid JSON for odd method name: %s", out)
	}
}

func TestUpstreamHTTPMethods(t *testing.T) {
	u := NewUpstream(UpstreamOptions{})
	u.maxBody = 4096
	srv := httptest.NewServer(u)
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: status %d, want 405", res.StatusCode)
	}
	big := `{"id":1,"method":"` + strings.Repeat("a", int(u.maxBody)) + `"}`
	status, _ := post(t, srv.URL, big)
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: status %d, want 413", status)
	}
}

func TestUpstreamLatency(t *testing.T) {
	s := newTestUpstream(t, UpstreamOptions{Latency: 30 * time.Millisecond})
	start := time.Now()
	_, body := post(t, s.URL, requestJSON(1, "eth_chainId", ""))
	// A lower bound only: the delay is a sleep, so it cannot be shorter.
	if took := time.Since(start); took < 30*time.Millisecond {
		t.Fatalf("answered in %s, before the 30ms latency", took)
	}
	if !bytes.Contains(body, []byte(`"0x539"`)) {
		t.Fatalf("default chain id: %s", body)
	}
}

func TestUpstreamCloseEndsWebSockets(t *testing.T) {
	s, err := StartUpstream("127.0.0.1:0", UpstreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conn, _, err := websocket.DefaultDialer.Dial(s.WSURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := conn.ReadMessage(); err == nil {
		t.Fatal("read on a closed upstream's session succeeded")
	}
}

func BenchmarkUpstreamHandle(b *testing.B) {
	u := NewUpstream(UpstreamOptions{})
	batch := make([]string, 10)
	for i := range batch {
		batch[i] = requestJSON(i+1, "eth_getBalance", `[`+addr+`,"latest"]`)
	}
	for _, c := range []struct{ name, msg string }{
		{"blockNumber", requestJSON(1, "eth_blockNumber", "[]")},
		{"getBalance", requestJSON(1, "eth_getBalance", `[`+addr+`,"latest"]`)},
		{"getBlockByNumber", requestJSON(1, "eth_getBlockByNumber", `["latest",false]`)},
		{"batch10getBalance", "[" + strings.Join(batch, ",") + "]"},
	} {
		b.Run(c.name, func(b *testing.B) {
			msg := []byte(c.msg)
			b.ReportAllocs()
			for b.Loop() {
				_ = u.Handle(msg)
			}
		})
	}
}

func BenchmarkUpstreamServeHTTP(b *testing.B) {
	u := NewUpstream(UpstreamOptions{})
	body := []byte(requestJSON(1, "eth_blockNumber", "[]"))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		w := httptest.NewRecorder()
		u.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

func FuzzUpstreamHandle(f *testing.F) {
	for _, c := range upstreamCases {
		f.Add([]byte(requestJSON(1, c.method, c.params)))
	}
	f.Add([]byte(`[{"id":1,"method":"eth_chainId"},2,"x"]`))
	f.Add([]byte(`{"id":{},"method":1}`))
	u := NewUpstream(UpstreamOptions{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		out := u.Handle(msg)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON response %q to %q", out, msg)
		}
	})
}
