// Package ethmethod knows what each Ethereum JSON-RPC method is: a read or a
// write, which param names a block and whether it reads state there, what
// provider capability it needs, and which methods the gateway refuses.
package ethmethod

import "strings"

// Kind is how the gateway may treat a method.
type Kind int

// Method kinds.
const (
	Read    Kind = iota // idempotent: may be retried and hedged
	Write               // has effects: never hedged, retried only when certainly not sent
	Refused             // not served through the gateway (answered with -32601)
)

// Info describes one method.
type Info struct {
	Kind Kind
	// BlockParam is the index of the block tag/number param, or -1.
	BlockParam int
	// State is true when the method reads state at that block, so the
	// provider must keep state that far back (archive depth).
	State bool
	// DefaultLatest is true when an absent block param means "latest" and
	// the gateway may append the agreed number.
	DefaultLatest bool
	// Needs is the capability a provider must have: "", "debug" or "trace".
	Needs string
	// Reason explains a refusal.
	Reason string
	// ByHash is true when the block param may also name a block by hash, bare
	// or in an EIP-1898 object (go-ethereum's BlockNumberOrHash); otherwise
	// it is a number or a tag only.
	ByHash bool
	// Args is how many params a node takes.
	Args Arity
}

var table = map[string]Info{
	"eth_getBalance":                          {BlockParam: 1, State: true, DefaultLatest: true, ByHash: true},
	"eth_getCode":                             {BlockParam: 1, State: true, DefaultLatest: true, ByHash: true},
	"eth_getTransactionCount":                 {BlockParam: 1, State: true, DefaultLatest: true, ByHash: true},
	"eth_getStorageAt":                        {BlockParam: 2, State: true, DefaultLatest: true, ByHash: true},
	"eth_call":                                {BlockParam: 1, State: true, DefaultLatest: true, ByHash: true},
	"eth_estimateGas":                         {BlockParam: 1, State: true, ByHash: true},
	"eth_createAccessList":                    {BlockParam: 1, State: true, ByHash: true},
	"eth_getProof":                            {BlockParam: 2, State: true, DefaultLatest: true, ByHash: true},
	"eth_getBlockByNumber":                    {BlockParam: 0},
	"eth_getBlockTransactionCountByNumber":    {BlockParam: 0},
	"eth_getUncleCountByBlockNumber":          {BlockParam: 0},
	"eth_getUncleByBlockNumberAndIndex":       {BlockParam: 0},
	"eth_getTransactionByBlockNumberAndIndex": {BlockParam: 0},
	"eth_getBlockReceipts":                    {BlockParam: 0, ByHash: true},
	"eth_feeHistory":                          {BlockParam: 1},
	"debug_traceBlockByNumber":                {BlockParam: 0, State: true, Needs: "debug"},
	"debug_traceCall":                         {BlockParam: 1, State: true, Needs: "debug", ByHash: true},
	"trace_block":                             {BlockParam: 0, State: true, Needs: "trace"},
	"trace_replayBlockTransactions":           {BlockParam: 0, State: true, Needs: "trace"},
	"trace_call":                              {BlockParam: 2, State: true, Needs: "trace"},

	"eth_sendRawTransaction":            {Kind: Write, BlockParam: -1},
	"eth_sendRawTransactionConditional": {Kind: Write, BlockParam: -1},
	"eth_sendTransaction":               {Kind: Write, BlockParam: -1},
	"eth_sign":                          {Kind: Write, BlockParam: -1},
	"eth_signTransaction":               {Kind: Write, BlockParam: -1},
	"eth_signTypedData":                 {Kind: Write, BlockParam: -1},
	"eth_signTypedData_v3":              {Kind: Write, BlockParam: -1},
	"eth_signTypedData_v4":              {Kind: Write, BlockParam: -1},
	"eth_submitWork":                    {Kind: Write, BlockParam: -1},
	"eth_submitHashrate":                {Kind: Write, BlockParam: -1},

	"eth_subscribe":   {Kind: Refused, BlockParam: -1, Reason: "subscriptions need a WebSocket connection"},
	"eth_unsubscribe": {Kind: Refused, BlockParam: -1, Reason: "subscriptions need a WebSocket connection"},
	// Filters are kept by the gateway (internal/pipeline/filters), never
	// forwarded: a node's filter would not survive a failover.
	"eth_newFilter":                   {BlockParam: -1},
	"eth_newBlockFilter":              {BlockParam: -1},
	"eth_newPendingTransactionFilter": {BlockParam: -1},
	"eth_getFilterChanges":            {BlockParam: -1},
	"eth_getFilterLogs":               {BlockParam: -1},
	"eth_uninstallFilter":             {BlockParam: -1},
}

