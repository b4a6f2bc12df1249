package filters

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// go-ethereum's block number tags, as its rpc package numbers them.
const (
	safeBlock      blockNumber = -4
	finalizedBlock blockNumber = -3
	latestBlock    blockNumber = -2
	pendingBlock   blockNumber = -1
	earliestBlock  blockNumber = -5
)

// go-ethereum's limits on a log filter's topics: four positions (LOG0 to
// LOG4), at most 1000 alternatives in one.
const (
	maxTopics    = 4
	maxSubTopics = 1000
)

// criteria is a log filter as eth_newFilter's argument gives it.
type criteria struct {
	BlockHash *common.Hash
	FromBlock *blockNumber // nil: absent or null
	ToBlock   *blockNumber
	Addresses []common.Address
	Topics    [][]common.Hash // a nil position matches any topic
}

// blockNumber is a block number or one of go-ethereum's negative tags.
type blockNumber int64

// UnmarshalJSON reads a block number as go-ethereum's rpc.BlockNumber does:
// a tag, or a hex quantity (quoted or not) up to the largest int64.
func (bn *blockNumber) UnmarshalJSON(data []byte) error {
	in := strings.TrimSpace(string(data))
	if len(in) >= 2 && in[0] == '"' && in[len(in)-1] == '"' {
		in = in[1 : len(in)-1]
	}
	switch in {
	case "earliest":
		*bn = earliestBlock
	case "latest":
		*bn = latestBlock
	case "pending":
		*bn = pendingBlock
	case "finalized":
		*bn = finalizedBlock
	case "safe":
		*bn = safeBlock
	default:
		n, err := hexutil.DecodeUint64(in)
		if err != nil {
			return err
		}
		if n > math.MaxInt64 {
			return errors.New("block number larger than int64")
		}
		*bn = blockNumber(n)
	}
	return nil
}

// decodeCriteria reads eth_newFilter's criteria as go-ethereum's
// filters.FilterCriteria does, so that the same input is accepted and
// refused with the same message: the gateway answers as a node would,
// without linking the node's filter API (and through it the node).
func decodeCriteria(data []byte) (criteria, error) {
	var in struct {
		BlockHash *common.Hash `json:"blockHash"`
		FromBlock *blockNumber `json:"fromBlock"`
		ToBlock   *blockNumber `json:"toBlock"`
		Addresses any          `json:"address"`
		Topics    []any        `json:"topics"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return criteria{}, err
	}
	var c criteria
	if in.BlockHash != nil {
		if in.FromBlock != nil || in.ToBlock != nil {
			return criteria{}, errors.New("cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other")
		}
		c.BlockHash = in.BlockHash
	} else {
		c.FromBlock, c.ToBlock = in.FromBlock, in.ToBlock
	}
	addrs, err := decodeAddresses(in.Addresses)
	if err != nil {
		return criteria{}, err
	}
	c.Addresses = addrs
	if c.Topics, err = decodeTopics(in.Topics); err != nil {
		return criteria{}, err
	}
	return c, nil
}

// decodeAddresses reads "address": one address, or a list of them.
func decodeAddresses(v any) ([]common.Address, error) {
	out := []common.Address{}
	switch v := v.(type) {
	case nil:
	case string:
		a, err := hexBytes(v, common.AddressLength, "address")
		if err != nil {
			return nil, fmt.Errorf("invalid address: %v", err)
		}
		out = append(out, common.BytesToAddress(a))
	case []any:
		for i, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("non-string address at index %d", i)
			}
			a, err := hexBytes(s, common.AddressLength, "address")
			if err != nil {
				return nil, fmt.Errorf("invalid address at index %d: %v", i, err)
			}
			out = append(out, common.BytesToAddress(a))
		}
	default:
		return nil, errors.New("invalid addresses in query")
	}
	return out, nil
}

// decodeTopics reads "topics": per position null (any), a topic, or a list
// of alternatives, in which a null makes the position match any topic.
func decodeTopics(list []any) ([][]common.Hash, error) {
	if len(list) > maxTopics {
		return nil, errors.New("exceed max topics")
	}
	if len(list) == 0 {
		return nil, nil
	}
	errInvalid := errors.New("invalid topic(s)")
	out := make([][]common.Hash, len(list))
	for i, pos := range list {
		switch pos := pos.(type) {
		case nil:
		case string:
			h, err := hexBytes(pos, common.HashLength, "topic")
			if err != nil {
				return nil, err
			}
			out[i] = []common.Hash{common.BytesToHash(h)}
		case []any:
			if len(pos) > maxSubTopics {
				return nil, errors.New("exceed max topics")
			}
			for _, alt := range pos {
				if alt == nil {
					out[i] = nil // a null alternative: any topic, whatever follows
					break
				}
				s, ok := alt.(string)
				if !ok {
					return nil, errInvalid
				}
				h, err := hexBytes(s, common.HashLength, "topic")
				if err != nil {
					return nil, err
				}
				out[i] = append(out[i], common.BytesToHash(h))
			}
		default:
			return nil, errInvalid
		}
	}
	return out, nil
}

// hexBytes decodes 0x-prefixed hex of exactly size bytes, with
// go-ethereum's messages.
func hexBytes(s string, size int, what string) ([]byte, error) {
	b, err := hexutil.Decode(s)
	if err == nil && len(b) != size {
		err = fmt.Errorf("hex has invalid length %d after decoding; expected %d for %s", len(b), size, what)
	}
	return b, err
}
