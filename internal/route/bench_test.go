package route

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"
)

// BenchmarkPick measures choosing a provider among ten healthy ones.
func BenchmarkPick(b *testing.B) {
	t := &testing.T{}
	var specs []nodeSpec
	for i := range 10 {
		specs = append(specs, nodeSpec{name: fmt.Sprintf("n%d", i), operator: fmt.Sprintf("op%d", i%5), cloud: fmt.Sprintf("c%d", i%3), tier: "own"})
	}
	n := startNet(t, testRouting(), specs...)
	defer func() {
		for _, node := range n.nodes {
			node.Close()
		}
	}()
	req := read("eth_gasPrice")
	b.ReportAllocs()
	for b.Loop() {
		if p, _ := n.router.pick(req, &tried{}, false); p == nil {
			b.Fatal("no pick")
		}
	}
}

// BenchmarkDo measures routing one read end to end: pick, the attempt on a
// goroutine of its own, the upstream call to an in-process fake node (its HTTP server's
// cost is in the figures), and the answer.
func BenchmarkDo(b *testing.B) {
	benchDo(b, startNet(&testing.T{}, testRouting(), threeOperators()...))
}

// benchDo routes eth_gasPrice through n's router per op.
func benchDo(b *testing.B, n *testNet) {
	req := read("eth_gasPrice")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.router.Do(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatch10 measures a wave of ten reads that reach routing as one
// upstream batch (DoBatch, as the forward stage sends a wave); per op is
// per wave.
func BenchmarkBatch10(b *testing.B) {
	n := startNet(&testing.T{}, testRouting(), threeOperators()...)
	reqs := make([]Request, 10)
	for i := range reqs {
		reqs[i] = *read("eth_gasPrice")
	}
	results, errs := make([]Result, len(reqs)), make([]error, len(reqs))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		n.router.DoBatch(ctx, reqs, results, errs)
		for _, err := range errs {
			if err != nil {
				b.Error(err)
			}
		}
	}
}

// BenchmarkDoLean is BenchmarkDo against canned nodes that allocate
// nothing (see startCannedNode), so that allocs/op are routing's and the
// upstream client's own.
func BenchmarkDoLean(b *testing.B) {
	t := &testing.T{}
	var specs []nodeSpec
	for i, op := range []string{"a", "b", "c"} {
		specs = append(specs, nodeSpec{name: fmt.Sprintf("n%d", i), operator: op, tier: "own"})
	}
	n := startNetAt(t, testRouting(), testHealth(), func(string) string { return startCannedNode(b) }, specs...)
	if t.Failed() {
		b.Fatal("canned nodes did not become healthy")
	}
	benchDo(b, n)
}

// startCannedNode starts a loopback HTTP/1.1 node that answers every
// request from canned bytes (eth_chainId 0x539, a block for
// eth_getBlockByNumber, "0x1" for anything else) without allocating per
// request, and returns its URL.
func startCannedNode(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	// Each answer carries the call's id (the provider checks it): the id
	// goes between a fixed head and tail.
	const head = `{"jsonrpc":"2.0","id":`
	chainID := `,"result":"0x539"}`
	block := `,"result":{"number":"0x3e8","hash":"0xaa","parentHash":"0xbb"}}`
	other := `,"result":"0x1"}`
	serve := func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		body := make([]byte, 0, 4096)
		out := make([]byte, 0, 512)
		for {
			length := -1
			for { // the header block
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break
				}
				if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
					length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
				}
			}
			if length < 0 || length > cap(body) {
				return
			}
			body = body[:length]
			if _, err := io.ReadFull(br, body); err != nil {
				return
			}
			tail := other
			switch {
			case bytes.Contains(body, []byte("eth_chainId")):
				tail = chainID
			case bytes.Contains(body, []byte("eth_getBlockByNumber")):
				tail = block
			}
			id := callID(body)
			out = append(out[:0], "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "...)
			out = strconv.AppendInt(out, int64(len(head)+len(id)+len(tail)), 10)
			out = append(append(append(append(out, "\r\n\r\n"...), head...), id...), tail...)
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return "http://" + ln.Addr().String()
}

// callID returns the id of the call in body, as the provider writes it
// (`"id":` then digits).
func callID(body []byte) []byte {
	_, rest, ok := bytes.Cut(body, []byte(`"id":`))
	if !ok {
		return []byte("null")
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	return rest[:n]
}