// refusedPrefixes are namespaces that control or unlock a node.
var refusedPrefixes = []string{"admin_", "miner_", "engine_", "clique_", "les_", "personal_unlock", "personal_import", "personal_new", "debug_set", "debug_start", "debug_stop", "debug_write"}

// writePrefixes are namespaces whose calls have effects.
var writePrefixes = []string{"personal_"}

// Lookup describes method. Unknown methods are reads without a block param;
// they are forwarded and the provider answers -32601 if it does not know them.
func Lookup(method string) Info {
	info := lookup(method)
	if a, ok := arities[method]; ok {
		info.Args = Arity{Min: a[0], Max: a[1], Known: true}
	}
	return info
}

// lookup is Lookup without the arity.
func lookup(method string) Info {
	if info, ok := table[method]; ok {
		return info
	}
	for _, p := range refusedPrefixes {
		if strings.HasPrefix(method, p) {
			return Info{Kind: Refused, BlockParam: -1, Reason: "the " + strings.SplitN(p, "_", 2)[0] + " namespace is not served"}
		}
	}
	info := Info{BlockParam: -1}
	for _, p := range writePrefixes {
		if strings.HasPrefix(method, p) {
			info.Kind = Write
		}
	}
	switch {
	case strings.HasPrefix(method, "debug_"):
		info.Needs = "debug"
	case strings.HasPrefix(method, "trace_"):
		info.Needs = "trace"
	}
	return info
}

// Known reports whether method is one the gateway knows by name (bounded
// label values for metrics: unknown methods are reported as "other").
func Known(method string) bool {
	if _, ok := table[method]; ok {
		return true
	}
	_, ok := common[method]
	return ok
}

// common are frequent methods with no special handling, for Known.
var common = map[string]struct{}{
	"eth_chainId": {}, "net_version": {}, "eth_blockNumber": {}, "eth_getLogs": {}, "eth_gasPrice": {},
	"eth_maxPriorityFeePerGas": {}, "eth_getTransactionByHash": {}, "eth_getTransactionReceipt": {},
	"eth_getBlockByHash": {}, "eth_syncing": {}, "web3_clientVersion": {}, "net_listening": {}, "net_peerCount": {},
	"eth_getBlockTransactionCountByHash": {}, "eth_getTransactionByBlockHashAndIndex": {}, "eth_blobBaseFee": {},
	"eth_accounts": {}, "eth_protocolVersion": {}, "web3_sha3": {}, "debug_traceTransaction": {}, "trace_transaction": {},
	"txpool_status": {}, "txpool_content": {},
}

// pointReads are reads a node answers from an index or one trie walk, in
// microseconds, whatever the params.
var pointReads = map[string]bool{
	"eth_getBalance": true, "eth_getCode": true, "eth_getTransactionCount": true,
	"eth_getStorageAt": true, "eth_getBlockByNumber": true, "eth_getBlockByHash": true,
	"eth_getTransactionByHash": true, "eth_getTransactionReceipt": true,
	"eth_getBlockTransactionCountByNumber": true, "eth_getBlockTransactionCountByHash": true,
	"eth_getTransactionByBlockNumberAndIndex": true, "eth_getTransactionByBlockHashAndIndex": true,
	"eth_blockNumber": true, "eth_chainId": true, "net_version": true, "eth_gasPrice": true,
	"eth_maxPriorityFeePerGas": true, "eth_blobBaseFee": true,
}

// PointRead reports whether method is a cheap point read: one that may wait
// in a batch with others without holding them up (not eth_call,
// eth_getLogs, traces or writes, whose cost depends on their params).
func PointRead(method string) bool { return pointReads[method] }
