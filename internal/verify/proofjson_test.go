package verify

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// proofAnswers are go-ethereum-shaped eth_getProof answers of the state
// fixture's accounts, with their slots.
func proofAnswers(t testing.TB) [][]byte {
	fix := newStateFixture(t)
	var out [][]byte
	for _, a := range []common.Address{fix.eoa, fix.contract, fix.absent} {
		raw, err := json.Marshal(fix.proof(t, a, fix.slots))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

// FuzzDecodeAccountPlain: whatever the one-pass decoder accepts,
// json.Unmarshal accepts too and decodes to the same result.
func FuzzDecodeAccountPlain(f *testing.F) {
	for _, raw := range proofAnswers(f) {
		f.Add(raw)
		var indented bytes.Buffer
		_ = json.Indent(&indented, raw, " ", "\t")
		f.Add(indented.Bytes())
		for _, edit := range [][2]string{
			{`"balance"`, `"Balance"`}, {`"nonce":"0x`, `"nonce":"0x\u0030`}, {`"codeHash"`, `"extra":1,"codeHash"`},
			{`"accountProof":[`, `"accountProof":null,"x":[`}, {`}`, `}}`}, {`"key":"`, `"key":"\xff`},
			{`"storageProof":[`, `"storageProof":[],"storageProof":[`}, {`]`, `,]`},
		} {
			f.Add(bytes.Replace(raw, []byte(edit[0]), []byte(edit[1]), 1))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := decodeAccountPlain(raw)
		if !ok {
			return
		}
		want, err := decodeAccountJSON(raw)
		if err != nil {
			t.Fatalf("one pass accepted what json.Unmarshal refuses (%v): %q", err, raw)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("one pass %+v, json.Unmarshal %+v, of %q", got, want, raw)
		}
	})
}

// TestDecodeAccountPlainTakesGeth: go-ethereum's answers take the one pass.
func TestDecodeAccountPlainTakesGeth(t *testing.T) {
	for i, raw := range proofAnswers(t) {
		if _, ok := decodeAccountPlain(raw); !ok {
			t.Errorf("answer %d: not decoded in one pass: %.200s", i, raw)
		}
	}
}

func BenchmarkDecodeAccountResult(b *testing.B) {
	raw := proofAnswers(b)[1]
	b.Run("one pass", func(b *testing.B) {
		for b.Loop() {
			if _, ok := decodeAccountPlain(raw); !ok {
				b.Fatal("not decoded")
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeAccountJSON(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestDecodeAccountPlainShapes: what the one pass takes and what it leaves
// to json.Unmarshal, member by member (each member once, no unknown name,
// no stray comma), at the top and inside a storage proof; what it takes
// decodes as json.Unmarshal decodes it.
func TestDecodeAccountPlainShapes(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		take bool
	}{
		{`{}`, true},
		{` { "nonce" : "0x1" , "accountProof" : [ ] } `, true},
		{`{"accountProof":["0x01","0x02"],"storageProof":[{},{"key":"0x1","value":"0x2","proof":[]}]}`, true},
		{`{"nonce":"0x1","nonce":"0x1"}`, false},
		{`{"nonce":"0x1","extra":"0x1"}`, false},
		{`{"nonce":"0x1",}`, false},
		{`{"nonce" "0x1"}`, false},
		{`{"accountProof":["0x01",]}`, false},
		{`{"accountProof":["0x01" "0x02"]}`, false},
		{`{"storageProof":[{"key":"0x1","key":"0x1"}]}`, false},
		{`{"storageProof":[{"slot":"0x1"}]}`, false},
		{`{"storageProof":[{"value":"0x1",}]}`, false},
		{`{"nonce":"0x1"}x`, false},
	} {
		got, ok := decodeAccountPlain([]byte(tc.raw))
		if ok != tc.take {
			t.Errorf("%s: one pass took it %v, want %v", tc.raw, ok, tc.take)
			continue
		}
		if !ok {
			continue
		}
		want, err := decodeAccountJSON([]byte(tc.raw))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: one pass %+v, json.Unmarshal %+v (%v)", tc.raw, got, want, err)
		}
	}
}
