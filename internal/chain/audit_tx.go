package chain

import (
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/rpcmesh/rpcmesh/internal/audit"
	"github.com/rpcmesh/rpcmesh/internal/txwatch"
)

// sentTxs gives the audit's propagation check the transactions users sent
// through the gateway, from the chain's inclusion watch.
type sentTxs struct{ w *txwatch.Watcher }

// Recent is audit.SentSource's Recent over the watch.
func (s sentTxs) Recent(since time.Time, n int, skip string) []audit.SentTx {
	var out []audit.SentTx
	for _, t := range s.w.Recent(since, n, skip) {
		out = append(out, audit.SentTx{Hash: t.Hash, SentTo: t.SentTo, HeldBy: t.HeldBy})
	}
	return out
}

// Raw is the transaction's bytes while the watch keeps them.
func (s sentTxs) Raw(hash common.Hash) ([]byte, bool) { return s.w.Raw(hash) }
