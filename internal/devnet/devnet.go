package devnet

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/rpcmesh/rpcmesh/internal/gethnode"
	"github.com/rpcmesh/rpcmesh/internal/pause"
)

// Options configure a devnet. The zero value is the default devnet.
type Options struct {
	Nodes          int           // number of nodes; default 5
	ChainID        uint64        // default 1337
	BlockTime      time.Duration // default 1s
	Seed           string        // seed the prefunded account keys derive from; default "rpcmesh devnet"
	Accounts       int           // prefunded accounts; default 10
	GasLimit       uint64        // block gas limit; default 60,000,000
	SafeDepth      uint64        // the safe block trails the head by this much; default 4
	FinalizedDepth uint64        // the finalized block trails the head by this much; default 8
	Labels         []Labels      // per-node labels; default DefaultLabels
	ListenHost     string        // where node proxies listen; default 127.0.0.1
	BasePort       int           // node i's proxy listens on BasePort+i (from 0); 0 = free ports
	Logger         *slog.Logger  // default: discard
}

// DefaultLabels spreads nodes over operators, clouds, regions and tiers; two
// nodes share cloud "aws" so that a cloud-wide outage can be staged.
var DefaultLabels = []Labels{
	{Operator: "rpcmesh", Cloud: "aws", Region: "us-east-1", Tier: "own"},
	{Operator: "blocklabs", Cloud: "aws", Region: "eu-west-1", Tier: "partner"},
	{Operator: "nodeworks", Cloud: "gcp", Region: "europe-west3", Tier: "partner"},
	{Operator: "homestakers", Cloud: "home", Region: "de-berlin", Tier: "community"},
	{Operator: "openrpc", Cloud: "hetzner", Region: "fsn1", Tier: "public"},
}

