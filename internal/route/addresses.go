package route

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
)

// address is a 20-byte account address, the key the privacy policy keeps.
type address [20]byte

// maxCallAddresses bounds the addresses one call may name for the privacy
// policy (an eth_getLogs filter may list many): the rest are not tracked.
const maxCallAddresses = 16

// callAddresses returns the account addresses a call reveals to the
// provider that serves it, in the order they appear: the account of a state
// read, eth_call's to and from, an eth_getLogs filter's address. Params the
// method does not take, or that do not parse, name none (the node will
// refuse them). Writes are broadcast to every operator and name none here.
func callAddresses(method string, params json.RawMessage) []address {
	switch method {
	case "eth_getBalance", "eth_getCode", "eth_getTransactionCount", "eth_getStorageAt", "eth_getProof":
		if a, ok := leadingAddress(params); ok {
			return []address{a} // the usual form, read without decoding the params
		}
		ps := splitArray(params)
		if len(ps) == 0 {
			return nil
		}
		if a, ok := parseAddress(ps[0]); ok {
			return []address{a}
		}
	case "eth_call", "eth_estimateGas", "eth_createAccessList", "debug_traceCall":
		ps := splitArray(params)
		if len(ps) == 0 {
			return nil
		}
		var tx struct {
			To   json.RawMessage `json:"to"`
			From json.RawMessage `json:"from"`
		}
		if json.Unmarshal(ps[0], &tx) != nil {
			return nil
		}
		var out []address
		for _, raw := range []json.RawMessage{tx.To, tx.From} {
			if a, ok := parseAddress(raw); ok {
				out = appendAddress(out, a)
			}
		}
		return out
	case "eth_getLogs":
		ps := splitArray(params)
		if len(ps) == 0 {
			return nil
		}
		var f struct {
			Address json.RawMessage `json:"address"`
		}
		if json.Unmarshal(ps[0], &f) != nil || len(f.Address) == 0 {
			return nil
		}
		if a, ok := parseAddress(f.Address); ok {
			return []address{a}
		}
		var list []json.RawMessage
		if json.Unmarshal(f.Address, &list) != nil {
			return nil
		}
		var out []address
		for _, raw := range list {
			if a, ok := parseAddress(raw); ok && len(out) < maxCallAddresses {
				out = appendAddress(out, a)
			}
		}
		return out
	}
	return nil
}

// leadingAddress reads params that start with `["0x` and 40 hex digits`"`
// followed by a comma or the array's end.
func leadingAddress(params json.RawMessage) (address, bool) {
	s := bytes.TrimLeft(params, jsonSpace)
	if len(s) < 45 || s[0] != '[' {
		return address{}, false
	}
	s = bytes.TrimLeft(s[1:], jsonSpace)
	if len(s) < 45 {
		return address{}, false
	}
	if rest := bytes.TrimLeft(s[44:], jsonSpace); len(rest) == 0 || (rest[0] != ',' && rest[0] != ']') {
		return address{}, false
	}
	return parseAddress(s[:44])
}

// jsonSpace is JSON's white space.
const jsonSpace = " \t\r\n"

// splitArray returns the elements of a JSON array, or nil.
func splitArray(params json.RawMessage) []json.RawMessage {
	var ps []json.RawMessage
	if json.Unmarshal(params, &ps) != nil {
		return nil
	}
	return ps
}

// parseAddress reads a JSON string "0x" and 40 hex digits (either case).
func parseAddress(raw json.RawMessage) (address, bool) {
	var a address
	s := bytes.Trim(raw, jsonSpace)
	if len(s) != 44 || s[0] != '"' || s[43] != '"' || s[1] != '0' || (s[2] != 'x' && s[2] != 'X') {
		return a, false
	}
	if _, err := hex.Decode(a[:], s[3:43]); err != nil {
		return a, false
	}
	return a, true
}

// appendAddress appends a to out unless out has it.
func appendAddress(out []address, a address) []address {
	for _, x := range out {
		if x == a {
			return out
		}
	}
	return append(out, a)
}
