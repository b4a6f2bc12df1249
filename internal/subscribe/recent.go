package subscribe

import "encoding/json"

// sentBlock is a block the hub has announced, with its logs when they
// were fetched (so they can be sent again as removed on a reorg).
type sentBlock struct {
	number uint64
	hash   string
	logs   []logEntry
}

// recent is the window of announced blocks by number, newest at the top.
// It is owned by the hub's follow goroutine.
type recent struct {
	max    int
	blocks map[uint64]*sentBlock
	low    uint64
	high   uint64
}

func newRecent(max int) *recent {
	return &recent{max: max, blocks: make(map[uint64]*sentBlock, max)}
}

func (r *recent) empty() bool { return len(r.blocks) == 0 }

func (r *recent) get(n uint64) (*sentBlock, bool) {
	b, ok := r.blocks[n]
	return b, ok
}

// keepLogs is how many of the newest blocks keep their logs, to send them
// again as removed on a reorg; older blocks keep only their hash (enough to
// connect new heads), which bounds the memory logs take.
const keepLogs = 64

// add records b as the newest block (a caller removes what it replaces first).
func (r *recent) add(b *sentBlock) {
	if r.empty() || b.number < r.low {
		r.low = b.number
	}
	r.blocks[b.number] = b
	r.high = b.number
	if b.number >= keepLogs {
		if old, ok := r.blocks[b.number-keepLogs]; ok {
			old.logs = nil
		}
	}
	for len(r.blocks) > r.max {
		delete(r.blocks, r.low)
		r.low++
	}
}

// cut removes and returns the blocks numbered n and above, lowest first.
func (r *recent) cut(n uint64) []*sentBlock {
	if r.empty() || n > r.high {
		return nil
	}
	var out []*sentBlock
	for i := max(n, r.low); i <= r.high; i++ {
		if b, ok := r.blocks[i]; ok {
			out = append(out, b)
			delete(r.blocks, i)
		}
	}
	if len(r.blocks) == 0 {
		r.low, r.high = 0, 0
	} else {
		r.high = n - 1
	}
	return out
}

// header is a block header fetched through the pipeline.
type header struct {
	number uint64
	hash   string
	parent string
	raw    json.RawMessage // as sent to newHeads subscribers
}
