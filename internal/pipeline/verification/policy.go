package verification

import "github.com/rpcmesh/rpcmesh/internal/pipeline"

// Policy is how a method's answers are established.
type Policy string

// The policies.
const (
	Proof    Policy = "proof"     // verified against a trusted header
	Quorum   Policy = "quorum"    // agreement of providers of distinct operators
	TrustOne Policy = "trust-one" // one provider's word, unverified
)

// DefaultPolicies is the policy of each method the gateway verifies by
// default; methods not listed get Options.DefaultPolicy (quorum). It
// returns a new map the caller may change.
func DefaultPolicies() map[string]Policy {
	return map[string]Policy{
		"eth_getBalance":            Proof,
		"eth_getTransactionCount":   Proof,
		"eth_getCode":               Proof,
		"eth_getStorageAt":          Proof,
		"eth_getProof":              Proof,
		"eth_getBlockByNumber":      Proof,
		"eth_getBlockByHash":        Proof,
		"eth_getBlockReceipts":      Proof,
		"eth_getTransactionReceipt": Proof,
		"eth_getTransactionByHash":  Proof,
		"eth_getLogs":               Proof,

		"eth_call":                 Quorum,
		"eth_estimateGas":          Quorum,
		"eth_createAccessList":     Quorum,
		"eth_gasPrice":             Quorum,
		"eth_maxPriorityFeePerGas": Quorum,
		"eth_blobBaseFee":          Quorum,
		"eth_feeHistory":           Quorum,

		// Writes and node-local questions: one provider's answer is the answer.
		"eth_sendRawTransaction": TrustOne,
		"eth_syncing":            TrustOne,
		"net_peerCount":          TrustOne,
		"net_listening":          TrustOne,
		"web3_clientVersion":     TrustOne,
		"txpool_status":          TrustOne,
		"txpool_content":         TrustOne,
		"eth_chainId":            TrustOne,
		"net_version":            TrustOne,
		"eth_blockNumber":        TrustOne,
	}
}

// medianMethods answer with the median of the providers' quantities.
func medianMethod(method string) bool {
	switch method {
	case "eth_gasPrice", "eth_maxPriorityFeePerGas", "eth_blobBaseFee":
		return true
	}
	return false
}

// penaliseMinority reports whether a quorum minority of c is a lie worth
// evidence and a penalty: only where honest nodes cannot differ. These are
// answers fixed by a block hash or by the chain, and state or block reads
// pinned to an agreed block (c.HasBlock). Everything else is not: gas
// estimates and access lists (clients search differently), fee
// suggestions, fee history, sync state, peer counts, the transaction pool,
// client versions, debug_ and trace_ output (tracers differ), pending
// state, and methods the gateway does not know. Clients could otherwise
// steer penalties onto honest providers by asking such questions.
func penaliseMinority(c *pipeline.Call) bool {
	switch c.Method {
	case "eth_chainId", "net_version",
		"eth_getBlockTransactionCountByHash", "eth_getTransactionByBlockHashAndIndex",
		"eth_getUncleCountByBlockHash", "eth_getUncleByBlockHashAndIndex":
		return true
	case "eth_call",
		"eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt", "eth_getProof",
		"eth_getBlockByNumber", "eth_getBlockReceipts", "eth_getLogs",
		"eth_getBlockTransactionCountByNumber", "eth_getTransactionByBlockNumberAndIndex",
		"eth_getUncleCountByBlockNumber", "eth_getUncleByBlockNumberAndIndex":
		return c.HasBlock
	}
	return false
}
