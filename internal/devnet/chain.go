package devnet

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/miner"

	"github.com/rpcmesh/rpcmesh/internal/gethnode"
)

// maxCatchUp bounds how many blocks one follower is fed in one step.
const maxCatchUp = 100_000

// ReorgResult says what a reorg replaced.
type ReorgResult struct {
	Depth      int           `json:"depth"`
	FromNumber uint64        `json:"fromNumber"` // first replaced height
	OldHashes  []common.Hash `json:"oldHashes"`  // replaced blocks, lowest first
	NewHashes  []common.Hash `json:"newHashes"`  // their replacements, lowest first
}

// chainDriver plays the consensus layer: one node builds a block every
// blockTime and every other node imports it, the way the engine API would
// (insert, then make canonical). Nodes that lag or sit on a side branch are
// skipped until their fault is cleared; then they catch up.
type chainDriver struct {
	nodes          []*gethnode.Node
	blockTime      time.Duration
	safeDepth      uint64
	finalizedDepth uint64
	log            *slog.Logger
	feeRecipient   common.Address

	mu       sync.Mutex // serialises block production, feeding and reorgs
	canon    *types.Block
	lagging  map[int]int // node index → number of lag faults holding it
	sideline map[int]int // node index → number of subset reorgs holding it on a side branch
	wake     chan struct{}
}

func newChainDriver(nodes []*gethnode.Node, blockTime time.Duration, safeDepth, finalizedDepth uint64, log *slog.Logger) *chainDriver {
	genesis := nodes[0].Eth.BlockChain().Genesis()
	return &chainDriver{
		nodes:          nodes,
		blockTime:      blockTime,
		safeDepth:      safeDepth,
		finalizedDepth: finalizedDepth,
		log:            log,
		feeRecipient:   common.HexToAddress("0x00000000000000000000000000000000000fee01"),
		canon:          genesis,
		lagging:        map[int]int{},
		sideline:       map[int]int{},
		wake:           make(chan struct{}, 1),
	}
}

// start marks genesis safe and finalized on every node, so that the tags
// resolve from the first block on.
func (c *chainDriver) start() {
	for _, n := range c.nodes {
		c.markSafeAndFinal(n, c.canon)
	}
}

// run produces and distributes blocks until ctx ends.
func (c *chainDriver) run(ctx context.Context) {
	t := time.NewTicker(c.blockTime)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.mu.Lock()
			if err := c.produce(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("devnet: block production failed", "err", err)
			}
			c.feed(ctx)
			c.mu.Unlock()
		case <-c.wake:
			c.mu.Lock()
			c.feed(ctx)
			c.mu.Unlock()
		}
	}
}

// poke asks the driver to feed followers now rather than at the next block.
func (c *chainDriver) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *chainDriver) held(i int) bool { return c.lagging[i] > 0 || c.sideline[i] > 0 }

// producer is the first node that imports blocks; production moves to the
// next one when it lags, as validators of a real chain are many.
func (c *chainDriver) producer() (int, bool) {
	for i := range c.nodes {
		if !c.held(i) {
			return i, true
		}
	}
	return 0, false
}

// produce builds one block on the producer from its transaction pool and
// makes it the canonical head.
func (c *chainDriver) produce(ctx context.Context) error {
	pi, ok := c.producer()
	if !ok {
		return errors.New("every node is lagging: no block produced")
	}
	p := c.nodes[pi]
	if err := c.sync(ctx, pi, c.canon); err != nil {
		return fmt.Errorf("bring producer %s to head: %w", p.Name(), err)
	}
	if err := p.Eth.TxPool().Sync(); err != nil {
		return fmt.Errorf("txpool sync on %s: %w", p.Name(), err)
	}
	parent := c.canon
	ts := max(parent.Time()+1, uint64(time.Now().Unix()))
	block, err := c.build(p, parent, ts, nil, false, nil)
	if err != nil {
		return err
	}
	if err := c.importBlocks(ctx, p, []*types.Block{block}); err != nil {
		return err
	}
	c.canon = block
	return nil
}

