package server

import "github.com/rpcmesh/rpcmesh/internal/status"

// StatusSource is where the gateway's status is read (the served chains as
// a status.Source): the status page, webhooks and the chaos tool read it.
func (g *Gateway) StatusSource() status.Source { return g.set }
