// Package usage meters what each provider served, for rewards: per
// provider and epoch, the answers routing used, their compute units, the
// answers verified correct and audit results. Counts are kept in memory
// and written to a Store (bbolt or PostgreSQL) in batches; at each epoch's
// end the epoch's records are summed up in one Statement per operator: the
// records, a Merkle root over them and the gateway's EIP-191 signature of
// the statement's hash, which any Ethereum tool can check. docs/usage.md
// describes the formats.
package usage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum/crypto"
)

// Record is one provider's usage in one epoch. Its JSON encoding, keys in
// this order and no spaces (Canonical), is what the Merkle tree commits to.
type Record struct {
	Chain        string `json:"chain"`
	Provider     string `json:"provider"`
	Operator     string `json:"operator"`
	EpochStart   int64  `json:"epoch_start"`   // Unix seconds
	EpochSeconds int64  `json:"epoch_seconds"` // the epoch's length
	// Requests are the provider's answers routing handed back (a call's
	// answer, a verification's follow-up or vote); hedge losers are not.
	Requests uint64 `json:"requests"`
	// ComputeUnits are the Requests' costs by the cost table.
	ComputeUnits uint64 `json:"compute_units"`
	// Verified are the provider's answers to calls that verification
	// established (by proof or by quorum): Verified/Requests is the share
	// verified correct.
	Verified     uint64 `json:"verified"`
	AuditsPassed uint64 `json:"audits_passed"`
	AuditsFailed uint64 `json:"audits_failed"`
}

// Canonical is r's canonical encoding: its JSON, keys in declaration
// order, no insignificant spaces, no HTML escaping.
func (r Record) Canonical() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(r) // a struct of strings and integers always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Leaf is r's Merkle leaf: keccak256(0x00 ‖ Canonical).
func (r Record) Leaf() [32]byte {
	return [32]byte(crypto.Keccak256(append([]byte{0}, r.Canonical()...)))
}

// add adds o's counts to r's.
func (r *Record) add(o *Record) {
	r.Requests += o.Requests
	r.ComputeUnits += o.ComputeUnits
	r.Verified += o.Verified
	r.AuditsPassed += o.AuditsPassed
	r.AuditsFailed += o.AuditsFailed
}

// zero reports whether r counts nothing.
func (r *Record) zero() bool {
	return r.Requests == 0 && r.ComputeUnits == 0 && r.Verified == 0 && r.AuditsPassed == 0 && r.AuditsFailed == 0
}

// compareRecords orders records as statements list them: by chain, then
// provider, bytewise.
func compareRecords(a, b Record) int {
	if c := strings.Compare(a.Chain, b.Chain); c != 0 {
		return c
	}
	return strings.Compare(a.Provider, b.Provider)
}

// sortRecords sorts records in statement order.
func sortRecords(rs []Record) { slices.SortFunc(rs, compareRecords) }

// DecodeRecord reads one record, refusing unknown keys (a record with
// extra keys is not the record that was committed to).
func DecodeRecord(b []byte) (Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("usage record: %w", err)
	}
	return r, nil
}
