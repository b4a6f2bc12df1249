package verify

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rlp"
)

// The fuzz targets below feed arbitrary bytes to every entry point that
// takes a provider's answer. Each must not panic and must never accept a
// value other than the true one: whatever it accepts is compared with what
// go-ethereum generated.

func FuzzVerifyAccountProof(f *testing.F) {
	fix := newStateFixture(f)
	type target struct {
		addr  common.Address
		slots []common.Hash
		truth *Account
	}
	var targets []target
	for _, a := range []common.Address{fix.eoa, fix.contract, fix.absent} {
		honest := fix.proof(f, a, fix.slots)
		raw, _ := json.Marshal(honest)
		acc, err := VerifyAccountProof(fix.root, a, fix.slots, clone(f, honest))
		if err != nil {
			f.Fatal(err)
		}
		targets = append(targets, target{a, fix.slots, acc})
		f.Add(uint8(len(targets)-1), raw)
		f.Add(uint8(len(targets)-1), bytes.Replace(raw, []byte(`"nonce":"0x`), []byte(`"nonce":"0x1`), 1))
	}
	f.Fuzz(func(t *testing.T, which uint8, raw []byte) {
		tg := targets[int(which)%len(targets)]
		res, err := DecodeAccountResult(raw)
		if err != nil {
			return
		}
		acc, err := VerifyAccountProof(fix.root, tg.addr, tg.slots, res)
		if err != nil {
			return
		}
		if acc.Balance.Cmp(tg.truth.Balance) != 0 || acc.Nonce != tg.truth.Nonce || acc.CodeHash != tg.truth.CodeHash ||
			acc.StorageRoot != tg.truth.StorageRoot || res.Balance.ToInt().Cmp(tg.truth.Balance) != 0 || uint64(res.Nonce) != tg.truth.Nonce {
			t.Fatalf("accepted a wrong account: %+v, truth %+v", acc, tg.truth)
		}
		for _, s := range tg.slots {
			if acc.Storage[s] != tg.truth.Storage[s] {
				t.Fatalf("accepted a wrong slot %s: %s, truth %s", s, acc.Storage[s], tg.truth.Storage[s])
			}
		}
	})
}

func FuzzVerifyHeader(f *testing.F) {
	fix := newChainFixture(f)
	want := fix.blocks[1].Header()
	wantRLP, _ := rlp.EncodeToBytes(want)
	f.Add([]byte(fix.blockJSON(f, 1, false)))
	f.Add([]byte(fix.blockJSON(f, 2, true)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = DecodeHeader(raw)
		h, err := VerifyHeader(raw, want.Hash())
		if err != nil {
			return
		}
		got, _ := rlp.EncodeToBytes(h)
		if !bytes.Equal(got, wantRLP) {
			t.Fatalf("accepted a header other than the trusted one")
		}
	})
}

func FuzzVerifyBlock(f *testing.F) {
	fix := newChainFixture(f)
	trusted := fix.blocks[1].Hash()
	honest := fix.blockJSON(f, 1, true)
	f.Add([]byte(honest))
	f.Add([]byte(fix.blockJSON(f, 1, false)))
	f.Add([]byte(fix.blockJSON(f, 2, true)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := VerifyBlock(raw, fix.config)
		if err != nil || b.Hash != trusted {
			return
		}
		if b.FullTransactions {
			out, err := b.JSON(true, fix.config)
			if err != nil || !sameJSON(out, honest) {
				t.Fatalf("accepted a block other than the true one: %v", err)
			}
		} else if b.MatchHashes(fix.verified(1)) == nil {
			out, _ := b.JSON(false, fix.config)
			want := edit(t, fix.blockJSON(t, 1, false), func(m map[string]any) { delete(m, "size") })
			if !sameJSON(out, want) {
				t.Fatalf("accepted a hashes-only block other than the true one")
			}
		}
	})
}

