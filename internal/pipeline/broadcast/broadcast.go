// Package broadcast is the pipeline stage for transactions: it decodes and
// checks eth_sendRawTransaction locally, fans it out to providers of
// distinct operators and clouds and hands it to the inclusion watch;
// answers rpcmesh_transactionStatus from the watch; and answers
// eth_getTransactionCount(address, "pending") with the highest count among
// distinct operators. Every other call passes on unchanged.
package broadcast

import (
	"context"
	"encoding/json"

	"github.com/ethereum/go-ethereum/common"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/forward"
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

// Handle serves the transaction methods and passes every other call on.
func (b *Broadcast) Handle(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	switch c.Method {
	case "eth_sendRawTransaction":
		return b.send(ctx, c)
	case StatusMethod:
		return b.status(c)
	case "eth_getTransactionCount":
		if txbroadcast.IsPendingNonce(c.Params) {
			res, err := txbroadcast.PendingNonce(ctx, b.Watch.Ranked(), c.Params)
			if err != nil {
				return nil, forward.ToRPC(err)
			}
			c.Provider = "operators"
			return res, nil
		}
	}
	return b.Next.Handle(ctx, c)
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
