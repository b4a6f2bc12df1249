package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

func TestLinkedTrust(t *testing.T) {
	f := newChainFixture(t)
	byHash := map[common.Hash]json.RawMessage{}
	for i, b := range f.blocks {
		byHash[b.Hash()] = f.blockJSON(t, i, false)
	}
	var fetches atomic.Int32
	lie := false
	fetch := func(_ context.Context, h common.Hash, _ uint64) (json.RawMessage, error) {
		fetches.Add(1)
		raw, ok := byHash[h]
		if !ok {
			return nil, fmt.Errorf("unknown block")
		}
		if lie {
			return edit(t, raw, func(m map[string]any) { m["gasUsed"] = "0x1" }), nil
		}
		return raw, nil
	}
	top := f.blocks[len(f.blocks)-1]
	anchor := func() (uint64, common.Hash, bool) { return top.NumberU64(), top.Hash(), true }
	tr := NewLinkedTrust(anchor, fetch, 64, 128)
	ctx := context.Background()
	for _, b := range f.blocks {
		h, err := tr.HeaderByNumber(ctx, b.NumberU64())
		if err != nil || h.Hash() != b.Hash() {
			t.Fatalf("header %d: %v", b.NumberU64(), err)
		}
	}
	if n := fetches.Load(); n != int32(len(f.blocks)) {
		t.Fatalf("%d fetches for %d headers: cache not used", n, len(f.blocks))
	}
	if _, err := tr.HeaderByNumber(ctx, top.NumberU64()+1); !errors.Is(err, ErrAboveHead) {
		t.Fatalf("above the head: %v", err)
	}
	short := NewLinkedTrust(anchor, fetch, 1, 16)
	if _, err := short.HeaderByNumber(ctx, 1); !errors.Is(err, ErrNoTrust) {
		t.Fatalf("beyond the walk limit: %v", err)
	}
	lie = true
	liar := NewLinkedTrust(anchor, fetch, 64, 16)
	if _, err := liar.HeaderByNumber(ctx, 2); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("lying fetcher: %v", err)
	}
	none := NewLinkedTrust(func() (uint64, common.Hash, bool) { return 0, common.Hash{}, false }, fetch, 64, 16)
	if _, err := none.HeaderByNumber(ctx, 0); !errors.Is(err, ErrNoTrust) {
		t.Fatalf("no anchor: %v", err)
	}
	st := NewStaticTrust(f.blocks[0].Header())
	if h, err := st.HeaderByHash(ctx, f.blocks[0].Hash()); err != nil || h.Number.Uint64() != 1 {
		t.Fatalf("static: %v", err)
	}
	if _, err := st.HeaderByNumber(ctx, 2); !errors.Is(err, ErrNoTrust) {
		t.Fatalf("static unknown: %v", err)
	}
}

func TestEvidenceLog(t *testing.T) {
	l := NewEvidenceLog(3)
	if got := l.Recent(0); len(got) != 0 {
		t.Fatalf("empty log: %v", got)
	}
	for i := range 5 {
		e := NewEvidence(fmt.Sprintf("p%d", i), "eth_getBalance", json.RawMessage(`["0x1","0x2"]`), json.RawMessage(`"0x0"`), mismatch("balance", "0x0", "0x1"))
		l.Record(e)
		if i == 1 {
			if got := l.Recent(0); len(got) != 2 || got[0].Provider != "p1" || got[1].Provider != "p0" {
				t.Fatalf("partial ring: %+v", got)
			}
		}
	}
	got := l.Recent(0)
	if len(got) != 3 || got[0].Provider != "p4" || got[2].Provider != "p2" || l.Total() != 5 {
		t.Fatalf("ring: %+v total %d", got, l.Total())
	}
	if got[0].Kind != "value_mismatch" {
		t.Fatalf("kind %q", got[0].Kind)
	}
	var buf bytes.Buffer
	if err := l.WriteJSON(&buf, 2); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Total    int
		Evidence []Evidence
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || doc.Total != 5 || len(doc.Evidence) != 2 {
		t.Fatalf("export %s: %v", buf.String(), err)
	}
	big := NewEvidence("p", "m", bytes.Repeat([]byte("x"), 5000), bytes.Repeat([]byte("y"), 5000), nil)
	if len(big.Answer) > maxEvidenceAnswer+8 || len(big.Params) > maxEvidenceParams+16 || !json.Valid(big.Params) {
		t.Fatalf("evidence not bounded: %d %d", len(big.Answer), len(big.Params))
	}
	if time.Since(big.Time) > time.Minute {
		t.Fatal("time not set")
	}
}

func TestEvidenceLogHTTP(t *testing.T) {
	l := NewEvidenceLog(10)
	for i := range 5 {
		l.Record(Evidence{Provider: fmt.Sprint(i), Kind: "bad_proof"})
	}
	rec := httptest.NewRecorder()
	l.ServeHTTP(rec, httptest.NewRequest("GET", "/evidence?limit=2", nil))
	var doc struct {
		Total    int
		Kept     int
		Evidence []Evidence
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc.Total != 5 || doc.Kept != 2 || doc.Evidence[0].Provider != "4" {
		t.Fatalf("%s: %v", rec.Body, err)
	}
	if rec.Header().Get("Content-Type") != "application/json" {
		t.Fatal("content type")
	}
}

func TestEvidenceLogConcurrent(t *testing.T) {
	l := NewEvidenceLog(8)
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 100 {
				l.Record(Evidence{Provider: fmt.Sprint(g, i)})
				_ = l.Recent(4)
			}
		}()
	}
	for range 4 {
		<-done
	}
	if l.Total() != 400 || len(l.Recent(0)) != 8 {
		t.Fatalf("total %d kept %d", l.Total(), len(l.Recent(0)))
	}
}
