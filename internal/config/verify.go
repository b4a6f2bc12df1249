package config

import (
	"fmt"
	"slices"
	"strings"
)

// Verify configures the verification stage (docs/verification.md): which
// methods are proven against trusted headers, which are settled by a quorum
// of distinct operators, and which trust one provider.
type Verify struct {
	Enabled bool `yaml:"enabled"` // default true
	// Quorum is how many providers of distinct operators a quorum call
	// asks (default 2); Agree how many must give the same answer (0: all).
	Quorum int `yaml:"quorum"`
	Agree  int `yaml:"agree"`
	// FeeQuorum is how many providers of distinct operators a fee method
	// (eth_gasPrice, eth_maxPriorityFeePerGas, eth_blobBaseFee) asks for its
	// median (default 3, at least 3: one liar cannot move it beyond the
	// honest answers).
	FeeQuorum int `yaml:"fee_quorum"`
	// MaxConcurrentWalks bounds the header walks (proving an older block
	// by parent links) that run at once; concurrent walks to one block
	// share one (default 4).
	MaxConcurrentWalks int `yaml:"max_concurrent_walks"`
	// BlockCache is how many verified blocks' transaction-hash lists are
	// kept, so eth_getBlockByNumber(…, false) of a recent block fetches the
	// full block once (default 256; 0: none).
	BlockCache int `yaml:"block_cache"`
	// FullBlockCache is how many verified full blocks, with their verified
	// receipts once asked for, are kept by block hash, so receipts,
	// transactions, full blocks and logs of a recent block are fetched and
	// verified once (default 128; 0: none); FullBlockCacheBytes bounds the
	// bytes of the answers they were verified from (default 64 MiB).
	FullBlockCache      int   `yaml:"full_block_cache"`
	FullBlockCacheBytes int64 `yaml:"full_block_cache_bytes"`
	// Attempts is how many providers a proven call tries before the client
	// gets an "unverified" error (default 3).
	Attempts int `yaml:"attempts"`
	// MaxLogBlocks bounds the blocks one eth_getLogs call verifies from
	// receipts; a longer range is settled by quorum (default 64).
	MaxLogBlocks int `yaml:"max_log_blocks"`
	// MaxWalkBlocks is how far below the agreed head a header is proven by
	// parent links (default 1024); older blocks fall back as configured.
	MaxWalkBlocks int `yaml:"max_walk_blocks"`
	// AgreeOldHeaders trusts a block beyond MaxWalkBlocks (or before the
	// first agreed head) when head_agreement distinct operators report the
	// same header hash for it, as the head itself is trusted; its state is
	// then proven against that header as for any other (default true).
	AgreeOldHeaders bool `yaml:"agree_old_headers"`
	// HeaderCache is how many verified headers are kept (default 4096).
	HeaderCache int `yaml:"header_cache"`
	// ProofCache is how many proven accounts (balance, nonce, a storage
	// slot at one state root) are kept, so repeated reads of one account at
	// one block cost no upstream call (default 4096; 0: none).
	ProofCache int `yaml:"proof_cache"`
	// Evidence is how many failed verifications are kept for the admin
	// listener's /verify/evidence (default 1000).
	Evidence int `yaml:"evidence"`
	// CheckPlain also asks the provider that gave a valid proof the
	// client's own method and records a lie there as evidence: it catches
	// providers that lie to plain reads only, at one more upstream call per
	// state read (default false).
	CheckPlain bool `yaml:"check_plain"`
	// FallbackToQuorum lets a proof-policy call be settled by quorum when no
	// provider could prove it (eth_getProof not served, state pruned, no
	// trusted header). Off by default: a client then gets an error, never
	// an answer colluding providers could have made up.
	FallbackToQuorum bool `yaml:"fallback_to_quorum"`
	// DefaultPolicy applies to methods no policy names: proof is not
	// allowed here (default quorum).
	DefaultPolicy string `yaml:"default_policy"`
	// Policies set the policy of the methods they name, over the defaults.
	Policies []MethodPolicy `yaml:"policies,omitempty"`
}

// MethodPolicy sets one policy for a list of methods.
type MethodPolicy struct {
	Methods []string `yaml:"methods"`
	Policy  string   `yaml:"policy"` // proof, quorum or trust-one
}

// The verification policies.
const (
	PolicyProof    = "proof"
	PolicyQuorum   = "quorum"
	PolicyTrustOne = "trust-one"
)

