package usage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// StatementKind names the statement format in its signed header.
const StatementKind = "rpcmesh-usage-statement/1"

// Statement is one operator's usage in one epoch, signed by the gateway.
type Statement struct {
	Kind         string   `json:"kind"`
	Gateway      string   `json:"gateway"` // the signer's address, 0x-hex checksummed
	Operator     string   `json:"operator"`
	EpochStart   int64    `json:"epoch_start"`
	EpochSeconds int64    `json:"epoch_seconds"`
	Records      []Record `json:"records"` // in statement order (chain, provider)
	Root         string   `json:"root"`    // Merkle root over Records' leaves
	// Hash is keccak256 of the header's canonical JSON (see header); the
	// signature is EIP-191 personal_sign over these 32 bytes.
	Hash      string `json:"hash"`
	Signature string `json:"signature"` // 65 bytes r ‖ s ‖ v, v 27/28
	// Proofs[i] proves Records[i] under Root, so an operator can keep its
	// record and proof alone.
	Proofs [][]ProofStep `json:"proofs"`
}

// header is what the signature covers: the statement without its records
// (the root commits to them), proofs, hash and signature.
type header struct {
	Kind         string `json:"kind"`
	Gateway      string `json:"gateway"`
	Operator     string `json:"operator"`
	EpochStart   int64  `json:"epoch_start"`
	EpochSeconds int64  `json:"epoch_seconds"`
	Records      int    `json:"records"`
	Root         string `json:"root"`
}

// headerHash is keccak256 of st's header's canonical JSON.
func (st *Statement) headerHash() [32]byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(header{Kind: st.Kind, Gateway: st.Gateway, Operator: st.Operator, EpochStart: st.EpochStart,
		EpochSeconds: st.EpochSeconds, Records: len(st.Records), Root: st.Root})
	return [32]byte(crypto.Keccak256(bytes.TrimSuffix(b.Bytes(), []byte("\n"))))
}

// leaves are the records' Merkle leaves.
func leaves(rs []Record) [][32]byte {
	out := make([][32]byte, len(rs))
	for i, r := range rs {
		out[i] = r.Leaf()
	}
	return out
}

// NewStatement builds and signs the statement of operator's records (all
// of one epoch and of that operator), sorting them.
func NewStatement(s *Signer, operator string, epochStart, epochSeconds int64, records []Record) (*Statement, error) {
	rs := append([]Record(nil), records...)
	sortRecords(rs)
	for _, r := range rs {
		if r.Operator != operator || r.EpochStart != epochStart || r.EpochSeconds != epochSeconds {
			return nil, fmt.Errorf("usage statement of %s for epoch %d: record of %s/%s is of operator %s, epoch %d",
				operator, epochStart, r.Chain, r.Provider, r.Operator, r.EpochStart)
		}
	}
	ls := leaves(rs)
	root := MerkleRoot(ls)
	st := &Statement{Kind: StatementKind, Gateway: s.Address().Hex(), Operator: operator, EpochStart: epochStart,
		EpochSeconds: epochSeconds, Records: rs, Root: hexutil.Encode(root[:])}
	if st.Records == nil {
		st.Records = []Record{}
	}
	h := st.headerHash()
	sig, err := s.SignHash(h)
	if err != nil {
		return nil, err
	}
	st.Hash, st.Signature = hexutil.Encode(h[:]), hexutil.Encode(sig)
	st.Proofs = make([][]ProofStep, len(rs))
	for i := range rs {
		st.Proofs[i] = MerkleProof(ls, i)
	}
	return st, nil
}

// Encode is the statement's JSON as stored and served.
func (st *Statement) Encode() []byte {
	b, _ := json.Marshal(st) // strings, integers and slices of them
	return b
}

// DecodeStatement reads a statement, refusing unknown keys.
func DecodeStatement(b []byte) (*Statement, error) {
	var st Statement
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("usage statement: %w", err)
	}
	return &st, nil
}

