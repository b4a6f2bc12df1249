package usage

// DefaultUnits are the compute units of a method the cost table does not
// name.
const DefaultUnits = 20

// DefaultCosts is the built-in cost table in compute units per method
// (docs/compute-units.md explains the scale: a plain state read is 20).
// Config (usage.compute_units) overrides single entries.
func DefaultCosts() map[string]uint64 {
	return map[string]uint64{
		"eth_chainId":                             1,
		"net_version":                             1,
		"eth_syncing":                             1,
		"eth_blockNumber":                         10,
		"eth_gasPrice":                            10,
		"eth_maxPriorityFeePerGas":                10,
		"eth_blobBaseFee":                         10,
		"eth_feeHistory":                          20,
		"eth_getBalance":                          20,
		"eth_getCode":                             20,
		"eth_getStorageAt":                        20,
		"eth_getTransactionCount":                 20,
		"eth_getBlockByNumber":                    20,
		"eth_getBlockByHash":                      20,
		"eth_getBlockTransactionCountByNumber":    20,
		"eth_getBlockTransactionCountByHash":      20,
		"eth_getUncleCountByBlockNumber":          20,
		"eth_getUncleCountByBlockHash":            20,
		"eth_getUncleByBlockNumberAndIndex":       20,
		"eth_getUncleByBlockHashAndIndex":         20,
		"eth_getTransactionByHash":                20,
		"eth_getTransactionByBlockNumberAndIndex": 20,
		"eth_getTransactionByBlockHashAndIndex":   20,
		"eth_getTransactionReceipt":               20,
		"eth_call":                                30,
		"eth_getProof":                            50,
		"eth_getLogs":                             75,
		"eth_estimateGas":                         80,
		"eth_createAccessList":                    80,
		"eth_getBlockReceipts":                    100,
		"eth_sendRawTransaction":                  250,
		"debug_traceTransaction":                  300,
		"debug_traceCall":                         300,
		"debug_traceBlockByNumber":                500,
		"debug_traceBlockByHash":                  500,
		"trace_transaction":                       300,
		"trace_block":                             500,
		"trace_call":                              300,
		"trace_filter":                            500,
		"trace_replayTransaction":                 300,
		"trace_replayBlockTransactions":           500,
	}
}

// Costs is a cost table: compute units per method, with a default for
// the rest. Read-only once built; safe for concurrent use.
type Costs struct {
	table map[string]uint64
	def   uint64
}

// NewCosts is the built-in table with overrides applied; def is the cost
// of a method neither names (0: DefaultUnits).
func NewCosts(overrides map[string]uint64, def uint64) *Costs {
	t := DefaultCosts()
	for m, u := range overrides {
		t[m] = u
	}
	if def == 0 {
		def = DefaultUnits
	}
	return &Costs{table: t, def: def}
}

// Units is method's cost in compute units.
func (c *Costs) Units(method string) uint64 {
	if u, ok := c.table[method]; ok {
		return u
	}
	return c.def
}
