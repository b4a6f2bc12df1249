// Package fakenode is an in-process Ethereum JSON-RPC node for tests: a
// shared chain whose head the test moves, and nodes in front of it that
// misbehave on demand (down, hang, slow, 5xx, 429, lag, wrong chain ID).
// Tests of the gateway's packages start one per test with httptest.
package fakenode

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Chain is the block sequence every node of a test serves.
type Chain struct {
	ID   uint64
	head atomic.Uint64
	fork atomic.Value // string: changes every hash from ForkAt on
	at   atomic.Uint64
}

// NewChain returns a chain with id and head.
func NewChain(id, head uint64) *Chain {
	c := &Chain{ID: id}
	c.head.Store(head)
	c.fork.Store("")
	return c
}

// SetHead moves the chain's head.
func (c *Chain) SetHead(n uint64) { c.head.Store(n) }

// Head is the chain's head number.
func (c *Chain) Head() uint64 { return c.head.Load() }

// Reorg changes the hashes of every block from height on.
func (c *Chain) Reorg(height uint64, fork string) { c.at.Store(height); c.fork.Store(fork) }

// Hash is the hash of block n.
func (c *Chain) Hash(n uint64) string {
	seed := ""
	if f := c.fork.Load().(string); f != "" && n >= c.at.Load() {
		seed = f
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d/%s/%d", c.ID, seed, n)))
	return fmt.Sprintf("0x%x", sum)
}

// Fault is how a node misbehaves.
type Fault struct {
	Down       bool          // 503 to everything
	Hang       bool          // never answer (until the client gives up)
	Delay      time.Duration // answer slowly
	Status     int           // answer every call with this HTTP status
	RateLimit  int           // seconds of Retry-After on a 429
	Lag        uint64        // report a head this many blocks behind
	ChainID    uint64        // answer eth_chainId with this instead
	RPCError   bool          // answer every non-health call with a JSON-RPC error
	OnlyMethod string        // apply the fault only to this method (empty: all)
	NoBatches  bool          // refuse batch requests with HTTP 400, as some providers do
}

// Node is one fake provider endpoint.
type Node struct {
	Name  string
	chain *Chain
	srv   *httptest.Server

	mu      sync.Mutex
	fault   Fault
	calls   map[string]int
	headers []http.Header
	served  atomic.Int64
}

// Start starts a node for chain; stop it with Close.
func Start(name string, chain *Chain) *Node {
	n := &Node{Name: name, chain: chain, calls: make(map[string]int)}
	n.srv = httptest.NewServer(http.HandlerFunc(n.serve))
	return n
}

// URL is the node's HTTP endpoint.
func (n *Node) URL() string { return n.srv.URL }

// Close stops the node.
func (n *Node) Close() {
	n.srv.CloseClientConnections()
	n.srv.Close()
}

// SetFault replaces the node's fault (the zero Fault heals it).
func (n *Node) SetFault(f Fault) {
	n.mu.Lock()
	n.fault = f
	n.mu.Unlock()
}

// Calls returns how many calls of method (or of all non-health methods if
// method is "") the node received.
func (n *Node) Calls(method string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if method != "" {
		return n.calls[method]
	}
	total := 0
	for m, c := range n.calls {
		if !isHealth(m) {
			total += c
		}
	}
	return total
}

// Served is how many non-health calls the node answered successfully.
func (n *Node) Served() int64 { return n.served.Load() }

// ResetCalls forgets the counted calls.
func (n *Node) ResetCalls() {
	n.mu.Lock()
	n.calls = make(map[string]int)
	n.headers = nil
	n.mu.Unlock()
	n.served.Store(0)
}

// Headers returns the headers of the requests received.
func (n *Node) Headers() []http.Header {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]http.Header(nil), n.headers...)
}

func isHealth(m string) bool { return m == "eth_chainId" || m == "eth_getBlockByNumber" }

type request struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
}

