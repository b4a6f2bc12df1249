package verify

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/trie"
)

// Bounds on a Merkle proof from outside. A key has 64 nibbles, so a path has
// at most 64 branch nodes plus extensions and a leaf; a branch node encodes
// to at most 17 items of 33 bytes.
const (
	maxProofNodes     = 72
	maxProofNodeBytes = 1024
)

// errNotFound is what the node set answers for a node it does not hold.
var errNotFound = errors.New("proof node not found")

// proofNodes is one proof's nodes keyed by their hash, as trie.VerifyProof
// reads them. It remembers which nodes were read so that a proof carrying
// nodes off the path can be refused.
type proofNodes struct {
	nodes map[common.Hash][]byte
	used  map[common.Hash]bool
}

// newProofNodes indexes a proof's nodes; it refuses oversized or duplicate nodes.
func newProofNodes(proof []hexutil.Bytes) (*proofNodes, error) {
	if len(proof) > maxProofNodes {
		return nil, fmt.Errorf("%d proof nodes (at most %d): %w", len(proof), maxProofNodes, ErrBadProof)
	}
	p := &proofNodes{nodes: make(map[common.Hash][]byte, len(proof)), used: make(map[common.Hash]bool, len(proof))}
	for i, n := range proof {
		if len(n) == 0 || len(n) > maxProofNodeBytes {
			return nil, fmt.Errorf("proof node %d has %d bytes: %w", i, len(n), ErrBadProof)
		}
		h := crypto.Keccak256Hash(n)
		if _, dup := p.nodes[h]; dup {
			return nil, fmt.Errorf("proof node %d repeated: %w", i, ErrBadProof)
		}
		p.nodes[h] = n
	}
	return p, nil
}

// Has reports whether the set holds the node with hash key.
func (p *proofNodes) Has(key []byte) (bool, error) {
	_, ok := p.nodes[common.BytesToHash(key)]
	return ok, nil
}

// Get returns the node with hash key and marks it used.
func (p *proofNodes) Get(key []byte) ([]byte, error) {
	h := common.BytesToHash(key)
	n, ok := p.nodes[h]
	if !ok {
		return nil, errNotFound
	}
	p.used[h] = true
	return n, nil
}

// prove verifies proof for key against root and returns the value at key,
// nil when the proof shows the key absent. Every node must lie on the path.
func prove(root common.Hash, key []byte, proof []hexutil.Bytes) ([]byte, error) {
	nodes, err := newProofNodes(proof)
	if err != nil {
		return nil, err
	}
	val, err := trie.VerifyProof(root, key, nodes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	if len(nodes.used) != len(nodes.nodes) {
		return nil, fmt.Errorf("%d of %d proof nodes are off the path: %w", len(nodes.nodes)-len(nodes.used), len(nodes.nodes), ErrBadProof)
	}
	return val, nil
}
