package ethmethod

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Arity is how many positional arguments a node takes for a method: the
// first Min are required (a node answers "missing value for required
// argument N" when one is absent or null), at most Max in all.
type Arity struct {
	Min, Max int
	// Known is false for methods whose arguments the gateway does not know
	// (they go to the node unchecked).
	Known bool
}

// arities are go-ethereum v1.17.10's, read from its API signatures
// (internal/ethapi, eth, eth/filters, eth/tracers, node): every argument
// is one position; a pointer argument is optional, so Min counts the
// leading non-pointer ones. Checked against a node in internal/server/e2e.
var arities = map[string][2]int{
	"eth_chainId": {0, 0}, "eth_blockNumber": {0, 0}, "net_version": {0, 0}, "net_listening": {0, 0},
	"net_peerCount": {0, 0}, "web3_clientVersion": {0, 0}, "web3_sha3": {1, 1}, "eth_gasPrice": {0, 0},
	"eth_maxPriorityFeePerGas": {0, 0}, "eth_blobBaseFee": {0, 0}, "eth_syncing": {0, 0}, "eth_accounts": {0, 0},
	"eth_feeHistory": {3, 3}, "eth_config": {0, 0},

	"eth_getBalance": {1, 2}, "eth_getCode": {1, 2}, "eth_getTransactionCount": {1, 2},
	"eth_getStorageAt": {2, 3}, "eth_getProof": {2, 3}, "eth_call": {1, 4}, "eth_estimateGas": {1, 4},
	"eth_createAccessList": {1, 3}, "eth_simulateV1": {1, 2},

	"eth_getBlockByNumber": {2, 2}, "eth_getBlockByHash": {2, 2}, "eth_getHeaderByNumber": {1, 1},
	"eth_getHeaderByHash": {1, 1}, "eth_getBlockReceipts": {1, 1},
	"eth_getBlockTransactionCountByNumber": {1, 1}, "eth_getBlockTransactionCountByHash": {1, 1},
	"eth_getUncleCountByBlockNumber": {1, 1}, "eth_getUncleCountByBlockHash": {1, 1},
	"eth_getUncleByBlockNumberAndIndex": {2, 2}, "eth_getUncleByBlockHashAndIndex": {2, 2},
	"eth_getTransactionByBlockNumberAndIndex": {2, 2}, "eth_getTransactionByBlockHashAndIndex": {2, 2},
	"eth_getRawTransactionByBlockNumberAndIndex": {2, 2}, "eth_getRawTransactionByBlockHashAndIndex": {2, 2},
	"eth_getTransactionByHash": {1, 1}, "eth_getRawTransactionByHash": {1, 1}, "eth_getTransactionReceipt": {1, 1},
	"eth_getLogs": {1, 1},

	"eth_sendRawTransaction": {1, 1}, "eth_sendRawTransactionSync": {1, 2}, "eth_sendTransaction": {1, 1},
	"eth_signTransaction": {1, 1}, "eth_sign": {2, 2}, "eth_fillTransaction": {1, 1},

	"eth_newFilter": {1, 1}, "eth_newBlockFilter": {0, 0}, "eth_newPendingTransactionFilter": {0, 1},
	"eth_getFilterChanges": {1, 1}, "eth_getFilterLogs": {1, 1}, "eth_uninstallFilter": {1, 1},

	"txpool_status": {0, 0}, "txpool_content": {0, 0}, "txpool_inspect": {0, 0}, "txpool_contentFrom": {1, 1},

	"debug_traceTransaction": {1, 2}, "debug_traceCall": {1, 3}, "debug_traceBlockByNumber": {1, 2},
	"debug_traceBlockByHash": {1, 2}, "debug_getRawHeader": {1, 1}, "debug_getRawBlock": {1, 1},
	"debug_getRawReceipts": {1, 1}, "debug_getRawTransaction": {1, 1},
}

// Methods returns the methods whose arity the gateway knows.
func Methods() []string {
	out := make([]string, 0, len(arities))
	for m := range arities {
		out = append(out, m)
	}
	return out
}

// CheckArgs checks the number of params as a node does before it reads
// them, in its order: params that are not an array, then element by
// element (one past Max: too many; a required one null: missing), then a
// required one absent. It returns the node's message, or "" when the count
// is right or the method's arity is not known. isArray is false when the
// params were neither an array nor absent nor null; params are the
// elements.
func (a Arity) CheckArgs(isArray bool, params []json.RawMessage) string {
	if !a.Known {
		return ""
	}
	if !isArray {
		return "non-array args"
	}
	for i, p := range params {
		if i >= a.Max {
			return fmt.Sprintf("too many arguments, want at most %d", a.Max)
		}
		if i < a.Min && string(bytes.TrimSpace(p)) == "null" {
			return fmt.Sprintf("missing value for required argument %d", i)
		}
	}
	if len(params) < a.Min {
		return fmt.Sprintf("missing value for required argument %d", len(params))
	}
	return ""
}
