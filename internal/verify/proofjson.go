package verify

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/common/hexutil"
)

// decodeAccountPlain decodes the usual shape of an eth_getProof answer in
// one pass: an object of AccountResult's members, each once, spelt as
// go-ethereum spells them, their values strings without escapes (and
// arrays of them, and storage proofs of the same shape). json.Unmarshal
// first scans the whole answer to validate it and then scans it again to
// decode; for a proof of a few KB of hex that was a sixth of a proven
// read's CPU. ok is false for anything else (escapes, other spellings,
// null, numbers, a value that does not decode); the caller then decodes
// with json.Unmarshal, so the answer is always json.Unmarshal's: what this
// accepts is valid JSON, and each value is decoded by the same
// UnmarshalJSON method json.Unmarshal calls (FuzzDecodeAccountPlain
// compares the two).
func decodeAccountPlain(raw []byte) (*AccountResult, bool) {
	var res AccountResult
	p := plainScan{b: raw}
	ok := p.fields(func(key []byte) (uint8, bool) {
		switch string(key) {
		case "address":
			return 1, p.value(res.Address.UnmarshalJSON)
		case "accountProof":
			return 2, p.hexList(&res.AccountProof)
		case "balance":
			res.Balance = new(hexutil.Big)
			return 4, p.value(res.Balance.UnmarshalJSON)
		case "codeHash":
			return 8, p.value(res.CodeHash.UnmarshalJSON)
		case "nonce":
			return 16, p.value(res.Nonce.UnmarshalJSON)
		case "storageHash":
			return 32, p.value(res.StorageHash.UnmarshalJSON)
		case "storageProof":
			return 64, p.storageProofs(&res.StorageProof)
		}
		return 0, false
	})
	p.space()
	if !ok || p.i != len(p.b) {
		return nil, false
	}
	return &res, true
}

// plainScan reads the plain JSON decodeAccountPlain takes.
type plainScan struct {
	b []byte
	i int
}

// space skips JSON whitespace.
func (p *plainScan) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next skips whitespace and takes c if it is next.
func (p *plainScan) next(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string without escapes or control characters and returns it
// with its quotes.
func (p *plainScan) str() ([]byte, bool) {
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	end := bytes.IndexByte(p.b[p.i+1:], '"')
	if end < 0 {
		return nil, false
	}
	s := p.b[p.i : p.i+end+2]
	for _, c := range s[1 : len(s)-1] {
		if c == '\\' || c < 0x20 {
			return nil, false
		}
	}
	p.i += end + 2
	return s, true
}

// value reads a string and decodes it, quotes included, with dec.
func (p *plainScan) value(dec func([]byte) error) bool {
	s, ok := p.str()
	return ok && dec(s) == nil
}

// fields reads an object each of whose members may stand once: field
// reads the value of the member named key (unquoted) and returns the
// member's own bit (0 for a name it does not take) and whether the value
// decoded.
func (p *plainScan) fields(field func(key []byte) (bit uint8, ok bool)) bool {
	var seen uint8
	return p.items('{', '}', func() bool {
		key, ok := p.str()
		if !ok || !p.next(':') {
			return false
		}
		bit, ok := field(key[1 : len(key)-1])
		if !ok || bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

// list reads an array, each element by elem.
func (p *plainScan) list(elem func() bool) bool { return p.items('[', ']', elem) }

// items reads start, elements separated by commas, each read by elem, and
// end.
func (p *plainScan) items(start, end byte, elem func() bool) bool {
	if !p.next(start) {
		return false
	}
	if p.next(end) {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if p.next(end) {
			return true
		}
		if !p.next(',') {
			return false
		}
	}
}

// hexList reads an array of hex strings into *out (empty, not nil, for []).
func (p *plainScan) hexList(out *[]hexutil.Bytes) bool {
	list := make([]hexutil.Bytes, 0, 8)
	ok := p.list(func() bool {
		var b hexutil.Bytes
		if !p.value(b.UnmarshalJSON) {
			return false
		}
		list = append(list, b)
		return true
	})
	*out = list
	return ok
}

// storageProofs reads the storageProof array.
func (p *plainScan) storageProofs(out *[]StorageResult) bool {
	list := []StorageResult{}
	ok := p.list(func() bool {
		var sr StorageResult
		ok := p.fields(func(key []byte) (uint8, bool) {
			switch string(key) {
			case "key":
				s, ok := p.str()
				ok = ok && utf8.Valid(s) // json.Unmarshal would replace invalid UTF-8
				if ok {
					sr.Key = string(s[1 : len(s)-1])
				}
				return 1, ok
			case "value":
				sr.Value = new(hexutil.Big)
				return 2, p.value(sr.Value.UnmarshalJSON)
			case "proof":
				return 4, p.hexList(&sr.Proof)
			}
			return 0, false
		})
		list = append(list, sr)
		return ok
	})
	*out = list
	return ok
}

// decodeAccountJSON is json.Unmarshal of an eth_getProof answer.
func decodeAccountJSON(raw []byte) (*AccountResult, error) {
	var res AccountResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