func (o *Options) fill() error {
	if o.Nodes == 0 {
		o.Nodes = 5
	}
	if o.Nodes < 1 || o.Nodes > 32 {
		return fmt.Errorf("nodes must be between 1 and 32, got %d", o.Nodes)
	}
	if o.ChainID == 0 {
		o.ChainID = 1337
	}
	if o.BlockTime == 0 {
		o.BlockTime = time.Second
	}
	if o.BlockTime < 100*time.Millisecond || o.BlockTime > time.Minute {
		return fmt.Errorf("block time must be between 100ms and 1m, got %s", o.BlockTime)
	}
	if o.Seed == "" {
		o.Seed = "rpcmesh devnet"
	}
	if o.Accounts == 0 {
		o.Accounts = 10
	}
	if o.Accounts < 1 || o.Accounts > 1000 {
		return fmt.Errorf("accounts must be between 1 and 1000, got %d", o.Accounts)
	}
	if o.GasLimit == 0 {
		o.GasLimit = 60_000_000
	}
	if o.SafeDepth == 0 {
		o.SafeDepth = 4
	}
	if o.FinalizedDepth == 0 {
		o.FinalizedDepth = 8
	}
	if o.FinalizedDepth < o.SafeDepth {
		return fmt.Errorf("finalized depth %d must not be less than safe depth %d", o.FinalizedDepth, o.SafeDepth)
	}
	if len(o.Labels) == 0 {
		o.Labels = DefaultLabels
	}
	if o.ListenHost == "" {
		o.ListenHost = "127.0.0.1"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// labelsFor gives node i its labels, cycling the list for large devnets.
func (o *Options) labelsFor(i int) Labels {
	l := o.Labels[i%len(o.Labels)]
	if i >= len(o.Labels) {
		l.Operator = fmt.Sprintf("%s-%d", l.Operator, i/len(o.Labels))
	}
	return l
}

// Devnet is a running chain of real go-ethereum nodes with fault proxies.
type Devnet struct {
	opts    Options
	keys    []*ecdsa.PrivateKey
	nodes   []*gethnode.Node
	proxies []*proxy
	infos   []NodeInfo
	driver  *chainDriver
	cancel  context.CancelFunc
	done    chan struct{}
	log     *slog.Logger

	mu     sync.Mutex
	faults map[string]*activeFault
	order  []string
	nextID int
	closed bool

	closeOnce sync.Once
	closeErr  error
}

// activeFault is a fault in force with what it needs at run time.
type activeFault struct {
	Fault
	idx     []int
	limiter *rate.Limiter
	stop    context.CancelFunc // flap timer
}

// Start launches the nodes, peers them, and starts producing blocks. It
// returns once every node serves RPC; Close stops everything.
func Start(ctx context.Context, opts Options) (*Devnet, error) {
	if err := opts.fill(); err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	keys, err := deriveKeys(opts.Seed, opts.Accounts)
	if err != nil {
		return nil, err
	}
	d := &Devnet{opts: opts, keys: keys, log: opts.Logger, faults: map[string]*activeFault{}, done: make(chan struct{})}
	genesis := genesisBlock(opts.ChainID, keys, opts.GasLimit)
	ok := false
	defer func() {
		if !ok {
			d.shutdown()
		}
	}()
	for i := range opts.Nodes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := fmt.Sprintf("node%d", i+1)
		n, err := startNode(name, genesis)
		if err != nil {
			return nil, fmt.Errorf("devnet: %w", err)
		}
		d.nodes = append(d.nodes, n)
		px := newProxy(name, n.URL(), n.WSURL(), opts.Logger)
		addr := net.JoinHostPort(opts.ListenHost, "0")
		if opts.BasePort > 0 {
			addr = net.JoinHostPort(opts.ListenHost, fmt.Sprint(opts.BasePort+i))
		}
		if err := px.start(addr); err != nil {
			return nil, fmt.Errorf("devnet: %w", err)
		}
		d.proxies = append(d.proxies, px)
		d.infos = append(d.infos, NodeInfo{Name: name, Labels: opts.labelsFor(i), HTTP: "http://" + px.addr, WS: "ws://" + px.addr})
	}
	if err := d.peer(ctx); err != nil {
		return nil, err
	}
	d.driver = newChainDriver(d.nodes, opts.BlockTime, opts.SafeDepth, opts.FinalizedDepth, opts.Logger)
	d.driver.start()
	runCtx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() {
		defer close(d.done)
		d.driver.run(runCtx)
	}()
	ok = true
	opts.Logger.Info("devnet started", "nodes", len(d.nodes), "chainId", opts.ChainID, "blockTime", opts.BlockTime)
	return d, nil
}

// peer connects every pair of nodes over devp2p so that transactions sent
// to any node gossip to all, and waits (bounded) until they are connected.
func (d *Devnet) peer(ctx context.Context) error {
	for i, a := range d.nodes {
		for _, b := range d.nodes[i+1:] {
			a.Stack.Server().AddPeer(b.Stack.Server().Self())
		}
	}
	want := len(d.nodes) - 1
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		short := 0
		for _, n := range d.nodes {
			if n.Stack.Server().PeerCount() < want {
				short++
			}
		}
		if short == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devnet: %d nodes did not connect to all peers: %w", short, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Info describes the devnet: chain id, nodes (through their proxies), accounts.
func (d *Devnet) Info() Info {
	return Info{ChainID: d.opts.ChainID, Nodes: slices.Clone(d.infos), Accounts: accountsOf(d.keys)}
}

// Keys are the prefunded accounts' private keys, in Info().Accounts order.
func (d *Devnet) Keys() []*ecdsa.PrivateKey { return slices.Clone(d.keys) }

// Node is the info of one node by name.
func (d *Devnet) Node(name string) (NodeInfo, bool) {
	for _, n := range d.infos {
		if n.Name == name {
			return n, true
		}
	}
	return NodeInfo{}, false
}

// DirectURL is a node's own HTTP endpoint, bypassing its fault proxy: what an
// honest view of that node returns (tests compare against it).
func (d *Devnet) DirectURL(name string) (string, bool) {
	for i, n := range d.infos {
		if n.Name == name {
			return d.nodes[i].URL(), true
		}
	}
	return "", false
}

// Head is the number and hash of the canonical head being distributed.
func (d *Devnet) Head() (uint64, string) {
	b := d.driver.head()
	return b.NumberU64(), b.Hash().Hex()
}

// match resolves a target to node indexes.
func (d *Devnet) match(target string) ([]int, error) {
	target = strings.TrimSpace(target)
	if target == "" {
		return nil, fmt.Errorf("%w: target is empty (a node name such as node2, <label>=<value> such as cloud=aws, or all)", ErrBadTarget)
	}
	var idx []int
	key, val, isLabel := strings.Cut(target, "=")
	for i, n := range d.infos {
		switch {
		case target == "all" || target == "*":
			idx = append(idx, i)
		case !isLabel:
			if n.Name == target {
				idx = append(idx, i)
			}
		case key == "name":
			if n.Name == val {
				idx = append(idx, i)
			}
		default:
			v, known := n.Labels.Get(key)
			if !known {
				return nil, fmt.Errorf("%w: unknown label %q (one of name, operator, cloud, region, tier)", ErrBadTarget, key)
			}
			if v == val {
				idx = append(idx, i)
			}
		}
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchNode, target)
	}
	return idx, nil
}

// SetFault stages a fault and returns it with its id. Nothing changes when
// it returns an error.
func (d *Devnet) SetFault(ctx context.Context, spec FaultSpec) (Fault, error) {
	params, err := parseParams(spec.Kind, spec.Params)
	if err != nil {
		if errors.Is(err, ErrUnknownFault) {
			return Fault{}, err
		}
		return Fault{}, fmt.Errorf("%w: %w", ErrBadParams, err)
	}
	idx, err := d.match(spec.Target)
	if err != nil {
		return Fault{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return Fault{}, ErrDevnetStopped
	}
	d.nextID++
	f := &activeFault{Fault: Fault{
		ID:      fmt.Sprintf("f%d", d.nextID),
		Target:  spec.Target,
		Kind:    spec.Kind,
		Params:  params,
		Created: time.Now().UTC(),
	}, idx: idx}
	for _, i := range idx {
		f.Nodes = append(f.Nodes, d.infos[i].Name)
	}
	switch spec.Kind {
	case FaultRateLimit:
		p := params.(RateLimitParams)
		f.limiter = rate.NewLimiter(rate.Limit(p.RPS), p.Burst)
	case FaultLag:
		for _, i := range idx {
			d.driver.setLag(i, true)
		}
	case FaultReorg:
		res, err := d.driver.reorg(ctx, params.(ReorgParams).Depth, idx)
		if err != nil {
			return Fault{}, err
		}
		f.Reorg = res
		if len(idx) == len(d.nodes) {
			// A whole-chain reorg is an event, not a state: nothing to clear.
			return f.Fault, nil
		}
	case FaultFlap:
		p := params.(FlapParams)
		fctx, stop := context.WithCancel(context.Background())
		f.stop = stop
		for _, i := range idx {
			go d.flap(fctx, d.proxies[i], time.Duration(p.Up), time.Duration(p.Down))
		}
	}
	d.faults[f.ID] = f
	d.order = append(d.order, f.ID)
	d.applyLocked()
	d.log.Info("devnet: fault set", "id", f.ID, "kind", f.Kind, "nodes", f.Nodes)
	return f.Fault, nil
}

// flap alternates a proxy between up and down until ctx ends, then leaves it up.
func (d *Devnet) flap(ctx context.Context, p *proxy, up, down time.Duration) {
	defer p.setFlapDown(false)
	for {
		if !pause.For(ctx, up) {
			return
		}
		p.setFlapDown(true)
		if !pause.For(ctx, down) {
			return
		}
		p.setFlapDown(false)
	}
}

// Faults lists the faults in force, oldest first.
func (d *Devnet) Faults() []Fault {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Fault, 0, len(d.order))
	for _, id := range d.order {
		out = append(out, d.faults[id].Fault)
	}
	return out
}

// ClearFault removes one fault.
func (d *Devnet) ClearFault(id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.faults[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrNoSuchFault, id)
	}
	d.clearLocked(f)
	d.applyLocked()
	return nil
}

