package route

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// The privacy policy (routing.privacy: spread, docs/privacy.md) spreads the
// distinct addresses one client asks about over the chain's operators, so
// that no operator learns more than its share of them, and keeps each
// address with the operator it went to first, so that asking again reveals
// it to no one new. Calls that name no address, and the gateway's own
// calls (no client), are routed as without the policy. Privacy yields to
// availability: when no operator under the share can serve a call, or the
// address's operator cannot, the call goes where routing can send it, and
// the PrivacyObserver hears of it.

// Privacy outcomes, as the PrivacyObserver hears them.
const (
	PrivacySticky   = "sticky"   // went to the operator its addresses are kept with
	PrivacyAssigned = "assigned" // a new address, given to an operator under its share
	PrivacyOverCap  = "over_cap" // a new address, given to an operator over its share: none under it could serve
	PrivacyFallback = "fallback" // its operator could not serve it: another operator saw the address
	PrivacyQuorum   = "quorum"   // a quorum's further operator saw the address (always the same ones)
)

// PrivacyObserver hears the privacy policy's decisions, one outcome per
// routed attempt of a call that names addresses. An Observer that also
// implements it is told them.
type PrivacyObserver interface {
	Privacy(chain, outcome string)
}

// privacy is one chain's policy state: per client (an LRU of at most
// clients), the addresses it asked about (an LRU of at most addresses
// each) and the operator each is kept with.
type privacy struct {
	share     float64
	addresses int
	// operators maps operator names to indexes in clientAddrs.perOp:
	// replaced whole (copy on write) when a provider of a new operator is
	// added at run time (Router.Add); an index, once given, stays.
	operators atomic.Pointer[map[string]uint16]
	seed      maphash.Seed // of the quorum's operator order

	mu      sync.Mutex
	clients *lru[string, *clientAddrs]
}

// clientAddrs is one client's addresses and how many each operator has.
type clientAddrs struct {
	mu    sync.Mutex
	addrs *lru[address, uint16] // address → operator index
	perOp []int
}

// newPrivacy returns the policy for providers under r, or nil when r does
// not turn it on.
func newPrivacy(r config.Routing, providers []*upstream.Provider) *privacy {
	if !r.PrivacyOn() {
		return nil
	}
	pv := &privacy{
		share:     r.PrivacyMaxShare,
		addresses: r.PrivacyAddresses,
		clients:   newLRU[string, *clientAddrs](r.PrivacyClients),
		seed:      maphash.MakeSeed(),
	}
	if pv.share <= 0 || pv.share > 1 {
		pv.share = config.DefaultPrivacyMaxShare
	}
	if pv.addresses <= 0 {
		pv.addresses = config.DefaultPrivacyAddresses
	}
	ops := make(map[string]uint16)
	for _, p := range providers {
		op := p.Labels().Operator
		if _, ok := ops[op]; !ok {
			ops[op] = uint16(len(ops))
		}
	}
	pv.operators.Store(&ops)
	return pv
}

// add gives operator an index if it has none (a provider added at run
// time). Callers take turns (the router's roster writers).
func (pv *privacy) add(operator string) {
	if pv == nil {
		return
	}
	old := *pv.operators.Load()
	if _, ok := old[operator]; ok || len(old) > math.MaxUint16 {
		return
	}
	ops := make(map[string]uint16, len(old)+1)
	for k, v := range old {
		ops[k] = v
	}
	ops[operator] = uint16(len(old))
	pv.operators.Store(&ops)
}

// index is operator's index, if it has one.
func (pv *privacy) index(operator string) (int, bool) {
	i, ok := (*pv.operators.Load())[operator]
	return int(i), ok
}

// covers reports whether the policy routes req: on, with a client, for a
// call that names an address.
func (pv *privacy) covers(req *Request) bool {
	return pv != nil && req.Client != "" && len(callAddresses(req.Method, req.Params)) > 0
}

// spread is one pick under the policy: the call's addresses, its client's
// record (locked from begin until done, so that two calls of one client
// naming a new address cannot give it to two operators), the operator
// they are kept with, if any.
type spread struct {
	pv       *privacy
	cl       *clientAddrs // nil for a quorum's further pick
	addrs    []address
	kept     int // operator index the call's addresses are kept with; -1: none yet
	overCap  bool
	fallback bool
	client   string // a quorum's further pick: whose
}

