package jsonrpc

import (
	"bytes"
	"encoding/json"
	"strings"
)

// The functions below split JSON that is already known to be valid (the
// body passed json.Valid) without reflection: they only find where values
// begin and end. On anything unexpected they report !ok and the caller
// falls back to encoding/json, so behaviour never depends on them.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// valueEnd returns the index just past the JSON value starting at b[i]
// (b[i] is not whitespace), or -1.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := stringEnd(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) && !isSpace(b[j]) && b[j] != ',' && b[j] != ']' && b[j] != '}' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// PrefixValueEnd is valueEnd for b that may be only the beginning of a
// document (an answer read up to a size limit): -1 when b ends before the
// value does, including a number, true, false or null that runs to the end
// of b, which may go on.
func PrefixValueEnd(b []byte, i int) int {
	e := valueEnd(b, i)
	if e == len(b) && b[i] != '"' && b[i] != '{' && b[i] != '[' {
		return -1
	}
	return e
}

// stringEnd returns the index just past the string starting at b[i] == '"'.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// splitArray returns the elements of the valid JSON array b.
func splitArray(b []byte) ([]json.RawMessage, bool) {
	return appendArray(make([]json.RawMessage, 0, 4), b)
}

// appendArray appends the elements of the valid JSON array b to out.
func appendArray(out []json.RawMessage, b []byte) ([]json.RawMessage, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return out, skipSpace(b, i+1) == len(b)
	}
	for {
		e := valueEnd(b, i)
		if e < 0 {
			return nil, false
		}
		out = append(out, json.RawMessage(b[i:e:e]))
		i = skipSpace(b, e)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return out, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

// scanRequest fills w from the valid JSON object b as json.Unmarshal would,
// for objects whose member names are plain: any escaped name, or a name
// that matches a field only case-insensitively, reports !ok.
func scanRequest(b []byte, w *wireRequest) bool {
	return scanObject(b, func(key []byte, v json.RawMessage) bool {
		switch string(key) {
		case "jsonrpc":
			w.Version = v
		case "id":
			w.ID = v
		case "method":
			w.Method = v
		case "params":
			w.Params = v
		default:
			return !foldsTo(key, "jsonrpc", "id", "method", "params")
		}
		return true
	})
}

// foldsTo reports whether key, not one of names, matches one of them
// case-insensitively, as encoding/json matches member names: a scan cannot
// then say which member json.Unmarshal would keep.
func foldsTo(key []byte, names ...string) bool {
	for _, f := range names {
		if strings.EqualFold(string(key), f) {
			return true
		}
	}
	return false
}

// scanObject calls member for each member of the valid JSON object b, in
// order; member returns false to give up. Escaped names report !ok.
func scanObject(b []byte, member func(key []byte, v json.RawMessage) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		ke := stringEnd(b, i)
		if ke < 0 {
			return false
		}
		key := b[i+1 : ke-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return false
		}
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		e := valueEnd(b, i)
		if e < 0 || !member(key, json.RawMessage(b[i:e:e])) {
			return false
		}
		i = skipSpace(b, e)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

// plainString returns the contents of the JSON string s when it has no
// escapes. A common method name or block tag is returned without copying.
func plainString(s []byte) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' || bytes.IndexByte(s, '\\') >= 0 {
		return "", false
	}
	if c, ok := common[string(s[1:len(s)-1])]; ok { // this lookup does not allocate
		return c, true
	}
	return string(s[1 : len(s)-1]), true
}

// common holds the strings every request decodes (method names, block
// tags), so that decoding them allocates nothing. Read-only after init.
var common = func() map[string]string {
	m := make(map[string]string)
	for _, s := range []string{
		"latest", "pending", "safe", "finalized", "earliest",
		"eth_blockNumber", "eth_chainId", "eth_gasPrice", "eth_maxPriorityFeePerGas", "eth_feeHistory",
		"eth_getBalance", "eth_getCode", "eth_getTransactionCount", "eth_getStorageAt", "eth_getProof",
		"eth_call", "eth_estimateGas", "eth_createAccessList", "eth_getLogs",
		"eth_getBlockByNumber", "eth_getBlockByHash", "eth_getBlockReceipts",
		"eth_getTransactionByHash", "eth_getTransactionReceipt", "eth_sendRawTransaction",
		"eth_subscribe", "eth_unsubscribe", "eth_syncing", "net_version", "web3_clientVersion",
	} {
		m[s] = s
	}
	return m
}()

// StringValue decodes raw as json.Unmarshal into a string would (null
// gives ""), quickly when raw is a string without escapes. ok is false when
// Unmarshal would fail.
func StringValue(raw json.RawMessage) (string, bool) {
	if s, ok := plainString(bytes.TrimSpace(raw)); ok {
		return s, true
	}
	var s string // declared here: only this path allocates it
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// ResponseMembers are the raw members of one response object.
type ResponseMembers struct {
	ID, Result, Error json.RawMessage
}

// ScanResponse splits one response object into its members as
// json.Unmarshal into raw fields would. ok is false when b is not valid
// JSON or not an object the fast path can read; callers then decode with
// encoding/json.
func ScanResponse(b []byte) (m ResponseMembers, ok bool) {
	if !json.Valid(b) {
		return m, false
	}
	return scanResponse(b)
}

// ScanResponses splits a batch answer, an array of response objects, into
// each response's members, validating the JSON once. ok is false when b is
// not valid JSON, not an array, or holds an item ScanResponse would refuse;
// callers then decode with encoding/json.
func ScanResponses(b []byte) ([]ResponseMembers, bool) {
	items, ok := SplitArray(b)
	if !ok {
		return nil, false
	}
	out := make([]ResponseMembers, len(items))
	for i, it := range items {
		if out[i], ok = scanResponse(it); !ok {
			return nil, false
		}
	}
	return out, true
}

// scanResponse is ScanResponse for b known to be valid JSON.
func scanResponse(b []byte) (m ResponseMembers, ok bool) {
	return m, scanObject(b, func(key []byte, v json.RawMessage) bool {
		switch string(key) {
		case "id":
			m.ID = v
		case "result":
			m.Result = v
		case "error":
			m.Error = v
		default:
			return !foldsTo(key, "id", "result", "error")
		}
		return true
	})
}

// SplitArray returns the elements of a JSON array; ok is false when b is
// not valid JSON or not an array.
func SplitArray(b []byte) ([]json.RawMessage, bool) {
	if !json.Valid(b) {
		return nil, false
	}
	return splitArray(b)
}
