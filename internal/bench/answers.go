package bench

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Fixed answers of the trivial upstream. They are valid JSON-RPC results as a
// go-ethereum node would return them, computed once so a call costs only the
// envelope.
const (
	// FixedBalance is what the trivial upstream answers to eth_getBalance (1 ether).
	FixedBalance = "0xde0b6b3a7640000"
	// FixedGasPrice is what the trivial upstream answers to eth_gasPrice (1 gwei).
	FixedGasPrice = "0x3b9aca00"
	// FixedNonce is what the trivial upstream answers to eth_getTransactionCount.
	FixedNonce = "0x0"

	emptyRoot   = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
	emptyUncles = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
	zeroHash    = "0x0000000000000000000000000000000000000000000000000000000000000000"
	baseTime    = 1_700_000_000
)

// answers holds the precomputed results of one upstream configuration.
type answers struct {
	chainID     []byte
	netVersion  []byte
	blockNumber []byte
	balance     []byte
	nonce       []byte
	gasPrice    []byte
	head        uint64
	blocks      [][]byte          // blocks[n] is block n, 0..head
	byHash      map[string][]byte // block hash → block
}

func newAnswers(chainID, head uint64) *answers {
	a := &answers{
		chainID:     quote("0x" + strconv.FormatUint(chainID, 16)),
		netVersion:  quote(strconv.FormatUint(chainID, 10)),
		blockNumber: quote("0x" + strconv.FormatUint(head, 16)),
		balance:     quote(FixedBalance),
		nonce:       quote(FixedNonce),
		gasPrice:    quote(FixedGasPrice),
		head:        head,
		blocks:      make([][]byte, head+1),
		byHash:      make(map[string][]byte, head+1),
	}
	for n := uint64(0); n <= head; n++ {
		b := blockJSON(n)
		a.blocks[n] = b
		a.byHash[blockHash(n)] = b
	}
	return a
}

func quote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// blockHash is a made-up but well-formed 32-byte hash that names block n.
func blockHash(n uint64) string {
	return fmt.Sprintf("0xb10c%044x%016x", 0, n)
}

// blockJSON is a post-Cancun block object with no transactions, field for
// field what go-ethereum returns for eth_getBlockByNumber.
func blockJSON(n uint64) []byte {
	parent := zeroHash
	if n > 0 {
		parent = blockHash(n - 1)
	}
	block := map[string]any{
		"baseFeePerGas":         "0x3b9aca00",
		"blobGasUsed":           "0x0",
		"difficulty":            "0x0",
		"excessBlobGas":         "0x0",
		"extraData":             "0x",
		"gasLimit":              "0x1c9c380",
		"gasUsed":               "0x0",
		"hash":                  blockHash(n),
		"logsBloom":             "0x" + strings.Repeat("0", 512),
		"miner":                 "0x0000000000000000000000000000000000000000",
		"mixHash":               zeroHash,
		"nonce":                 "0x0000000000000000",
		"number":                "0x" + strconv.FormatUint(n, 16),
		"parentBeaconBlockRoot": zeroHash,
		"parentHash":            parent,
		"receiptsRoot":          emptyRoot,
		"requestsHash":          "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"sha3Uncles":            emptyUncles,
		"size":                  "0x271",
		"stateRoot":             emptyRoot,
		"timestamp":             "0x" + strconv.FormatUint(baseTime+12*n, 16),
		"transactions":          []any{},
		"transactionsRoot":      emptyRoot,
		"uncles":                []any{},
		"withdrawals":           []any{},
		"withdrawalsRoot":       emptyRoot,
	}
	b, err := json.Marshal(block)
	if err != nil {
		panic(err) // a fixed map of strings always marshals
	}
	return b
}

// block returns the block a block parameter ("latest", "0x10", ...) names,
// nil for a number past the head (as a node answers null), or false when the
// parameter is not a block number or tag.
func (a *answers) block(param []byte) ([]byte, bool) {
	switch string(param) {
	case "latest", "pending", "safe", "finalized":
		return a.blocks[a.head], true
	case "earliest":
		return a.blocks[0], true
	}
	n, ok := parseQuantity(param)
	if !ok {
		return nil, false
	}
	if n > a.head {
		return nil, true
	}
	return a.blocks[n], true
}

// parseQuantity reads a hex quantity such as "0x1f" (at most 16 digits).
func parseQuantity(s []byte) (uint64, bool) {
	if len(s) < 3 || len(s) > 18 || s[0] != '0' || s[1] != 'x' {
		return 0, false
	}
	var n uint64
	for _, c := range s[2:] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(d)
	}
	return n, true
}
