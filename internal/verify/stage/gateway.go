package stage

import (
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// Defaults of FromGateway.
const (
	gatewayMaxWalk    = 1024 // blocks below the agreed head a header can be proven by parent links
	gatewayHeaderSize = 4096 // headers cached
)

// FromGateway builds the verification stage of one chain from the
// gateway's parts: the agreed head of distinct operators as the trust
// anchor (older headers proven by parent links, fetched from any provider),
// the chain's providers to ask, and the evidence log the admin listener
// serves. observer may be nil.
func FromGateway(chain string, chainID uint64, tracker *head.Tracker, providers []*upstream.Provider, evidence *verify.EvidenceLog, observer Observer) pipeline.Stage {
	asker := &Providers{List: providers}
	o := &Options{Chain: chain, ChainConfig: verify.ChainConfigFor(chainID), Asker: asker, Evidence: evidence, Observer: observer, CheckPlain: true}
	onLie := func(a Answer, err error) { o.reject("eth_getBlockByHash", nil, a, err) }
	o.Trust = verify.NewLinkedTrust(AnchorFrom(tracker), HeaderFetcher(asker, 3, onLie), gatewayMaxWalk, gatewayHeaderSize)
	o.Latest = func() (uint64, bool) {
		b, ok := tracker.Latest()
		return b.Number, ok
	}
	return Stage(*o)
}
