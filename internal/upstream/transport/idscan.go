package transport

import (
	"math"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// answerID returns the id of an answer in msg, which may be a prefix of
// the message. pos 0 scans msg itself: an object, or an array and then its
// first element; a later pos, returned as next, is the next element of the
// array. next is -1 when no element follows (or the rest cannot be
// scanned). ok is false without a plain unsigned id.
func answerID(msg []byte, pos int) (id uint64, next int, ok bool) {
	i := skipJSONSpace(msg, pos)
	array := pos > 0
	if pos == 0 && i < len(msg) && msg[i] == '[' {
		array = true
		i = skipJSONSpace(msg, i+1)
	}
	id, ok = objectID(msg, i)
	if !array {
		return id, -1, ok
	}
	end := jsonrpc.PrefixValueEnd(msg, i)
	if end < 0 {
		return id, -1, ok
	}
	if j := skipJSONSpace(msg, end); j < len(msg) && msg[j] == ',' {
		return id, j + 1, ok
	}
	return id, -1, ok
}

// objectID returns the "id" member of the object at b[i], a number, without
// reading past it.
func objectID(b []byte, i int) (uint64, bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	i = skipJSONSpace(b, i+1)
	for i < len(b) && b[i] == '"' {
		ke := jsonrpc.PrefixValueEnd(b, i)
		if ke < 0 {
			return 0, false
		}
		key := b[i+1 : ke-1]
		i = skipJSONSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		i = skipJSONSpace(b, i+1)
		e := jsonrpc.PrefixValueEnd(b, i)
		if e < 0 {
			return 0, false
		}
		if string(key) == "id" {
			return parseID(b[i:e])
		}
		i = skipJSONSpace(b, e)
		if i >= len(b) || b[i] != ',' {
			return 0, false
		}
		i = skipJSONSpace(b, i+1)
	}
	return 0, false
}

// parseID parses the decimal id the provider was sent.
func parseID(v []byte) (uint64, bool) {
	if len(v) == 0 || len(v) > 20 {
		return 0, false
	}
	var n uint64
	for _, d := range v {
		if d < '0' || d > '9' || n > (math.MaxUint64-uint64(d-'0'))/10 {
			return 0, false
		}
		n = n*10 + uint64(d-'0')
	}
	return n, true
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}
