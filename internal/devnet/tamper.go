package devnet

import (
	"encoding/json"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// liar rewrites answers the way a dishonest or broken provider would. Each
// lie yields a value that is valid JSON-RPC and plausible, but wrong.
type liar struct {
	what   map[string]bool
	offset int64
}

func newLiar(p LieParams) *liar {
	l := &liar{what: map[string]bool{}, offset: p.BlockNumberOffset}
	for _, w := range p.What {
		l.what[w] = true
	}
	return l
}

// result tampers with the result of method, returning the new result and
// whether anything changed.
func (l *liar) result(method string, result json.RawMessage) (json.RawMessage, bool) {
	if len(result) == 0 || string(result) == "null" {
		return result, false
	}
	switch method {
	case "eth_getBalance":
		if l.what[LieBalance] {
			return l.quantity(result, wrongBalance)
		}
	case "eth_getTransactionCount":
		if l.what[LieNonce] {
			return l.quantity(result, func(v *big.Int) *big.Int { return v.Add(v, big.NewInt(7)) })
		}
	case "eth_getCode":
		if l.what[LieCode] {
			var code hexutil.Bytes
			if json.Unmarshal(result, &code) != nil {
				return result, false
			}
			if len(code) == 0 {
				code = hexutil.Bytes{0x60, 0x80, 0x60, 0x40, 0x52}
			} else {
				code = hexutil.Bytes{}
			}
			return mustJSON(code), true
		}
	case "eth_getStorageAt":
		if l.what[LieStorage] {
			return flipWord(result)
		}
	case "eth_getProof":
		if l.what[LieProof] {
			return l.proof(result)
		}
	case "eth_getTransactionReceipt":
		if l.what[LieReceipt] {
			return l.receipt(result)
		}
	case "eth_getBlockReceipts":
		if l.what[LieReceipt] {
			return l.eachObject(result, l.receipt)
		}
	case "eth_getLogs", "eth_getFilterLogs", "eth_getFilterChanges":
		if l.what[LieLog] {
			return l.eachObject(result, l.log)
		}
	case "eth_blockNumber":
		if l.what[LieBlockNumber] {
			return l.quantity(result, func(v *big.Int) *big.Int { return v.Add(v, big.NewInt(l.offset)) })
		}
	case "eth_getBlockByNumber", "eth_getBlockByHash", "eth_getHeaderByNumber", "eth_getHeaderByHash":
		return l.block(result)
	}
	return result, false
}

// notification tampers with a subscription notification's result, given the
// subscription's kind ("newHeads", "logs").
func (l *liar) notification(kind string, result json.RawMessage) (json.RawMessage, bool) {
	switch kind {
	case "newHeads":
		return l.block(result)
	case "logs":
		if l.what[LieLog] {
			return l.log(result)
		}
	}
	return result, false
}

// wrongBalance turns a balance into a wrong one: a funded account shows zero
// (what wallets showed during real outages), an empty one shows 1 ether.
func wrongBalance(v *big.Int) *big.Int {
	if v.Sign() != 0 {
		return new(big.Int)
	}
	return big.NewInt(1e18)
}

func (l *liar) quantity(result json.RawMessage, f func(*big.Int) *big.Int) (json.RawMessage, bool) {
	var q hexutil.Big
	if json.Unmarshal(result, &q) != nil {
		return result, false
	}
	v := f((*big.Int)(&q))
	if v.Sign() < 0 {
		v = new(big.Int)
	}
	return mustJSON((*hexutil.Big)(v)), true
}

// flipWord changes the last bit of a 32-byte hex word.
func flipWord(result json.RawMessage) (json.RawMessage, bool) {
	var h hexutil.Bytes
	if json.Unmarshal(result, &h) != nil || len(h) == 0 {
		return result, false
	}
	h[len(h)-1] ^= 1
	return mustJSON(h), true
}

func (l *liar) eachObject(result json.RawMessage, f func(json.RawMessage) (json.RawMessage, bool)) (json.RawMessage, bool) {
	var items []json.RawMessage
	if json.Unmarshal(result, &items) != nil {
		return result, false
	}
	changed := false
	for i, it := range items {
		if v, ok := f(it); ok {
			items[i], changed = v, true
		}
	}
	if !changed {
		return result, false
	}
	return mustJSON(items), true
}

func (l *liar) object(result json.RawMessage, f func(map[string]json.RawMessage) bool) (json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(result, &m) != nil || m == nil {
		return result, false
	}
	if !f(m) {
		return result, false
	}
	return mustJSON(m), true
}

// proof keeps the Merkle proof nodes but claims other values, so the claim no
// longer matches the proof.
func (l *liar) proof(result json.RawMessage) (json.RawMessage, bool) {
	return l.object(result, func(m map[string]json.RawMessage) bool {
		changed := false
		if v, ok := l.quantity(m["balance"], wrongBalance); ok {
			m["balance"], changed = v, true
		}
		if v, ok := l.eachObject(m["storageProof"], func(sp json.RawMessage) (json.RawMessage, bool) {
			return l.object(sp, func(s map[string]json.RawMessage) bool {
				v, ok := l.quantity(s["value"], func(x *big.Int) *big.Int { return x.Add(x, big.NewInt(1)) })
				s["value"] = v
				return ok
			})
		}); ok {
			m["storageProof"], changed = v, true
		}
		return changed
	})
}

// receipt flips the status and tampers with the logs' data.
func (l *liar) receipt(result json.RawMessage) (json.RawMessage, bool) {
	return l.object(result, func(m map[string]json.RawMessage) bool {
		switch strings.Trim(string(m["status"]), `"`) {
		case "0x1":
			m["status"] = json.RawMessage(`"0x0"`)
		default:
			m["status"] = json.RawMessage(`"0x1"`)
		}
		if v, ok := l.eachObject(m["logs"], l.log); ok {
			m["logs"] = v
		}
		return true
	})
}

// log changes a log's data, keeping its shape.
func (l *liar) log(result json.RawMessage) (json.RawMessage, bool) {
	return l.object(result, func(m map[string]json.RawMessage) bool {
		var data hexutil.Bytes
		if json.Unmarshal(m["data"], &data) != nil {
			return false
		}
		if len(data) == 0 {
			data = hexutil.Bytes{0x01}
		} else {
			data[len(data)-1] ^= 0xff
		}
		m["data"] = mustJSON(data)
		return true
	})
}

// block tampers with a block or header object's hash and/or number.
func (l *liar) block(result json.RawMessage) (json.RawMessage, bool) {
	if !l.what[LieBlockHash] && !l.what[LieBlockNumber] {
		return result, false
	}
	return l.object(result, func(m map[string]json.RawMessage) bool {
		changed := false
		if l.what[LieBlockHash] {
			var h common.Hash
			if json.Unmarshal(m["hash"], &h) == nil {
				m["hash"], changed = mustJSON(crypto.Keccak256Hash(h[:])), true
			}
		}
		if l.what[LieBlockNumber] {
			if v, ok := l.quantity(m["number"], func(v *big.Int) *big.Int { return v.Add(v, big.NewInt(l.offset)) }); ok {
				m["number"], changed = v, true
			}
		}
		return changed
	})
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called on values that always encode
	}
	return b
}
