package transport

import (
	"encoding/json"
	"testing"
)

func TestAnswerID(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		ids  []uint64 // the ids found, in order, for a batch every element's
		ok   []bool
	}{
		{"object", `{"jsonrpc":"2.0","id":42,"result":"0x1"}`, []uint64{42}, []bool{true}},
		{"id last", `{"jsonrpc":"2.0","result":{"id":7,"a":[1,"]"]},"id":43}`, []uint64{43}, []bool{true}},
		{"spaces", " { \"id\" : 44 , \"result\" : null } ", []uint64{44}, []bool{true}},
		{"batch", `[{"jsonrpc":"2.0","id":5,"result":"a"}, {"id":6,"result":"b"} ,{"id":7,"result":"c"}]`, []uint64{5, 6, 7}, []bool{true, true, true}},
		{"batch of one", `[{"id":8,"error":{"code":-32600,"message":"batch too large"}}]`, []uint64{8}, []bool{true}},
		{"null id", `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}`, []uint64{0}, []bool{false}},
		{"string id", `{"id":"9","result":1}`, []uint64{0}, []bool{false}},
		{"negative id", `{"id":-9,"result":1}`, []uint64{0}, []bool{false}},
		{"huge id", `{"id":184467440737095516160,"result":1}`, []uint64{0}, []bool{false}},
		{"notification", `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x1","result":{}}}`, []uint64{0}, []bool{false}},
		{"prefix with id", `{"jsonrpc":"2.0","id":10,"result":"xxxxxxx`, []uint64{10}, []bool{true}},
		{"prefix cut in the id", `{"jsonrpc":"2.0","id":10`, []uint64{0}, []bool{false}},
		{"prefix without id", `{"jsonrpc":"2.0","result":"xxxxxxx`, []uint64{0}, []bool{false}},
		{"not json", `hello`, []uint64{0}, []bool{false}},
		{"empty", ``, []uint64{0}, []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := []byte(tt.msg)
			pos := 0
			for i := range tt.ids {
				id, next, ok := answerID(msg, pos)
				if id != tt.ids[i] || ok != tt.ok[i] {
					t.Fatalf("answer %d: id %d, ok %v; want %d, %v", i, id, ok, tt.ids[i], tt.ok[i])
				}
				if last := i == len(tt.ids)-1; last != (next < 0) {
					t.Fatalf("answer %d: next %d", i, next)
				}
				pos = next
			}
		})
	}
}

// FuzzAnswerID: the scan of outside input never panics, always moves on
// through a batch, and finds the id of a plain answer object.
func FuzzAnswerID(f *testing.F) {
	for _, s := range []string{`{"id":1,"result":2}`, `[{"id":1},{"id":2}]`, `{"a":"\"}","id":3}`, `[`, `{"id":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		for pos, n := 0, 0; pos >= 0; n++ {
			if n > len(msg)+1 {
				t.Fatalf("no end to the elements of %q", msg)
			}
			_, next, _ := answerID(msg, pos)
			if next >= 0 && next <= pos {
				t.Fatalf("next %d after %d in %q", next, pos, msg)
			}
			pos = next
		}
		// The answer object as a provider writes it, with msg as its result.
		if !json.Valid(msg) {
			return
		}
		obj := []byte(`{"jsonrpc":"2.0","result":` + string(msg) + `,"id":12345}`)
		if id, _, ok := answerID(obj, 0); !ok || id != 12345 {
			t.Fatalf("id %d, %v in %q", id, ok, obj)
		}
	})
}
