package jsonrpc

import (
	"encoding/json"
	"strings"
	"testing"
)

func BenchmarkDecodeSingle(b *testing.B) {
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x407d73d8a49eeb85d32cf465507dd71d507100c1","latest"]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBatch100(b *testing.B) {
	item := `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x407d73d8a49eeb85d32cf465507dd71d507100c1","latest"]}`
	body := []byte("[" + strings.TrimSuffix(strings.Repeat(item+",", 100), ",") + "]")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, _, err := Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeBatch100(b *testing.B) {
	rs := make([]Response, 100)
	for i := range rs {
		rs[i] = NewResult(json.RawMessage(`1`), json.RawMessage(`"0x1bc16d674ec80000"`))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = EncodeBatch(rs, true)
	}
}

func BenchmarkEncodeSingle(b *testing.B) {
	r := []Response{NewResult(json.RawMessage(`1`), json.RawMessage(`"0xde0b6b3a7640000"`))}
	b.ReportAllocs()
	for b.Loop() {
		_ = EncodeBatch(r, false)
	}
}

func BenchmarkParamsArray(b *testing.B) {
	params := json.RawMessage(`["0x407d73d8a49eeb85d32cf465507dd71d507100c1","latest"]`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParamsArray(params); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanResponses measures splitting a provider's answer to a batch
// of ten into each answer's members.
func BenchmarkScanResponses(b *testing.B) {
	item := `{"jsonrpc":"2.0","id":1,"result":"0x1bc16d674ec80000"}`
	body := []byte("[" + strings.TrimSuffix(strings.Repeat(item+",", 10), ",") + "]")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, ok := ScanResponses(body); !ok {
			b.Fatal("not scanned")
		}
	}
}

// BenchmarkEncodeParams measures rebuilding a params array (the block-tag
// stage does it for every call with a block param).
func BenchmarkEncodeParams(b *testing.B) {
	items := []json.RawMessage{json.RawMessage(`"0x407d73d8a49eeb85d32cf465507dd71d507100c1"`), json.RawMessage(`"0x1b4"`)}
	b.ReportAllocs()
	for b.Loop() {
		_ = EncodeParams(items)
	}
}
