package outagee2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/head"
)

// TestNewHeadsPace: behind HTTP-only providers, a newHeads subscription
// gets every block once, in order, one at a time at the chain's pace (not
// in bursts at the poll interval).
func TestNewHeadsPace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	settle(ctx, t)
	conn := devnetgw.DialWS(ctx, t, devnetgw.WSURL(gw), nil)
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}`)); err != nil {
		t.Fatal(err)
	}
	const heads = 30
	var numbers []uint64
	var gaps []time.Duration
	var last time.Time
	for len(numbers) < heads {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("after %d heads: %v", len(numbers), err)
		}
		var m struct {
			Method string `json:"method"`
			Params struct {
				Result json.RawMessage `json:"result"`
			} `json:"params"`
		}
		if json.Unmarshal(msg, &m) != nil || m.Method != "eth_subscription" {
			continue
		}
		b, err := head.ParseHeader(m.Params.Result)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if !last.IsZero() {
			gaps = append(gaps, now.Sub(last))
		}
		last = now
		numbers = append(numbers, b.Number)
	}
	for i := 1; i < len(numbers); i++ {
		if numbers[i] != numbers[i-1]+1 {
			t.Fatalf("heads out of order or missing: %v", numbers)
		}
	}
	slices.Sort(gaps)
	// One block at a time: hardly any head comes right after another.
	bursts := 0
	for _, g := range gaps {
		if g < blockTime/4 {
			bursts++
		}
	}
	t.Logf("%d heads in order; gaps p10 %s p50 %s p90 %s; %d under a quarter block time",
		len(numbers), gaps[len(gaps)/10].Round(time.Millisecond), gaps[len(gaps)/2].Round(time.Millisecond),
		gaps[len(gaps)*9/10].Round(time.Millisecond), bursts)
	if bursts > len(gaps)/10 {
		t.Errorf("%s", fmt.Sprintf("%d of %d heads came within a quarter block time of the one before (bursts at the poll interval)", bursts, len(gaps)))
	}
}
