package verify

import (
	"errors"
	"fmt"

	"github.com/rpcmesh/rpcmesh/internal/headerhash"
)

// Errors callers branch on. Every verification failure wraps exactly one of
// them; ErrMalformed and the mismatch errors all mean the provider's answer
// must not reach the client.
var (
	// ErrMalformed means the answer could not be decoded at all.
	ErrMalformed = errors.New("malformed answer")
	// ErrHashMismatch means a header's recomputed hash is not the claimed or
	// trusted one: headerhash's sentinel, so that a head refused by upstream's
	// check (headerhash.Decode) is the same kind of lie.
	ErrHashMismatch = headerhash.ErrMismatch
	// ErrBrokenChain means headers do not link by parent hash and number.
	ErrBrokenChain = errors.New("headers do not form a chain")
	// ErrBadProof means a Merkle proof does not verify against its root.
	ErrBadProof = errors.New("invalid merkle proof")
	// ErrValueMismatch means a claimed value differs from the proven one.
	ErrValueMismatch = errors.New("claimed value differs from proven value")
	// ErrRootMismatch means a list's recomputed trie root differs from the header's.
	ErrRootMismatch = errors.New("trie root mismatch")
	// ErrNotIncluded means a transaction is not where the answer claims it is.
	ErrNotIncluded = errors.New("transaction not included as claimed")
	// ErrNoTrust means no trusted header is available for the block asked about.
	ErrNoTrust = errors.New("no trusted header")
	// ErrAboveHead means the block asked about is above the agreed head:
	// for the gateway's clients it is not there yet, as for a node that
	// has not imported it. It wraps nothing; it is no lie and no failure.
	ErrAboveHead = errors.New("block above the agreed head")
	// ErrNotFound means every provider asked answered that it does not
	// know the block (or transaction): absence, as a node reports it.
	ErrNotFound = errors.New("not found")
)

// IsLie reports whether err says a provider's answer was false or
// malformed (its fault), as opposed to absence, a transport failure,
// missing trust or an answer that cannot be checked.
func IsLie(err error) bool {
	for _, e := range []error{ErrMalformed, ErrHashMismatch, ErrBrokenChain, ErrBadProof, ErrValueMismatch, ErrRootMismatch, ErrNotIncluded} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// MismatchError names the field whose claimed value differs from the proven
// one. It wraps ErrValueMismatch unless Err says otherwise.
type MismatchError struct {
	What    string // e.g. "balance", "storage[0x01]", "receipts[3].status"
	Claimed string
	Proven  string
	Err     error // the sentinel; ErrValueMismatch when nil
}

// Error says what differs.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s: claimed %s, proven %s: %v", e.What, e.Claimed, e.Proven, e.Unwrap())
}

// Unwrap returns the sentinel the mismatch is an instance of.
func (e *MismatchError) Unwrap() error {
	if e.Err == nil {
		return ErrValueMismatch
	}
	return e.Err
}

// mismatch builds a *MismatchError for a value that differs.
func mismatch(what string, claimed, proven any) error {
	return &MismatchError{What: what, Claimed: fmt.Sprint(claimed), Proven: fmt.Sprint(proven)}
}

// malformed wraps ErrMalformed with what could not be decoded.
func malformed(what string, err error) error {
	if err == nil {
		return fmt.Errorf("%s: %w", what, ErrMalformed)
	}
	return fmt.Errorf("%s: %w: %v", what, ErrMalformed, err)
}

// ErrNotInBlock means a transaction answer names no block: the transaction
// is pending (in the provider's pool). Its inclusion cannot be proven; its
// content can (VerifyPendingTransaction).
var ErrNotInBlock = fmt.Errorf("transaction in no block: %w", ErrUnverifiable)

// ErrUnverifiable means the answer may be true but cannot be checked with
// the data at hand (uncles of a pre-merge block, a hashes-only block): the
// caller must fetch more or fall back to quorum.
var ErrUnverifiable = errors.New("answer cannot be verified")