// build builds a block on parent with the producer's miner: from its pool
// when txs is nil and empty is false, else exactly txs.
func (c *chainDriver) build(p *gethnode.Node, parent *types.Block, ts uint64, txs []*types.Transaction, empty bool, extra []byte) (*types.Block, error) {
	var random common.Hash
	_, _ = rand.Read(random[:])
	args := &miner.BuildPayloadArgs{
		Parent:       parent.Hash(),
		Timestamp:    ts,
		FeeRecipient: c.feeRecipient,
		Random:       random,
		Withdrawals:  types.Withdrawals{},
		BeaconRoot:   &common.Hash{},
		Version:      engine.PayloadV3,
	}
	block, _, err := p.Eth.Miner().BuildTestingPayload(args, txs, empty, extra)
	if err != nil {
		return nil, fmt.Errorf("build block %d on %s: %w", parent.NumberU64()+1, p.Name(), err)
	}
	return block, nil
}

// importBlocks inserts blocks (parent first) into a node and makes the last
// one its head, as engine_newPayload and engine_forkchoiceUpdated would.
func (c *chainDriver) importBlocks(ctx context.Context, n *gethnode.Node, blocks []*types.Block) error {
	if len(blocks) == 0 {
		return nil
	}
	bc := n.Eth.BlockChain()
	for _, b := range blocks {
		if bc.HasBlockAndState(b.Hash(), b.NumberU64()) {
			continue
		}
		if _, err := bc.InsertBlockWithoutSetHead(ctx, b, false); err != nil {
			return fmt.Errorf("%s: import block %d %s: %w", n.Name(), b.NumberU64(), b.Hash().TerminalString(), err)
		}
	}
	head := blocks[len(blocks)-1]
	if _, err := bc.SetCanonical(head); err != nil {
		return fmt.Errorf("%s: set head %d: %w", n.Name(), head.NumberU64(), err)
	}
	c.markSafeAndFinal(n, head)
	return nil
}

// markSafeAndFinal moves the node's safe and finalized blocks to fixed
// depths behind its head, as a beacon chain's checkpoints would.
func (c *chainDriver) markSafeAndFinal(n *gethnode.Node, head *types.Block) {
	bc := n.Eth.BlockChain()
	num := head.NumberU64()
	if h := bc.GetHeaderByNumber(num - min(num, c.safeDepth)); h != nil {
		bc.SetSafe(h)
	}
	if h := bc.GetHeaderByNumber(num - min(num, c.finalizedDepth)); h != nil {
		bc.SetFinalized(h)
	}
}

// feed brings every follower that is not held to the canonical head.
func (c *chainDriver) feed(ctx context.Context) {
	for i := range c.nodes {
		if c.held(i) {
			continue
		}
		if err := c.sync(ctx, i, c.canon); err != nil && ctx.Err() == nil {
			c.log.Warn("devnet: feeding follower failed", "node", c.nodes[i].Name(), "err", err)
		}
	}
}

// sync makes target the head of node i, importing whatever blocks it lacks
// (a catch-up after lag, or a reorg onto another branch).
func (c *chainDriver) sync(ctx context.Context, i int, target *types.Block) error {
	n := c.nodes[i]
	bc := n.Eth.BlockChain()
	if bc.CurrentBlock().Hash() == target.Hash() {
		return nil
	}
	var missing []*types.Block
	for b := target; b != nil && !bc.HasBlockAndState(b.Hash(), b.NumberU64()); {
		if len(missing) >= maxCatchUp {
			return fmt.Errorf("%s is more than %d blocks behind", n.Name(), maxCatchUp)
		}
		missing = append(missing, b)
		b = c.findBlock(b.ParentHash(), b.NumberU64()-1)
		if b == nil {
			return fmt.Errorf("%s: parent of block %d not found on any node", n.Name(), missing[len(missing)-1].NumberU64())
		}
	}
	// missing is newest first; import oldest first.
	for l, r := 0, len(missing)-1; l < r; l, r = l+1, r-1 {
		missing[l], missing[r] = missing[r], missing[l]
	}
	if len(missing) == 0 {
		missing = []*types.Block{target}
	}
	return c.importBlocks(ctx, n, missing)
}

