// Package broadcast is the pipeline stage for transactions: it decodes and
// checks eth_sendRawTransaction locally, fans it out to providers of
// distinct operators and clouds and hands it to the inclusion watch;
// answers rpcmesh_transactionStatus from the watch; and answers
// eth_getTransactionCount(address, "pending") with the highest count two
// distinct operators reach, never below the proven "latest" count and the
// watched transactions. Every other call passes on unchanged.
package broadcast

import (
	"context"
	"encoding/json"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
	"github.com/rpcmesh/rpcmesh/internal/txwatch"
)

// StatusMethod is the gateway's own method reporting a transaction's status.
const StatusMethod = "rpcmesh_transactionStatus"

// Broadcast is the transaction stage.
type Broadcast struct {
	Next   pipeline.Handler
	Limits txbroadcast.Limits
	Watch  *txwatch.Watcher
}

// Handle runs a wave's transaction calls on their own (each waits on its
// own: a broadcast, a count across operators) and passes the rest on
// together.
func (b *Broadcast) Handle(ctx context.Context, wave []*pipeline.Call) {
	pipeline.HandleWave(ctx, wave, b.Next, b.way, b)
}

// way runs the calls the stage serves alone.
func (b *Broadcast) way(c *pipeline.Call) pipeline.Way {
	if b.serves(c) {
		return pipeline.Alone
	}
	return pipeline.PassOn
}

// Run answers a transaction call (one serves reports; Handle runs it alone).
func (b *Broadcast) Run(ctx context.Context, c *pipeline.Call) {
	switch c.Method {
	case "eth_sendRawTransaction":
		c.Answer(b.send(ctx, c))
	case StatusMethod:
		c.Answer(b.status(c))
	default: // eth_getTransactionCount(address, "pending")
		res, err := txbroadcast.PendingNonce(ctx, b.Watch.Ranked(), c.Params, b.nonceFloor(ctx, c))
		if err != nil {
			c.Answer(nil, route.ToRPC(err))
			return
		}
		c.Provider = "operators"
		c.Answer(res, nil)
	}
}

// serves reports whether the stage answers c itself (Run's cases).
func (b *Broadcast) serves(c *pipeline.Call) bool {
	switch c.Method {
	case "eth_sendRawTransaction", StatusMethod:
		return true
	case "eth_getTransactionCount":
		return txbroadcast.IsPendingNonce(c.Params)
	}
	return false
}

// nonceFloor is the least a "pending" count may be: the sender's "latest"
// count through the rest of the pipeline (proven there when verification
// is on), and the next nonce of its transactions the watch holds. The
// count is asked on c's client's behalf (the privacy policy's key).
func (b *Broadcast) nonceFloor(ctx context.Context, c *pipeline.Call) uint64 {
	var args []json.RawMessage
	var addr common.Address
	if json.Unmarshal(c.Params, &args) != nil || len(args) != 2 || json.Unmarshal(args[0], &addr) != nil {
		return 0
	}
	floor := b.Watch.NextNonce(addr)
	latest, _ := json.Marshal([]any{addr, "latest"})
	sub := pipeline.NewCall("eth_getTransactionCount", latest)
	sub.Client = c.Client
	res, err := pipeline.Do(ctx, b.Next, sub)
	var n hexutil.Uint64
	if err == nil && json.Unmarshal(res, &n) == nil {
		floor = max(floor, uint64(n))
	}
	return floor
}

// send decodes, checks and broadcasts a raw transaction; the answer is its
// hash at the first acceptance.
func (b *Broadcast) send(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	tx, err := txbroadcast.Decode(c.Params, b.Limits)
	if err != nil {
		return nil, err
	}
	o, err := b.Watch.Send(ctx, tx)
	if err != nil {
		return nil, err
	}
	c.Provider, c.Attempts = o.Provider, 1
	return json.Marshal(tx.Hash)
}

// status answers rpcmesh_transactionStatus(hash).
func (b *Broadcast) status(c *pipeline.Call) (json.RawMessage, error) {
	var args []common.Hash
	if err := json.Unmarshal(c.Params, &args); err != nil || len(args) != 1 {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: %s expects one param, a 32-byte transaction hash", StatusMethod)
	}
	c.Provider = "gateway"
	return json.Marshal(b.Watch.Status(args[0]))
}