// ErrInvalid is wrapped by every reason a statement or record fails Verify.
var ErrInvalid = errors.New("invalid")

// invalidError is a reason for ErrInvalid, which it matches (errors.Is)
// without repeating the word.
type invalidError struct{ reason string }

func (e *invalidError) Error() string        { return e.reason }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return &invalidError{fmt.Sprintf(format, args...)}
}

// Verify checks st: its records belong to it and hash to its root, its
// hash is its header's, its signature recovers its gateway address (and
// signer, when not the zero address), and every proof it carries leads to
// the root. It returns the signer's address.
func (st *Statement) Verify(signer common.Address) (common.Address, error) {
	if st.Kind != StatementKind {
		return common.Address{}, invalid("kind is %q, not %q", st.Kind, StatementKind)
	}
	for i, r := range st.Records {
		if r.Operator != st.Operator || r.EpochStart != st.EpochStart || r.EpochSeconds != st.EpochSeconds {
			return common.Address{}, invalid("record %d (%s/%s) is not of this statement's operator and epoch", i, r.Chain, r.Provider)
		}
		if i > 0 && compareRecords(st.Records[i-1], r) >= 0 {
			return common.Address{}, invalid("record %d (%s/%s) is out of order or repeated", i, r.Chain, r.Provider)
		}
	}
	root := MerkleRoot(leaves(st.Records))
	if st.Root != hexutil.Encode(root[:]) {
		return common.Address{}, invalid("the records do not hash to the statement's root (a record was changed, added or removed)")
	}
	h := st.headerHash()
	if !strings.EqualFold(st.Hash, hexutil.Encode(h[:])) {
		return common.Address{}, invalid("the statement's hash is not the hash of its contents (operator, epoch, root or gateway changed)")
	}
	sig, err := hexutil.Decode(st.Signature)
	if err != nil {
		return common.Address{}, invalid("the signature is not 0x-hex: %v", err)
	}
	got, err := RecoverSigner(h, sig)
	if err != nil {
		return common.Address{}, invalid("the signature: %v", err)
	}
	if !common.IsHexAddress(st.Gateway) || common.HexToAddress(st.Gateway) != got {
		return got, invalid("signed by %s, but the statement names gateway %s", got.Hex(), st.Gateway)
	}
	if signer != (common.Address{}) && got != signer {
		return got, invalid("signed by %s, not by the expected signer %s", got.Hex(), signer.Hex())
	}
	if len(st.Proofs) != 0 && len(st.Proofs) != len(st.Records) {
		return got, invalid("%d proofs for %d records", len(st.Proofs), len(st.Records))
	}
	for i, p := range st.Proofs {
		if err := VerifyProof(st.Records[i].Leaf(), p, root); err != nil {
			return got, invalid("proof %d: %v", i, err)
		}
	}
	return got, nil
}

// VerifyRecord checks that r is committed to by st's root: with proof when
// given, else with the statement's own proof of an identical record, else
// by recomputing the tree from st's records.
func (st *Statement) VerifyRecord(r Record, proof []ProofStep) error {
	rootb, err := hexutil.Decode(st.Root)
	if err != nil || len(rootb) != 32 {
		return invalid("the statement's root is not 32 bytes of 0x-hex")
	}
	root := [32]byte(rootb)
	if proof != nil {
		if err := VerifyProof(r.Leaf(), proof, root); err != nil {
			return invalid("record %s/%s: %v", r.Chain, r.Provider, err)
		}
		return nil
	}
	leaf := r.Leaf()
	for _, x := range st.Records {
		if x.Leaf() == leaf {
			if MerkleRoot(leaves(st.Records)) != root {
				return invalid("the statement's records do not hash to its root")
			}
			return nil
		}
	}
	return invalid("record %s/%s is not in the statement (no record with exactly these counts)", r.Chain, r.Provider)
}