// findBlock looks a block up on any node (side-branch blocks live only on
// the nodes that were given them).
func (c *chainDriver) findBlock(hash common.Hash, number uint64) *types.Block {
	for _, n := range c.nodes {
		if b := n.Eth.BlockChain().GetBlock(hash, number); b != nil {
			return b
		}
	}
	return nil
}

// setLag holds or releases node i; a released node catches up at once.
func (c *chainDriver) setLag(i int, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if on {
		c.lagging[i]++
	} else if c.lagging[i] > 0 {
		c.lagging[i]--
	}
	c.poke()
}

// releaseSideline returns nodes held on a side branch to the canonical chain.
func (c *chainDriver) releaseSideline(idx []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, i := range idx {
		if c.sideline[i] > 0 {
			c.sideline[i]--
		}
	}
	c.poke()
}

// reorg replaces the last depth blocks with different ones (the same
// transactions in blocks with other contents, so logs are dropped and
// re-emitted). With idx covering every node the whole chain moves to the new
// branch; otherwise the given nodes are moved to it and held there, a minority
// fork, until releaseSideline.
func (c *chainDriver) reorg(ctx context.Context, depth int, idx []int) (*ReorgResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	whole := len(idx) == len(c.nodes)
	head := c.canon
	if head.NumberU64() < uint64(depth) {
		return nil, fmt.Errorf("%w: reorg depth %d is deeper than the chain (head %d)", ErrNotPossible, depth, head.NumberU64())
	}
	var builder int
	if whole {
		pi, ok := c.producer()
		if !ok {
			return nil, fmt.Errorf("%w: every node is lagging", ErrNotPossible)
		}
		builder = pi
	} else {
		in := map[int]bool{}
		for _, i := range idx {
			in[i] = true
		}
		found := false
		for i := range c.nodes {
			if !c.held(i) && !in[i] {
				builder, found = i, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: no node outside the target is following the chain", ErrNotPossible)
		}
	}
	b := c.nodes[builder]
	if err := c.sync(ctx, builder, head); err != nil {
		return nil, err
	}
	bc := b.Eth.BlockChain()
	old := make([]*types.Block, depth)
	for k := 0; k < depth; k++ {
		num := head.NumberU64() - uint64(depth-1-k)
		old[k] = bc.GetBlockByNumber(num)
		if old[k] == nil {
			return nil, fmt.Errorf("reorg: block %d missing on %s", num, b.Name())
		}
	}
	parent := bc.GetBlock(old[0].ParentHash(), old[0].NumberU64()-1)
	if parent == nil {
		return nil, fmt.Errorf("reorg: parent of block %d missing on %s", old[0].NumberU64(), b.Name())
	}
	res := &ReorgResult{Depth: depth, FromNumber: old[0].NumberU64()}
	branch := make([]*types.Block, 0, depth)
	for k, o := range old {
		extra := []byte(fmt.Sprintf("rpcmesh-reorg-%d", k))
		txs := o.Transactions()
		nb, err := c.build(b, parent, o.Time(), txs, len(txs) == 0, extra)
		if err != nil && len(txs) > 0 {
			// Transactions that cannot be replayed (blobs without their
			// sidecars) go back to the pools instead.
			nb, err = c.build(b, parent, o.Time(), nil, true, extra)
		}
		if err != nil {
			return nil, fmt.Errorf("reorg: %w", err)
		}
		if _, err := bc.InsertBlockWithoutSetHead(ctx, nb, false); err != nil {
			return nil, fmt.Errorf("reorg: insert side block %d on %s: %w", nb.NumberU64(), b.Name(), err)
		}
		branch = append(branch, nb)
		res.OldHashes = append(res.OldHashes, o.Hash())
		res.NewHashes = append(res.NewHashes, nb.Hash())
		parent = nb
	}
	newHead := branch[len(branch)-1]
	if whole {
		c.canon = newHead
		c.feed(ctx)
		return res, nil
	}
	for _, i := range idx {
		c.sideline[i]++
		if err := c.sync(ctx, i, newHead); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// head is the canonical head the driver distributes.
func (c *chainDriver) head() *types.Block {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.canon
}