// begin starts a pick of req under the policy, or returns nil when the
// policy does not cover it. The caller must call done.
func (pv *privacy) begin(req *Request) *spread {
	if pv == nil || req.Client == "" {
		return nil
	}
	addrs := callAddresses(req.Method, req.Params)
	if len(addrs) == 0 {
		return nil
	}
	if req.quorum {
		return &spread{pv: pv, addrs: addrs, kept: -1, client: req.Client}
	}
	pv.mu.Lock()
	cl, ok := pv.clients.get(req.Client)
	if !ok {
		cl = &clientAddrs{addrs: newLRU[address, uint16](pv.addresses)} // perOp grows in done
		pv.clients.put(req.Client, cl)                                  // an evicted client's record goes with it
	}
	pv.mu.Unlock()
	cl.mu.Lock()
	sp := &spread{pv: pv, cl: cl, addrs: addrs, kept: -1}
	for _, a := range addrs {
		if op, ok := cl.addrs.get(a); ok {
			sp.kept = int(op) // the first address already kept decides
			break
		}
	}
	return sp
}

// opOf is the operator index of c; -1 for an operator the policy was not
// built with (it keeps nothing there).
func (sp *spread) opOf(c candidate) int {
	if i, ok := sp.pv.index(c.snap.Labels.Operator); ok {
		return i
	}
	return -1
}

// held is how many of the client's addresses c's operator keeps.
func (sp *spread) held(c candidate) int {
	if i := sp.opOf(c); i >= 0 && i < len(sp.cl.perOp) {
		return sp.cl.perOp[i]
	}
	return 0
}

// sticky keeps the candidates of the operator the call's addresses are
// kept with; when it has none, the call falls back to the others.
func (sp *spread) sticky(cands []candidate) []candidate {
	if sp == nil || sp.cl == nil || sp.kept < 0 {
		return cands
	}
	for _, c := range cands {
		if sp.opOf(c) == sp.kept {
			return keep(cands, func(c candidate) bool { return sp.opOf(c) == sp.kept })
		}
	}
	sp.fallback = true
	return cands
}

// balance keeps, for a call not going to its kept operator, the operators
// that stay within their share of the client's addresses once given the
// call's new ones; when none does, the operators with the fewest (privacy
// yields: overCap).
func (sp *spread) balance(cands []candidate) []candidate {
	if sp == nil || sp.cl == nil || (sp.kept >= 0 && !sp.fallback) {
		return cands
	}
	added := 0
	for _, a := range sp.addrs {
		if _, ok := sp.cl.addrs.peek(a); !ok {
			added++
		}
	}
	// An operator with none of them may take one call's addresses however
	// many (the call shows them all to whoever serves it).
	limit := max(sp.pv.limit(sp.cl.addrs.len()+added), added)
	fewest := -1
	under := false
	for _, c := range cands {
		n := sp.held(c)
		if fewest < 0 || n < fewest {
			fewest = n
		}
		under = under || n+added <= limit
	}
	if under {
		return keep(cands, func(c candidate) bool { return sp.held(c)+added <= limit })
	}
	sp.overCap = !sp.fallback
	return keep(cands, func(c candidate) bool { return sp.held(c) == fewest })
}

// quorumOrder keeps, for a quorum's further pick, the candidate operator
// (of the best tier, on an untried cloud) ranked first for the client and
// the call's first address (rendezvous hashing): each pick takes the next
// (those asked already are no candidates), so a quorum asked again about
// an address asks the same operators while they are healthy.
func (sp *spread) quorumOrder(cands []candidate) []candidate {
	if sp == nil || sp.cl != nil {
		return cands
	}
	rank := func(c candidate) uint64 {
		var h maphash.Hash
		h.SetSeed(sp.pv.seed)
		h.WriteString(sp.client)
		h.Write(sp.addrs[0][:])
		h.WriteString(c.snap.Labels.Operator)
		return h.Sum64()
	}
	best, first := uint64(0), true
	for _, c := range cands {
		if r := rank(c); first || r < best {
			best, first = r, false
		}
	}
	return keep(cands, func(c candidate) bool { return rank(c) == best })
}

// limit is the most of a client's total addresses one operator may hold:
// the share of them, rounded up (a client's first address is one
// operator's whole share of one, and no fewer can be).
func (pv *privacy) limit(total int) int {
	return int(math.Ceil(pv.share*float64(total) - 1e-9))
}

