package transport

import (
	"bytes"
	"fmt"
)

// callIDs are the ids of one request to a provider: one call's, or a
// batch's first, first+1, ... first+n-1. Ids are the provider's own
// sequence, so an answer carrying any other id answers some other request:
// it is never handed to a caller.
type callIDs struct {
	first uint64
	n     int  // calls in the batch; 1 for a single call
	batch bool // the request was a JSON array
}

// idsOf is the ids of req.
func idsOf(req *Request) callIDs {
	return callIDs{first: req.First, n: max(len(req.Calls), 1), batch: req.Batch}
}

// trimSpace trims JSON white space around an id.
func trimSpace(b []byte) []byte { return bytes.TrimSpace(b) }

// answeredBy reports, from its ids alone, whether body answers the request:
// a single call's answer object with its id, or a batch's array whose
// every element has an id of the batch, none twice. It reads only the ids
// (an answer it cannot scan counts as not answering), so a caller that
// needs certainty still checks what it decodes (checkID, checkBatchIDs).
func (w callIDs) answeredBy(body []byte) bool {
	i := skipJSONSpace(body, 0)
	if i >= len(body) || (body[i] == '[') != w.batch {
		return false
	}
	if !w.batch {
		id, _, ok := answerID(body, 0)
		return ok && id == w.first
	}
	if j := skipJSONSpace(body, i+1); j < len(body) && body[j] == ']' {
		return true // an empty array: no answer, but none of someone else's
	}
	seen := make([]bool, w.n)
	for pos := 0; ; {
		id, next, ok := answerID(body, pos)
		if !ok || id < w.first || id-w.first >= uint64(w.n) || seen[id-w.first] {
			return false
		}
		seen[id-w.first] = true
		if next < 0 {
			return true
		}
		pos = next
	}
}

// checkID reports an answer whose id is not the call's.
func checkID(raw []byte, id uint64) error {
	if got, ok := parseID(trimSpace(raw)); ok && got == id {
		return nil
	}
	return fmt.Errorf("answer for id %.40s, not for the call's id %d", raw, id)
}

// checkBatchIDs reports a batch answer with an id that is not one of the
// batch's, or an id answered twice: the whole answer is then someone
// else's, or garbled, and none of it may be handed to a caller.
func checkBatchIDs(msgs []response, w callIDs) error {
	seen := make([]bool, w.n)
	for _, m := range msgs {
		id, ok := parseID(trimSpace(m.ID))
		switch {
		case !ok || id < w.first || id-w.first >= uint64(w.n):
			return fmt.Errorf("batch answer with id %.40s, not one of the batch's %d..%d", m.ID, w.first, w.first+uint64(w.n)-1)
		case seen[id-w.first]:
			return fmt.Errorf("batch answer with id %d twice", id)
		}
		seen[id-w.first] = true
	}
	return nil
}
