package devnet

import (
	"bytes"
	"encoding/json"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// rpcMsg is the part of a JSON-RPC message the fault proxy looks at. Params
// and results stay raw: the proxy rewrites only what a fault asks for.
type rpcMsg struct {
	JSONRPC string          `json:"jsonrpc,omitempty"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// parseMsgs parses a single message or a batch.
func parseMsgs(body []byte) (msgs []*rpcMsg, batch bool, ok bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, false, false
	}
	if body[0] == '[' {
		if err := json.Unmarshal(body, &msgs); err != nil || len(msgs) == 0 {
			return nil, true, false
		}
		for _, m := range msgs {
			if m == nil {
				return nil, true, false
			}
		}
		return msgs, true, true
	}
	var m rpcMsg
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, false, false
	}
	return []*rpcMsg{&m}, false, true
}

// encodeMsgs encodes messages as a batch or a single message.
func encodeMsgs(msgs []*rpcMsg, batch bool) []byte {
	if batch {
		return mustJSON(msgs)
	}
	if len(msgs) == 0 {
		return nil
	}
	return mustJSON(msgs[0])
}

func isNotification(m *rpcMsg) bool { return len(m.ID) == 0 }

func errorReply(id json.RawMessage, code int, msg string) *rpcMsg {
	return &rpcMsg{JSONRPC: "2.0", ID: id, Error: &rpcError{Code: code, Message: msg}}
}

// censoredReply answers eth_sendRawTransaction the way a censoring node does:
// success, with the right hash, and nothing sent anywhere. It returns false
// when the transaction does not decode (the node then answers for itself).
func censoredReply(m *rpcMsg) (*rpcMsg, bool) {
	var params []hexutil.Bytes
	if json.Unmarshal(m.Params, &params) != nil || len(params) != 1 {
		return nil, false
	}
	var tx types.Transaction
	if tx.UnmarshalBinary(params[0]) != nil {
		return nil, false
	}
	return &rpcMsg{JSONRPC: "2.0", ID: m.ID, Result: mustJSON(tx.Hash())}, true
}

// idKey makes a map key of a JSON-RPC id.
func idKey(id json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, id) != nil {
		return string(id)
	}
	return buf.String()
}
