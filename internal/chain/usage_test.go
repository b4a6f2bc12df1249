package chain

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/store"
	"github.com/rpcmesh/rpcmesh/internal/usage"
)

// TestUsageWiring runs a set with metering on over fake nodes: calls its
// pipeline answered by a provider and audits recorded for it reach the
// store when the set stops, with the provider's operator.
func TestUsageWiring(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := testSet(t, 2, func(cfg *config.Config) {
		cfg.Broadcast.Store = filepath.Join(dir, "gw.db")
		cfg.Usage.Enabled = true
		cfg.Usage.KeyFile = filepath.Join(dir, "usage.key")
	})
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(runCtx)
	}()
	c := s.Chains()[0]
	const calls = 7
	for range calls {
		for {
			_, err := pipeline.Do(ctx, c.Handler(), pipeline.NewCall("eth_gasPrice", []byte("[]")))
			if err == nil {
				break
			}
			select { // providers not yet checked: no provider available
			case <-ctx.Done():
				t.Fatal(err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	s.usage.audited(c, "n0", true)
	s.usage.audited(c, "n0", false)
	s.usage.audited(c, "nobody", true)
	stop()
	<-done
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := store.Open(filepath.Join(dir, "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var requests, passed, failed uint64
	err = db.Each("usage_records", func(_ string, v []byte) error {
		r, err := usage.DecodeRecord(v)
		if err != nil {
			return err
		}
		if r.Operator != "op-"+r.Provider {
			t.Errorf("record of %s has operator %q", r.Provider, r.Operator)
		}
		requests += r.Requests
		passed += r.AuditsPassed
		failed += r.AuditsFailed
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if requests != calls || passed != 1 || failed != 1 {
		t.Fatalf("stored %d requests, %d audits passed, %d failed; want %d, 1, 1", requests, passed, failed, calls)
	}
}

// TestUsageOff: without usage.enabled the statements route says so (404)
// and recording an audit is a no-op.
func TestUsageOff(t *testing.T) {
	s, _, _ := testSet(t, 1, nil)
	s.usage.audited(s.Chains()[0], "n0", true)
	rec := httptest.NewRecorder()
	s.Usage().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/usage/statements", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "usage.enabled") {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body.String())
	}
}
