package server

import (
	"net/http"

	"github.com/rpcmesh/rpcmesh/internal/chain"
)

// TransactionsStatus is the /transactions document: per chain, the
// censorship counts per provider, the evidence, and the watched count.
type TransactionsStatus struct {
	Chains []chain.Transactions `json:"chains"`
}

// Transactions reports the transaction watch of every chain.
func (g *Gateway) Transactions() TransactionsStatus {
	var st TransactionsStatus
	for _, c := range g.chains {
		st.Chains = append(st.Chains, c.Transactions())
	}
	return st
}

// serveTransactions is the admin /transactions handler.
func (g *Gateway) serveTransactions(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, g.Transactions())
}

// BroadcastOrder names the providers of the chain called name in the order
// a transaction broadcast would choose them now (nil for an unknown chain).
func (g *Gateway) BroadcastOrder(name string) []string {
	for _, c := range g.chains {
		if c.Name() == name {
			return c.BroadcastOrder()
		}
	}
	return nil
}
