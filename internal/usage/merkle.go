package usage

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// The tree over a statement's records: leaves are Record.Leaf, in the
// statement's order; a node is keccak256(0x01 ‖ left ‖ right); a level's
// last node without a sibling moves up unchanged. The root of no records
// is 32 zero bytes. Leaf and node hashes differ in their first byte, so a
// node cannot pass for a record.

// ProofStep is one sibling on the path from a leaf to the root.
type ProofStep struct {
	Hash string `json:"hash"` // 0x-prefixed, 32 bytes
	Left bool   `json:"left"` // the sibling is the left child
}

func node(l, r [32]byte) [32]byte {
	return [32]byte(crypto.Keccak256([]byte{1}, l[:], r[:]))
}

// MerkleRoot is the root over leaves.
func MerkleRoot(leaves [][32]byte) [32]byte {
	if len(leaves) == 0 {
		return [32]byte{}
	}
	level := append([][32]byte(nil), leaves...)
	for len(level) > 1 {
		next := level[:0:0]
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			next = append(next, node(level[i], level[i+1]))
		}
		level = next
	}
	return level[0]
}

// MerkleProof is the path proving leaves[i] under MerkleRoot(leaves).
func MerkleProof(leaves [][32]byte, i int) []ProofStep {
	steps := []ProofStep{}
	level := append([][32]byte(nil), leaves...)
	for len(level) > 1 {
		sib := i ^ 1
		if sib < len(level) {
			steps = append(steps, ProofStep{Hash: hexutil.Encode(level[sib][:]), Left: sib < i})
		}
		next := level[:0:0]
		for j := 0; j < len(level); j += 2 {
			if j+1 == len(level) {
				next = append(next, level[j])
			} else {
				next = append(next, node(level[j], level[j+1]))
			}
		}
		level, i = next, i/2
	}
	return steps
}

// errProof means a proof does not lead to the root.
var errProof = errors.New("the Merkle proof does not lead to the statement's root")

// VerifyProof checks that leaf with proof hashes up to root.
func VerifyProof(leaf [32]byte, proof []ProofStep, root [32]byte) error {
	h := leaf
	for i, s := range proof {
		b, err := hexutil.Decode(s.Hash)
		if err != nil || len(b) != 32 {
			return fmt.Errorf("proof step %d: hash %q is not 32 bytes of 0x-hex", i, s.Hash)
		}
		if s.Left {
			h = node([32]byte(b), h)
		} else {
			h = node(h, [32]byte(b))
		}
	}
	if h != root {
		return errProof
	}
	return nil
}
