package bench

import (
	"bytes"
	"encoding/json"
)

// The trivial upstream reads requests with a small scanner instead of
// encoding/json, so that its own cost stays far below a gateway's: the
// message is validated once with json.Valid, and then the scanner only
// slices it, trusting it to be valid JSON.

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the valid JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && !isSpace(b[i]) {
		i++
	}
	return i
}

// forEachElement calls f with each element of the valid JSON array b.
func forEachElement(b []byte, f func(elem []byte)) {
	i := skipSpace(b, 0) + 1 // past '['
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] == ']' {
			return
		}
		end := skipValue(b, i)
		if end == i {
			return // not valid JSON after all; never loop in place
		}
		f(b[i:end])
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
}

// requestFields are the raw values of a request's members (nil when absent).
type requestFields struct {
	id, method, params []byte
}

// scanRequest slices the members of the valid JSON value b. ok is false when
// b is not an object, or names a member with an escape (which this scanner
// does not decode; decodeRequest handles those).
func scanRequest(b []byte) (f requestFields, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return f, false
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] == '}' {
			return f, true
		}
		if b[i] != '"' {
			return f, false // not valid JSON after all
		}
		keyEnd := skipString(b, i)
		if keyEnd-1 <= i {
			return f, false
		}
		key := b[i+1 : keyEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return f, false
		}
		i = skipSpace(b, keyEnd) + 1 // past ':'
		i = skipSpace(b, i)
		end := skipValue(b, i)
		if end == i {
			return f, false // not valid JSON after all; never loop in place
		}
		switch string(key) {
		case "id":
			f.id = b[i:end]
		case "method":
			f.method = b[i:end]
		case "params":
			f.params = b[i:end]
		}
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
}

// jsonString returns the text of a raw JSON string, decoding escapes only
// when there are any; ok is false when raw is not a string.
func jsonString(raw []byte) (s []byte, ok bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return nil, false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, true
	}
	var str string
	if json.Unmarshal(raw, &str) != nil {
		return nil, false
	}
	return []byte(str), true
}

// firstParam returns the first element of a raw params array, or nil.
func firstParam(params []byte) []byte {
	i := skipSpace(params, 0)
	if i >= len(params) || params[i] != '[' {
		return nil
	}
	i = skipSpace(params, i+1)
	if i >= len(params) || params[i] == ']' {
		return nil
	}
	return params[i:skipValue(params, i)]
}