// ClearFaults removes every fault.
func (d *Devnet) ClearFaults() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range slices.Clone(d.order) {
		d.clearLocked(d.faults[id])
	}
	d.applyLocked()
}

func (d *Devnet) clearLocked(f *activeFault) {
	delete(d.faults, f.ID)
	d.order = slices.DeleteFunc(d.order, func(id string) bool { return id == f.ID })
	switch f.Kind {
	case FaultLag:
		for _, i := range f.idx {
			d.driver.setLag(i, false)
		}
	case FaultReorg:
		d.driver.releaseSideline(f.idx)
	case FaultFlap:
		f.stop()
	}
	d.log.Info("devnet: fault cleared", "id", f.ID, "kind", f.Kind)
}

// applyLocked recomputes every proxy's fault set from the faults in force.
func (d *Devnet) applyLocked() {
	sets := make([]*faultSet, len(d.proxies))
	for i := range sets {
		sets[i] = newFaultSet()
	}
	for _, id := range d.order {
		f := d.faults[id]
		for _, i := range f.idx {
			s := sets[i]
			switch f.Kind {
			case FaultDown:
				s.down = true
			case FaultHang:
				s.hang = true
			case FaultSlow:
				p := f.Params.(SlowParams)
				s.slow = &p
			case FaultError:
				p := f.Params.(ErrorParams)
				s.errs = &p
			case FaultRateLimit:
				p := f.Params.(RateLimitParams)
				s.rateLimit, s.limiter = &p, f.limiter
			case FaultLie:
				s.liar = mergeLiar(s.liar, f.Params.(LieParams))
			case FaultCensor:
				s.censor = true
			case FaultPrune:
				s.pruned = prunerOf(s.pruned, f.Params.(PruneParams).Keep, d.nodes[i].Eth.BlockChain())
			}
		}
	}
	for i, p := range d.proxies {
		p.setFaults(sets[i])
	}
}

func mergeLiar(l *liar, p LieParams) *liar {
	n := newLiar(p)
	if l != nil {
		maps.Copy(n.what, l.what)
	}
	return n
}

// Close stops block production, the proxies and the nodes. It is safe to
// call more than once.
func (d *Devnet) Close() error {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.closed = true
		for _, f := range d.faults {
			if f.stop != nil {
				f.stop()
			}
		}
		d.mu.Unlock()
		d.closeErr = d.shutdown()
	})
	return d.closeErr
}

func (d *Devnet) shutdown() error {
	if d.cancel != nil {
		d.cancel()
		<-d.done
	}
	for _, p := range d.proxies {
		p.close()
	}
	var errs []error
	for _, n := range d.nodes {
		if err := n.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
