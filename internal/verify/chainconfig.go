package verify

import (
	"github.com/ethereum/go-ethereum/params"

	"github.com/rpcmesh/rpcmesh/internal/forks"
)

// ChainConfigFor returns the fork schedule to verify a chain's blocks with:
// go-ethereum's own for the public networks it knows, otherwise a schedule
// with every released fork active from genesis (what devnets run). Chains
// with another history must supply their own config.
func ChainConfigFor(chainID uint64) *params.ChainConfig {
	for _, c := range []*params.ChainConfig{params.MainnetChainConfig, params.SepoliaChainConfig, params.HoodiChainConfig} {
		if c != nil && c.ChainID != nil && c.ChainID.IsUint64() && c.ChainID.Uint64() == chainID {
			return c
		}
	}
	return forks.AllAtGenesis(chainID)
}
