package blockref

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/rpc"
)

// seeds are block parameters of every form, valid and not.
var seeds = []string{
	`"latest"`, `"earliest"`, `"pending"`, `"safe"`, `"finalized"`, `"0x0"`, `"0x1b4"`, `"0x01"`, `"0x"`,
	`"1"`, `1`, `"0xffffffffffffffff"`, `"0x7fffffffffffffff"`, `"0x10000000000000000"`, `null`, `true`, `[]`,
	`"0x00000000000000000000000000000000000000000000000000000000000000ff"`,
	`"0X00000000000000000000000000000000000000000000000000000000000000ff"`,
	`"0x00000000000000000000000000000000000000000000000000000000000000fg"`,
	`"0000000000000000000000000000000000000000000000000000000000000000ff"`,
	`{"blockNumber":"0x5"}`, `{"blockNumber":"latest"}`, `{"blockNumber":"pending"}`, `{"blocknumber":"0x5"}`,
	`{"blockHash":"0x00000000000000000000000000000000000000000000000000000000000000ff"}`,
	`{"blockHash":"0x00000000000000000000000000000000000000000000000000000000000000ff","requireCanonical":true}`,
	`{"blockHash":"0x00000000000000000000000000000000000000000000000000000000000000ff","requireCanonical":"yes"}`,
	`{"blockHash":"0xff"}`, `{"blockHash":"0x00000000000000000000000000000000000000000000000000000000000000ff","blockNumber":"0x1"}`,
	`{}`, `{"blockNumber":null}`, `{"blockNumber":"0x1","requireCanonical":true}`, `"lat\u0065st"`, ` "latest" `,
}

// TestParseAsGoEthereum checks the seeds against go-ethereum's own types.
func TestParseAsGoEthereum(t *testing.T) {
	for _, s := range seeds {
		t.Run(s, func(t *testing.T) { compare(t, []byte(s)) })
	}
}

// FuzzParse checks that both parsers accept exactly what go-ethereum's
// rpc.BlockNumber and rpc.BlockNumberOrHash accept, with the same result,
// and that no error is in Go's words.
func FuzzParse(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) { // params reach a stage valid (the front door checks)
			return
		}
		compare(t, raw)
	})
}

// compare parses raw both ways and as go-ethereum does.
func compare(t *testing.T, raw []byte) {
	t.Helper()
	if string(raw) == "null" { // a missing argument: the arity check answers it
		return
	}
	var gn rpc.BlockNumber
	gErr := gn.UnmarshalJSON(raw)
	r, err := ParseNumber(raw)
	if (gErr == nil) != (err == nil) {
		t.Fatalf("ParseNumber(%s): err %v, go-ethereum %v", raw, err, gErr)
	}
	if err == nil && !sameNumber(r, gn) {
		t.Fatalf("ParseNumber(%s) = %+v, go-ethereum %v", raw, r, gn)
	}
	plain(t, err)

	var gh rpc.BlockNumberOrHash
	gErr = json.Unmarshal(raw, &gh)
	r, err = ParseNumberOrHash(raw)
	if (gErr == nil) != (err == nil) {
		t.Fatalf("ParseNumberOrHash(%s): err %v, go-ethereum %v", raw, err, gErr)
	}
	plain(t, err)
	if err != nil {
		return
	}
	if h, ok := gh.Hash(); ok {
		if r.Kind != Hash || r.Hash != h || r.RequireCanonical != gh.RequireCanonical {
			t.Fatalf("ParseNumberOrHash(%s) = %+v, go-ethereum hash %v canonical %v", raw, r, h, gh.RequireCanonical)
		}
	} else if n, _ := gh.Number(); !sameNumber(r, n) {
		t.Fatalf("ParseNumberOrHash(%s) = %+v, go-ethereum %v", raw, r, n)
	}
	// What a stage forwards parses back to the same block.
	again, err := ParseNumberOrHash(r.AppendJSON(nil))
	if err != nil || again != r {
		t.Fatalf("ParseNumberOrHash(%s) = %+v, round trip %s = %+v, %v", raw, r, r.AppendJSON(nil), again, err)
	}
}

// sameNumber reports whether r names the block go-ethereum's n does.
func sameNumber(r Ref, n rpc.BlockNumber) bool {
	switch n {
	case rpc.LatestBlockNumber:
		return r.Kind == Latest
	case rpc.PendingBlockNumber:
		return r.Kind == Pending
	case rpc.SafeBlockNumber:
		return r.Kind == Safe
	case rpc.FinalizedBlockNumber:
		return r.Kind == Finalized
	case rpc.EarliestBlockNumber:
		return r.Kind == Earliest
	}
	return r.Kind == Number && r.Number == uint64(n)
}

// plain fails when an error would show a client Go's internals.
func plain(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, bad := range []string{"Go value", "Go struct", "json:", "strconv.", "unmarshal", "common.", "rpc."} {
		if strings.Contains(err.Error(), bad) {
			t.Fatalf("error %q shows Go internals (%q)", err, bad)
		}
	}
}