func FuzzVerifyBlockReceipts(f *testing.F) {
	fix := newChainFixture(f)
	block := fix.verified(1)
	honest := fix.receiptsJSON(f, 1)
	f.Add([]byte(honest))
	f.Add(bytes.Replace(honest, []byte(`"status":"0x1"`), []byte(`"status":"0x0"`), 1))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rs, err := VerifyBlockReceipts(raw, block, fix.config)
		if err != nil {
			return
		}
		out, err := rs.JSON()
		if err != nil || !sameJSON(out, honest) {
			t.Fatalf("accepted receipts other than the true ones: %v", err)
		}
		var items []json.RawMessage
		_ = json.Unmarshal(raw, &items)
		for i, it := range items {
			if one, err := VerifyReceipt(it, block.Transactions[i].Hash(), rs); err == nil {
				var want []json.RawMessage
				_ = json.Unmarshal(honest, &want)
				if !sameJSON(one, want[i]) {
					t.Fatalf("accepted a wrong receipt %d", i)
				}
			}
		}
	})
}

func FuzzVerifyTransaction(f *testing.F) {
	fix := newChainFixture(f)
	block := fix.verified(1)
	full, _ := block.JSON(true, fix.config)
	var obj struct{ Transactions []json.RawMessage }
	_ = json.Unmarshal(full, &obj)
	for i, tx := range obj.Transactions {
		f.Add(uint8(i), []byte(tx))
	}
	f.Fuzz(func(t *testing.T, which uint8, raw []byte) {
		i := int(which) % len(obj.Transactions)
		out, err := VerifyTransaction(raw, block.Transactions[i].Hash(), block, fix.config)
		if err == nil && !sameJSON(out, obj.Transactions[i]) {
			t.Fatalf("accepted a wrong transaction %d", i)
		}
	})
}

func FuzzVerifyLogs(f *testing.F) {
	fix := newChainFixture(f)
	rs, err := VerifyBlockReceipts(fix.receiptsJSON(f, 1), fix.verified(1), fix.config)
	if err != nil {
		f.Fatal(err)
	}
	filter := LogFilter{Addresses: []common.Address{fix.emitter}}
	derived := rs.Logs(filter)
	honest, _ := json.Marshal(derived)
	f.Add([]byte(honest), []byte(`{"address":"`+fix.emitter.Hex()+`"}`))
	f.Add([]byte(`[]`), []byte(`{"topics":[null,["0x01",null]]}`))
	f.Fuzz(func(t *testing.T, raw, filterJSON []byte) {
		if lf, err := DecodeLogFilter(filterJSON); err == nil {
			for _, l := range derived {
				_ = lf.Match(l)
			}
			_ = lf.MayMatch(fix.blocks[1].Bloom())
		}
		out, err := VerifyLogs(raw, derived)
		if err == nil && !sameJSON(out, honest) {
			t.Fatalf("accepted wrong logs")
		}
	})
}

func FuzzStateChecks(f *testing.F) {
	fix := newStateFixture(f)
	acc, err := VerifyAccountProof(fix.root, fix.contract, fix.slots, clone(f, fix.proof(f, fix.contract, fix.slots)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(acc.BalanceJSON()), "0x1")
	f.Add([]byte(`"0x0000000000000000000000000000000000000000000000000000000000001000"`), "0x1")
	f.Add([]byte(`"0x6080604052348015600f57600080fd5b50"`), "0x99")
	f.Fuzz(func(t *testing.T, raw []byte, key string) {
		if CheckBalance(raw, acc) == nil {
			var v hexutil.Big
			if json.Unmarshal(raw, &v) != nil || v.ToInt().Cmp(acc.Balance) != 0 {
				t.Fatalf("accepted a wrong balance %s", raw)
			}
		}
		if CheckNonce(raw, acc) == nil {
			var v hexutil.Uint64
			if json.Unmarshal(raw, &v) != nil || uint64(v) != acc.Nonce {
				t.Fatalf("accepted a wrong nonce %s", raw)
			}
		}
		if slot, err := DecodeStorageKey(key); err == nil && CheckStorageAt(raw, acc, slot) == nil {
			var v hexutil.Bytes
			if json.Unmarshal(raw, &v) != nil || common.BytesToHash(v) != acc.Storage[slot] {
				t.Fatalf("accepted a wrong storage value %s for %s", raw, slot)
			}
		}
		if code, err := DecodeCode(raw, acc); err == nil && !bytes.Equal(code, fix.code) {
			t.Fatalf("accepted wrong code")
		}
	})
}
