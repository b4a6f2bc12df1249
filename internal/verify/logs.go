package verify

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Bounds on a log filter from outside.
const (
	maxFilterAddresses = 1024
	maxFilterTopics    = 4
	maxTopicAlts       = 1024
)

// LogFilter is what an eth_getLogs filter selects within a block: logs of
// any of Addresses (all when empty) whose topic at position i is one of
// Topics[i] (any when Topics[i] is empty). The block range is the caller's.
type LogFilter struct {
	Addresses []common.Address
	Topics    [][]common.Hash
}

// DecodeLogFilter reads the address and topics of an eth_getLogs filter
// object; block fields are left to the caller.
func DecodeLogFilter(raw json.RawMessage) (LogFilter, error) {
	var obj struct {
		Address json.RawMessage   `json:"address"`
		Topics  []json.RawMessage `json:"topics"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return LogFilter{}, malformed("filter", err)
	}
	var f LogFilter
	if !isNull(obj.Address) {
		if err := oneOrMany(obj.Address, &f.Addresses); err != nil {
			return LogFilter{}, malformed("filter address", err)
		}
	}
	if len(f.Addresses) > maxFilterAddresses {
		return LogFilter{}, malformed("filter address", fmt.Errorf("%d addresses", len(f.Addresses)))
	}
	if len(obj.Topics) > maxFilterTopics {
		return LogFilter{}, malformed("filter topics", fmt.Errorf("%d positions", len(obj.Topics)))
	}
	f.Topics = make([][]common.Hash, len(obj.Topics))
	for i, t := range obj.Topics {
		if isNull(t) {
			continue
		}
		var alts []*common.Hash
		if err := oneOrMany(t, &alts); err != nil {
			return LogFilter{}, malformed(fmt.Sprintf("filter topics[%d]", i), err)
		}
		if len(alts) > maxTopicAlts {
			return LogFilter{}, malformed(fmt.Sprintf("filter topics[%d]", i), fmt.Errorf("%d alternatives", len(alts)))
		}
		for _, a := range alts {
			if a == nil { // a null alternative matches anything
				f.Topics[i] = nil
				break
			}
			f.Topics[i] = append(f.Topics[i], *a)
		}
	}
	return f, nil
}

// oneOrMany decodes a JSON value that is either one T or a list of T.
func oneOrMany[T any](raw json.RawMessage, out *[]T) error {
	var one T
	if err := json.Unmarshal(raw, &one); err == nil {
		*out = []T{one}
		return nil
	}
	return json.Unmarshal(raw, out)
}

// MayMatch reports whether a block with this logs bloom can hold a log the
// filter selects; false means the block need not be looked at.
func (f LogFilter) MayMatch(bloom types.Bloom) bool {
	hasAddress := func(a common.Address) bool { return types.BloomLookup(bloom, a) }
	hasTopic := func(t common.Hash) bool { return bloom.Test(t[:]) }
	if len(f.Addresses) > 0 && !slices.ContainsFunc(f.Addresses, hasAddress) {
		return false
	}
	for _, alts := range f.Topics {
		if len(alts) > 0 && !slices.ContainsFunc(alts, hasTopic) {
			return false
		}
	}
	return true
}

// Match reports whether the filter selects log l.
func (f LogFilter) Match(l *types.Log) bool {
	if len(f.Addresses) > 0 && !slices.Contains(f.Addresses, l.Address) {
		return false
	}
	if len(f.Topics) > len(l.Topics) {
		return false
	}
	for i, alts := range f.Topics {
		if len(alts) > 0 && !slices.Contains(alts, l.Topics[i]) {
			return false
		}
	}
	return true
}

// Logs returns the block's logs the filter selects, in block order, with
// their derived fields.
func (r *Receipts) Logs(f LogFilter) []*types.Log {
	var out []*types.Log
	for _, rc := range r.Receipts {
		for _, l := range rc.Logs {
			if f.Match(l) {
				out = append(out, l)
			}
		}
	}
	return out
}

// VerifyLogs compares an eth_getLogs answer with the logs derived from
// verified receipts (every block of the range that MayMatch, in order), and
// returns the answer built from the derived logs. A missing, extra,
// reordered or altered log fails.
func VerifyLogs(raw json.RawMessage, derived []*types.Log) (json.RawMessage, error) {
	if len(raw) > maxAnswerBytes {
		return nil, malformed("logs", fmt.Errorf("oversized"))
	}
	if err := compareLogList("logs", raw, derived); err != nil {
		return nil, err
	}
	if derived == nil {
		derived = []*types.Log{}
	}
	return json.Marshal(derived)
}