// ProvableMethods are the methods the verification stage can prove from
// trusted headers; only these may have the proof policy.
var ProvableMethods = []string{
	"eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt", "eth_getProof",
	"eth_getBlockByNumber", "eth_getBlockByHash", "eth_getBlockReceipts",
	"eth_getTransactionReceipt", "eth_getTransactionByHash", "eth_getLogs",
}

// DefaultVerify returns the default verification settings.
func DefaultVerify() Verify {
	return Verify{
		Enabled:             true,
		Quorum:              2,
		FeeQuorum:           3,
		Attempts:            3,
		MaxConcurrentWalks:  4,
		BlockCache:          256,
		FullBlockCache:      128,
		FullBlockCacheBytes: 64 << 20,
		MaxLogBlocks:        64,
		MaxWalkBlocks:       1024,
		AgreeOldHeaders:     true,
		HeaderCache:         4096,
		ProofCache:          4096,
		Evidence:            1000,
		DefaultPolicy:       PolicyQuorum,
	}
}

// EffectiveVerify returns the verification settings of the chain: its own
// verify block when it has one (completed with top's values for the keys
// it leaves out), else top.
func (c *Chain) EffectiveVerify(top Verify) Verify {
	if c.Verify == nil {
		return top
	}
	return *c.Verify
}

// AgreeCount is how many distinct operators must agree in a quorum.
func (v Verify) AgreeCount() int {
	if v.Agree <= 0 || v.Agree > v.Quorum {
		return v.Quorum
	}
	return v.Agree
}

func (v *validator) verify(path string, vf *Verify) {
	if !vf.Enabled {
		return
	}
	v.atLeastOne(path+".quorum", int64(vf.Quorum))
	if vf.Agree < 0 || vf.Agree > vf.Quorum {
		v.errorf(path+".agree", "must be between 0 (all of quorum) and quorum (%d), got %d", vf.Quorum, vf.Agree)
	}
	v.atLeastOne(path+".attempts", int64(vf.Attempts))
	v.atLeastOne(path+".max_log_blocks", int64(vf.MaxLogBlocks))
	v.atLeastOne(path+".max_walk_blocks", int64(vf.MaxWalkBlocks))
	v.atLeastOne(path+".header_cache", int64(vf.HeaderCache))
	if vf.FeeQuorum < 3 {
		v.errorf(path+".fee_quorum", "must be 3 or more (a median of fewer cannot outvote one liar), got %d", vf.FeeQuorum)
	}
	v.atLeastOne(path+".max_concurrent_walks", int64(vf.MaxConcurrentWalks))
	if vf.BlockCache < 0 {
		v.errorf(path+".block_cache", "must be 0 (no cache) or more, got %d", vf.BlockCache)
	}
	if vf.FullBlockCache < 0 {
		v.errorf(path+".full_block_cache", "must be 0 (no cache) or more, got %d", vf.FullBlockCache)
	}
	if vf.FullBlockCacheBytes < 0 {
		v.errorf(path+".full_block_cache_bytes", "must be 0 (no cache) or more, got %d", vf.FullBlockCacheBytes)
	}
	if vf.ProofCache < 0 {
		v.errorf(path+".proof_cache", "must be 0 (no cache) or more, got %d", vf.ProofCache)
	}
	v.atLeastOne(path+".evidence", int64(vf.Evidence))
	switch vf.DefaultPolicy {
	case PolicyQuorum, PolicyTrustOne:
	default:
		v.errorf(path+".default_policy", "%s is not a policy for any method: use quorum or trust-one", quote(vf.DefaultPolicy))
	}
	for i, mp := range vf.Policies {
		p := fmt.Sprintf("%s.policies[%d]", path, i)
		switch mp.Policy {
		case PolicyProof, PolicyQuorum, PolicyTrustOne:
		default:
			v.errorf(p+".policy", "%s is not a policy: use proof, quorum or trust-one", quote(mp.Policy))
		}
		if len(mp.Methods) == 0 {
			v.errorf(p+".methods", "at least one method is required")
		}
		for j, m := range mp.Methods {
			if mp.Policy == PolicyProof && !slices.Contains(ProvableMethods, m) {
				v.errorf(fmt.Sprintf("%s.methods[%d]", p, j), "%s cannot be proven; provable methods: %s", quote(m), strings.Join(ProvableMethods, ", "))
			}
		}
	}
}
