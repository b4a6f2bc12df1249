package devnet

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common/hexutil"
)

type hexBig = hexutil.Big
type hexUint = hexutil.Uint64
type hexBytesStr = hexutil.Bytes

func hexNum(n uint64) string { return fmt.Sprintf("0x%x", n) }

var _ = big.NewInt
