package verification

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// absence tracks the asks about something that may not exist (a block by
// hash, a transaction, a receipt). A provider answering null may lag, or
// may hide data: after a null the next ask goes to an operator that has not
// said null, so one operator cannot make a thing absent while another
// operator would have shown it. The zero value is ready to use.
type absence struct {
	asked   map[string]bool // providers asked
	nullOps map[string]bool // operators whose provider said null
	passed  map[string]bool // operators asked no more: they said null or could not tell
	nulls   int
	lied    bool // someone's answer failed a check: absence is not established
	// indexing is the last "transaction indexing is in progress" a node
	// answered: it cannot tell whether it has the transaction (untold).
	indexing error
}

// ask sends req to a provider not yet asked: through routing at first, and
// after a null to an operator that has not said null. ok is false when no
// provider is left to ask.
func (ab *absence) ask(ctx context.Context, a Asker, req Request) (Answer, bool) {
	ab.init()
	var ans Answer
	if len(ab.passed) == 0 {
		ans = a.Ask(ctx, req, ab.asked)
		if errors.Is(ans.Err, ErrNoProvider) {
			return ans, false
		}
	} else {
		got := a.AskDistinct(ctx, req, 1, Skip{Providers: ab.asked, Operators: ab.passed})
		if len(got) == 0 {
			return Answer{Err: ErrNoProvider}, false
		}
		ans = got[0]
	}
	ab.asked[ans.Provider] = true
	return ans, true
}

// took records an answer asked for elsewhere (a wave's upstream batch) as
// ask would have recorded it; ok is false when it found no provider.
func (ab *absence) took(given Answer) (Answer, bool) {
	if errors.Is(given.Err, ErrNoProvider) {
		return given, false
	}
	ab.init()
	ab.asked[given.Provider] = true
	return given, true
}

func (ab *absence) init() {
	if ab.asked == nil {
		ab.asked, ab.nullOps, ab.passed = map[string]bool{}, map[string]bool{}, map[string]bool{}
	}
}

// null records that a's provider does not have it; a provider on
// probation casts no vote: its null establishes nothing.
func (ab *absence) null(a Answer) {
	if a.Probation {
		return
	}
	ab.init()
	ab.nulls++
	ab.nullOps[a.Operator] = true
	ab.passed[a.Operator] = true
}

// untold records that a's node could not tell (err, its transaction index
// still being built): no vote either way, and the next ask goes to another
// operator, as after a null.
func (ab *absence) untold(a Answer, err error) {
	ab.init()
	ab.indexing = err
	if !a.Probation {
		ab.passed[a.Operator] = true
	}
}

// txIndexing is go-ethereum's answer (-32000) for a transaction it did not
// find while its transaction index is incomplete: on a node just started,
// or at the genesis block, which it never indexes.
const txIndexing = "transaction indexing is in progress"

// isIndexing reports whether err is a node's txIndexing answer.
func isIndexing(err error) bool {
	var je *jsonrpc.Error
	return errors.As(err, &je) && je.Code == -32000 && je.Message == txIndexing
}

// unknown reports whether absence is established: at least one operator
// said null, every other operator asked said null or failed to answer, and
// no answer failed a check.
func (ab *absence) unknown() bool { return ab.nulls > 0 && !ab.lied }

// String names the operators that said null.
func (ab *absence) String() string {
	ops := make([]string, 0, len(ab.nullOps))
	for o := range ab.nullOps {
		ops = append(ops, o)
	}
	sort.Strings(ops)
	return fmt.Sprintf("%d providers of operators %s do not know it", ab.nulls, strings.Join(ops, ","))
}
