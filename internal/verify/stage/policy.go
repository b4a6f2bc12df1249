package stage

// Policy is how a method's answers are established.
type Policy string

// The policies.
const (
	Proof    Policy = "proof"     // verified against a trusted header
	Quorum   Policy = "quorum"    // agreement of providers of distinct operators
	TrustOne Policy = "trust-one" // one provider's word, unverified
)

// Class is how one answer was actually established (a proof-policy call
// may fall back to quorum, e.g. for "pending").
type Class string

// The classes, as the response header and metrics name them.
const (
	ClassProof   Class = "proof"
	ClassQuorum  Class = "quorum"
	ClassTrusted Class = "trusted" // one provider, unverified
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