// serve answers one call or a batch of calls. A fault applies to the
// whole HTTP request when it applies to any of its calls.
func (n *Node) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	batch := len(bytes.TrimSpace(body)) > 0 && bytes.TrimSpace(body)[0] == '['
	var reqs []request
	if batch {
		err = json.Unmarshal(body, &reqs)
	} else {
		reqs = make([]request, 1)
		err = json.Unmarshal(body, &reqs[0])
	}
	if err != nil || len(reqs) == 0 {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	n.mu.Lock()
	f := n.fault
	for _, req := range reqs {
		n.calls[req.Method]++
	}
	n.headers = append(n.headers, r.Header.Clone())
	n.mu.Unlock()
	if batch && f.NoBatches {
		http.Error(w, "batches not supported", http.StatusBadRequest)
		return
	}

	applies := false
	for _, req := range reqs {
		applies = applies || f.OnlyMethod == "" || f.OnlyMethod == req.Method
	}
	if applies {
		switch {
		case f.Hang:
			<-r.Context().Done()
			return
		case f.Down:
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		case f.Status != 0:
			http.Error(w, "fault", f.Status)
			return
		case f.RateLimit > 0:
			w.Header().Set("Retry-After", strconv.Itoa(f.RateLimit))
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
	}
	outs := make([]map[string]any, len(reqs))
	for i, req := range reqs {
		result, rpcErr := n.answer(req, f)
		if (f.OnlyMethod == "" || f.OnlyMethod == req.Method) && f.RPCError && !isHealth(req.Method) {
			result, rpcErr = nil, map[string]any{"code": -32000, "message": "internal node error"}
		}
		out := map[string]any{"jsonrpc": "2.0", "id": req.ID}
		if rpcErr != nil {
			out["error"] = rpcErr
		} else {
			out["result"] = result
			if !isHealth(req.Method) {
				n.served.Add(1)
			}
		}
		outs[i] = out
	}
	w.Header().Set("Content-Type", "application/json")
	if batch {
		_ = json.NewEncoder(w).Encode(outs)
	} else {
		_ = json.NewEncoder(w).Encode(outs[0])
	}
}

func (n *Node) head(f Fault) uint64 {
	h := n.chain.Head()
	if f.Lag > h {
		return 0
	}
	return h - f.Lag
}

func hexq(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }

func (n *Node) block(num uint64) map[string]any {
	parent := "0x" + strings.Repeat("0", 64)
	if num > 0 {
		parent = n.chain.Hash(num - 1)
	}
	return map[string]any{"number": hexq(num), "hash": n.chain.Hash(num), "parentHash": parent, "transactions": []any{}}
}

func (n *Node) answer(req request, f Fault) (any, map[string]any) {
	h := n.head(f)
	switch req.Method {
	case "eth_chainId":
		id := n.chain.ID
		if f.ChainID != 0 {
			id = f.ChainID
		}
		return hexq(id), nil
	case "eth_blockNumber":
		return hexq(h), nil
	case "eth_getBlockByNumber":
		if len(req.Params) == 0 {
			return nil, map[string]any{"code": -32602, "message": "missing params"}
		}
		var tag string
		_ = json.Unmarshal(req.Params[0], &tag)
		var num uint64
		switch tag {
		case "latest", "pending":
			num = h
		case "safe", "finalized":
			return nil, map[string]any{"code": -32000, "message": tag + " block not found"}
		case "earliest":
			num = 0
		default:
			v, err := strconv.ParseUint(strings.TrimPrefix(tag, "0x"), 16, 64)
			if err != nil {
				return nil, map[string]any{"code": -32602, "message": "bad block"}
			}
			if v > h {
				return nil, nil // null: not yet known
			}
			num = v
		}
		return n.block(num), nil
	case "eth_getBalance", "eth_getTransactionCount", "eth_call":
		// Echo the block the call was asked for, so tests can check rewriting.
		if len(req.Params) > 1 {
			var tag string
			_ = json.Unmarshal(req.Params[len(req.Params)-1], &tag)
			if v, err := strconv.ParseUint(strings.TrimPrefix(tag, "0x"), 16, 64); err == nil && v > h {
				return nil, map[string]any{"code": -32000, "message": "header not found"}
			}
			return tag, nil
		}
		return "0x0", nil
	case "eth_getLogs":
		var filter struct {
			From string `json:"fromBlock"`
			To   string `json:"toBlock"`
		}
		if len(req.Params) > 0 {
			_ = json.Unmarshal(req.Params[0], &filter)
		}
		from, _ := strconv.ParseUint(strings.TrimPrefix(filter.From, "0x"), 16, 64)
		to, _ := strconv.ParseUint(strings.TrimPrefix(filter.To, "0x"), 16, 64)
		logs := []map[string]any{}
		for b := from; b <= to && b <= h; b++ {
			logs = append(logs, map[string]any{"blockNumber": hexq(b), "blockHash": n.chain.Hash(b), "logIndex": "0x0"})
		}
		return logs, nil
	case "eth_sendRawTransaction":
		return "0x" + strings.Repeat("ab", 32), nil
	case "eth_gasPrice":
		return "0x3b9aca00", nil
	case "web3_clientVersion":
		return "fakenode/" + n.Name, nil
	}
	return nil, map[string]any{"code": -32601, "message": "the method " + req.Method + " does not exist/is not available"}
}