// done records the pick of p (nil: none) and unlocks the client's record.
// A call's addresses not kept yet are kept with p's operator; a fallback
// moves none. It returns the outcome to report ("" when nothing was picked).
func (sp *spread) done(p *upstream.Provider) string {
	if sp == nil {
		return ""
	}
	if sp.cl == nil {
		if p == nil {
			return ""
		}
		return PrivacyQuorum
	}
	defer sp.cl.mu.Unlock()
	if p == nil {
		return ""
	}
	i, ok := sp.pv.index(p.Labels().Operator)
	if !ok {
		return ""
	}
	op := uint16(i)
	if !sp.fallback {
		if n := int(op) + 1 - len(sp.cl.perOp); n > 0 {
			sp.cl.perOp = append(sp.cl.perOp, make([]int, n)...) // an operator added since
		}
		for _, a := range sp.addrs {
			if _, kept := sp.cl.addrs.peek(a); kept {
				continue
			}
			if _, old, evicted := sp.cl.addrs.put(a, op); evicted {
				sp.cl.perOp[old]--
			}
			sp.cl.perOp[op]++
		}
	}
	switch {
	case sp.fallback:
		return PrivacyFallback
	case sp.kept >= 0:
		return PrivacySticky
	case sp.overCap:
		return PrivacyOverCap
	}
	return PrivacyAssigned
}

// group splits a wave's batchable calls into upstream batches: the calls
// the policy does not route together, and those it does one batch per
// client and operator their first address is kept with. A call naming a
// new address goes on its own (fallback, then Do), so that each new
// address is placed by the share. Without the policy: one group.
func (pv *privacy) group(items []*batchItem) [][]*batchItem {
	if pv == nil {
		return [][]*batchItem{items}
	}
	type key struct {
		client string
		op     int
	}
	var plain []*batchItem
	var order []key
	byKey := map[key][]*batchItem{}
	for _, it := range items {
		op, covered := pv.keptWith(&it.req)
		switch {
		case !covered:
			plain = append(plain, it)
		case op < 0:
			it.fallback = true
		default:
			k := key{it.req.Client, op}
			if byKey[k] == nil {
				order = append(order, k)
			}
			byKey[k] = append(byKey[k], it)
		}
	}
	var out [][]*batchItem
	if len(plain) > 0 {
		out = append(out, plain)
	}
	for _, k := range order {
		out = append(out, byKey[k])
	}
	return out
}

// keptWith returns the operator index the first address of req is kept
// with (marking its addresses used), or -1 when one of them is new (the
// call then places it on its own); covered is false when the policy does
// not route req.
func (pv *privacy) keptWith(req *Request) (op int, covered bool) {
	if pv == nil || req.Client == "" {
		return -1, false
	}
	addrs := callAddresses(req.Method, req.Params)
	if len(addrs) == 0 {
		return -1, false
	}
	pv.mu.Lock()
	cl, ok := pv.clients.get(req.Client)
	pv.mu.Unlock()
	if !ok {
		return -1, true
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	op = -1
	for _, a := range addrs {
		kept, ok := cl.addrs.get(a)
		if !ok {
			return -1, true
		}
		if op < 0 {
			op = int(kept)
		}
	}
	return op, true
}

// keeps reports whether p's operator keeps the addresses of req, or the
// policy does not route req.
func (pv *privacy) keeps(req *Request, p *upstream.Provider) bool {
	op, covered := pv.keptWith(req)
	if !covered {
		return true
	}
	i, ok := pv.index(p.Labels().Operator)
	return ok && i == op
}

// memory returns how many clients the policy remembers and how many
// addresses in all.
func (pv *privacy) memory() (clients, addresses int) {
	if pv == nil {
		return 0, 0
	}
	pv.mu.Lock()
	defer pv.mu.Unlock()
	for i := 1; i < len(pv.clients.nodes); i++ {
		if cl := pv.clients.nodes[i].val; cl != nil {
			cl.mu.Lock()
			addresses += cl.addrs.len()
			cl.mu.Unlock()
		}
	}
	return pv.clients.len(), addresses
}

// PrivacyMemory returns how many clients the chain's privacy policy
// remembers and how many of their addresses in all (zeros when off).
func (r *Router) PrivacyMemory() (clients, addresses int) { return r.privacy.memory() }

// reportPrivacy tells the observer, if it hears privacy outcomes.
func (r *Router) reportPrivacy(outcome string) {
	if outcome == "" {
		return
	}
	if o, ok := r.obs.(PrivacyObserver); ok {
		o.Privacy(r.chain, outcome)
	}
}
