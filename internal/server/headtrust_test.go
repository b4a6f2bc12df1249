package server

import (
	"strings"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/chain"
)

func TestHeadTrustValue(t *testing.T) {
	cases := []struct {
		tr   chain.Trust
		want string
	}{
		{chain.Trust{Operators: 2, Required: 2}, "agreed; operators=2"},
		{chain.Trust{Operators: 3, Required: 2}, "agreed; operators=3"},
		{chain.Trust{Operators: 1, Required: 2, Degraded: true}, "degraded; operators=1; required=2"},
	}
	for _, tc := range cases {
		if got := headTrustValue(tc.tr); got != tc.want {
			t.Errorf("headTrustValue(%+v) = %q, want %q", tc.tr, got, tc.want)
		}
	}
}

// TestHeadHeaderExposed: answers carry X-Rpcmesh-Head, and a browser may
// read it and X-Rpcmesh-Verified.
func TestHeadHeaderExposed(t *testing.T) {
	tg := startGateway(t, 2, nil)
	_, h, _ := tg.post(t, "/dev", `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}`, "Origin", "https://dapp.example")
	if v := h.Get(HeadHeader); !strings.HasPrefix(v, "agreed; operators=") {
		t.Errorf("%s = %q, want agreed; operators=N", HeadHeader, v)
	}
	expose := h.Get("Access-Control-Expose-Headers")
	for _, name := range []string{HeadHeader, VerifiedHeader, RequestIDHeader} {
		if !strings.Contains(expose, name) {
			t.Errorf("Access-Control-Expose-Headers %q does not list %s", expose, name)
		}
	}
}
