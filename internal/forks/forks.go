// Package forks holds the fork schedule rpcmesh assumes for a chain it has
// no history for: every released fork from genesis. The devnet runs it, and
// verification uses it for chains go-ethereum does not know.
package forks

import (
	"math/big"

	"github.com/ethereum/go-ethereum/params"
)

// AllAtGenesis is a fork schedule with every released fork (through
// Osaka and its blob-parameter-only forks) active from genesis: what the
// devnet runs and what a new devnet chain most likely runs. go-ethereum's
// dev preset also turns on unreleased forks, so it is built here.
func AllAtGenesis(chainID uint64) *params.ChainConfig {
	zero := uint64(0)
	return &params.ChainConfig{
		ChainID:                 new(big.Int).SetUint64(chainID),
		HomesteadBlock:          big.NewInt(0),
		EIP150Block:             big.NewInt(0),
		EIP155Block:             big.NewInt(0),
		EIP158Block:             big.NewInt(0),
		ByzantiumBlock:          big.NewInt(0),
		ConstantinopleBlock:     big.NewInt(0),
		PetersburgBlock:         big.NewInt(0),
		IstanbulBlock:           big.NewInt(0),
		MuirGlacierBlock:        big.NewInt(0),
		BerlinBlock:             big.NewInt(0),
		LondonBlock:             big.NewInt(0),
		ArrowGlacierBlock:       big.NewInt(0),
		GrayGlacierBlock:        big.NewInt(0),
		MergeNetsplitBlock:      big.NewInt(0),
		ShanghaiTime:            &zero,
		CancunTime:              &zero,
		PragueTime:              &zero,
		OsakaTime:               &zero,
		BPO1Time:                &zero,
		BPO2Time:                &zero,
		TerminalTotalDifficulty: big.NewInt(0),
		BlobScheduleConfig: &params.BlobScheduleConfig{
			Cancun: params.DefaultCancunBlobConfig,
			Prague: params.DefaultPragueBlobConfig,
			BPO1:   params.DefaultBPO1BlobConfig,
			BPO2:   params.DefaultBPO2BlobConfig,
		},
	}
}
