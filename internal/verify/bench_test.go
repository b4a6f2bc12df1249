package verify

import (
	"encoding/json"
	"testing"
)

func BenchmarkVerifyAccountProof(b *testing.B) {
	f := newStateFixture(b)
	raw, _ := json.Marshal(f.proof(b, f.contract, f.slots[:2]))
	b.ReportAllocs()
	for b.Loop() {
		res, err := DecodeAccountResult(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := VerifyAccountProof(f.root, f.contract, f.slots[:2], res); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyHeader(b *testing.B) {
	f := newChainFixture(b)
	raw, want := f.blockJSON(b, 1, false), f.blocks[1].Hash()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyHeader(raw, want); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyBlockFull(b *testing.B) {
	f := newChainFixture(b)
	raw := f.blockJSON(b, 1, true)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyBlock(raw, f.config); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyBlockReceipts(b *testing.B) {
	f := newChainFixture(b)
	raw, block := f.receiptsJSON(b, 1), f.verified(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyBlockReceipts(raw, block, f.config); err != nil {
			b.Fatal(err)
		}
	}
}
