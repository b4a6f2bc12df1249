package pipeline

import (
	"sort"
	"strings"
	"sync"
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

// Report says how one call's answer was established. The verification
// stage puts an empty Report on each call it takes (Call.Report) and fills
// it in; the server writes it into a response header and metrics. Its
// methods are safe for concurrent use, and the setters do nothing on a nil
// Report.
type Report struct {
	mu        sync.Mutex
	class     Class
	operators map[string]bool
	note      string
	agreed    bool // a header was trusted by operator agreement, not by its link to the head
}

// Set records the class, the operators whose answers were used and a note.
func (r *Report) Set(class Class, note string, operators ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.class, r.note = class, note
	r.operators = map[string]bool{}
	for _, o := range operators {
		if o != "" {
			r.operators[o] = true
		}
	}
}

// MarkAgreedHeader records that the answer rests on a header trusted by
// operator agreement (a block too far below the head to link).
func (r *Report) MarkAgreedHeader() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.agreed = true
}

// AgreedHeader reports whether a proven answer rests on a header trusted
// by operator agreement rather than by its link to the agreed head.
func (r *Report) AgreedHeader() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.agreed && r.class == ClassProof
}

// Class is how the answer was established; "" when the stage did not answer.
func (r *Report) Class() Class {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.class
}

// Operators are the operators whose answers the result rests on, sorted.
func (r *Report) Operators() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.operators))
	for o := range r.operators {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// Note explains a fallback (e.g. "log range beyond 64 blocks: quorum").
func (r *Report) Note() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.note
}

// Header is the value of the X-Rpcmesh-Verified response header, e.g.
// "proof; operators=blocklabs,nodeworks".
func (r *Report) Header() string {
	c := r.Class()
	if c == "" {
		return ""
	}
	s := string(c)
	if ops := r.Operators(); len(ops) > 0 {
		s += "; operators=" + strings.Join(ops, ",")
	}
	if n := r.Note(); n != "" {
		s += "; note=\"" + strings.ReplaceAll(n, `"`, `'`) + "\""
	}
	if r.AgreedHeader() {
		s += "; header=agreed"
	}
	return s
}
