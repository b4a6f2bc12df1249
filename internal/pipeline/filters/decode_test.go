package filters

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	gethfilters "github.com/ethereum/go-ethereum/eth/filters"
)

// decodeCases are eth_newFilter criteria, good and bad, on which
// decodeCriteria must agree with go-ethereum's own decoder.
var decodeCases = []string{
	`{}`, `null`, `[]`, `"x"`, `5`, `{`,
	`{"fromBlock":"0x5","toBlock":"0x9"}`,
	`{"fromBlock":"earliest","toBlock":"latest"}`,
	`{"fromBlock":"safe","toBlock":"finalized"}`,
	`{"fromBlock":"pending"}`,
	`{"fromBlock":5}`, `{"fromBlock":"5"}`, `{"fromBlock":"0x"}`, `{"fromBlock":"0x05"}`,
	`{"fromBlock":"0xffffffffffffffff"}`, `{"fromBlock":"0x10000000000000000"}`,
	`{"fromBlock":null,"toBlock":null}`, `{"fromBlock":true}`, `{"fromBlock":{}}`,
	`{"blockHash":"0x00000000000000000000000000000000000000000000000000000000000000aa"}`,
	`{"blockHash":"0x00000000000000000000000000000000000000000000000000000000000000aa","fromBlock":"0x1"}`,
	`{"blockHash":"0xaa"}`, `{"blockHash":null,"toBlock":"0x1"}`,
	`{"address":"0x00000000000000000000000000000000000000aa"}`,
	`{"address":"00000000000000000000000000000000000000aa"}`,
	`{"address":"0xaa"}`, `{"address":5}`, `{"address":null}`, `{"address":[]}`,
	`{"address":["0x00000000000000000000000000000000000000aa","0x00000000000000000000000000000000000000bb"]}`,
	`{"address":["0x00000000000000000000000000000000000000aa",1]}`,
	`{"address":["0x00000000000000000000000000000000000000aa","0xzz"]}`,
	`{"topics":"x"}`, `{"topics":[]}`, `{"topics":null}`, `{"topics":[null]}`,
	`{"topics":[null,null,null,null,null]}`,
	`{"topics":["0x00000000000000000000000000000000000000000000000000000000000000aa"]}`,
	`{"topics":["0xaa"]}`, `{"topics":[5]}`, `{"topics":[{}]}`,
	`{"topics":[[],["0x00000000000000000000000000000000000000000000000000000000000000aa",null,5]]}`,
	`{"topics":[["0x00000000000000000000000000000000000000000000000000000000000000aa",5]]}`,
	`{"topics":[["0x00000000000000000000000000000000000000000000000000000000000000aa","0xaa"]]}`,
	`{"topics":[[` + strings.Repeat(`null,`, 1000) + `null]]}`,
	`{"x":[1,2],"address":"0x00000000000000000000000000000000000000aa","topics":[null,[null]]}`,
}

// TestDecodeCriteriaAgreesWithGoEthereum decodes each case with both
// decoders: both accept it with the same filter, or both refuse it with the
// same message, so the gateway's answers to eth_newFilter are a node's.
func TestDecodeCriteriaAgreesWithGoEthereum(t *testing.T) {
	for _, in := range decodeCases {
		t.Run(in[:min(len(in), 40)], func(t *testing.T) { agree(t, []byte(in)) })
	}
}

// FuzzDecodeCriteria checks the same agreement on any input.
func FuzzDecodeCriteria(f *testing.F) {
	for _, in := range decodeCases {
		f.Add([]byte(in))
	}
	f.Fuzz(agree)
}

func agree(t *testing.T, in []byte) {
	var want gethfilters.FilterCriteria
	wantErr := json.Unmarshal(in, &want)
	got, err := decodeCriteria(in)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%s: error %v, go-ethereum's %v", in, err, wantErr)
	}
	if err != nil {
		if a, b := argError(0, err), argError(0, wantErr); a.Code != b.Code || a.Message != b.Message {
			t.Fatalf("%s: answer %d %q, go-ethereum's %d %q", in, a.Code, a.Message, b.Code, b.Message)
		}
		return
	}
	blockOf := func(bn *blockNumber) *int64 {
		if bn == nil {
			return nil
		}
		v := int64(*bn)
		return &v
	}
	gethBlock := func(b interface{ Int64() int64 }, isNil bool) *int64 {
		if isNil {
			return nil
		}
		v := b.Int64()
		return &v
	}
	type view struct {
		Hash      *common.Hash
		From, To  *int64
		Addresses []common.Address
		Topics    [][]common.Hash
	}
	g := view{got.BlockHash, blockOf(got.FromBlock), blockOf(got.ToBlock), got.Addresses, got.Topics}
	w := view{want.BlockHash, gethBlock(want.FromBlock, want.FromBlock == nil), gethBlock(want.ToBlock, want.ToBlock == nil), want.Addresses, want.Topics}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s: decoded %+v, go-ethereum %+v", in, g, w)
	}
}
