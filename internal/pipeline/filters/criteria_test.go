package filters

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

func TestLogSpec(t *testing.T) {
	const a = "0x00000000000000000000000000000000000000aa"
	const topic = "0x00000000000000000000000000000000000000000000000000000000000000aa"
	tests := []struct {
		name     string
		crit     string
		from, to int64
		criteria string // the eth_getLogs object kept for eth_getFilterLogs
		code     int    // error code; 0: none
		msg      string
	}{
		{"empty", `{}`, -1, -1, `{}`, 0, ""},
		{"null", `null`, -1, -1, `{}`, 0, ""},
		{"range", `{"fromBlock":"0x5","toBlock":"0x9"}`, 5, 9, `{"fromBlock":"0x5","toBlock":"0x9"}`, 0, ""},
		{"from a number to latest", `{"fromBlock":"0x5","toBlock":"latest"}`, 5, -1, `{"fromBlock":"0x5","toBlock":"latest"}`, 0, ""},
		{"earliest is block 0", `{"fromBlock":"earliest"}`, 0, -1, `{"fromBlock":"earliest"}`, 0, ""},
		{"address without 0x", `{"address":"` + strings.ToUpper(a[2:3]) + a[3:] + `","x":[1,2],"topics":[null,["` + topic + `"]]}`,
			-1, -1, "", jsonrpc.CodeInvalidParams, "invalid argument 0: invalid address"},
		{"address one or many", `{"address":["` + a + `"],"topics":[[],["` + topic + `"]],"x":[1,2]}`, -1, -1,
			`{"address":["` + a + `"],"topics":[null,["` + topic + `"]]}`, 0, ""},
		{"block hash", `{"blockHash":"` + topic + `"}`, -1, -1, `{"blockHash":"` + topic + `"}`, 0, ""},
		{"backwards", `{"fromBlock":"0x9","toBlock":"0x5"}`, 0, 0, "", jsonrpc.CodeInvalidParams, "invalid block range params"},
		{"pending", `{"toBlock":"pending"}`, 0, 0, "", jsonrpc.CodeInvalidParams, "pending logs are not supported"},
		{"safe", `{"fromBlock":"safe"}`, 0, 0, "", jsonrpc.CodeInvalidParams, "invalid block range params"},
		{"hash and range", `{"blockHash":"` + topic + `","toBlock":"0x1"}`, 0, 0, "", jsonrpc.CodeInvalidParams,
			"invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other"},
		{"wrong type, in plain words", `{"fromBlock":5}`, 0, 0, "", jsonrpc.CodeInvalidParams, "invalid argument 0: hex string without 0x prefix"},
		{"topics not a list", `{"topics":"x"}`, 0, 0, "", jsonrpc.CodeInvalidParams, "invalid argument 0: topics must not be a JSON string"},
		{"not an object", `[1]`, 0, 0, "", jsonrpc.CodeInvalidParams, "invalid argument 0: a value must not be a JSON array"},
		{"too many addresses", `{"address":[` + strings.Repeat(`"`+a+`",`, 1000) + `"` + a + `"]}`, 0, 0, "", codeServerError,
			"exceed max addresses or topics per search position"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := logSpec(json.RawMessage(tt.crit))
			if tt.code != 0 {
				if err == nil || err.Code != tt.code || !strings.HasPrefix(err.Message, tt.msg) {
					t.Fatalf("got %v, want %d %q", err, tt.code, tt.msg)
				}
				if strings.Contains(err.Message, "Go ") || strings.Contains(err.Message, "struct") {
					t.Fatalf("Go internals in %q", err.Message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if spec.From != tt.from || spec.To != tt.to || string(spec.Criteria) != tt.criteria {
				t.Fatalf("from %d to %d criteria %s; want %d %d %s", spec.From, spec.To, spec.Criteria, tt.from, tt.to, tt.criteria)
			}
		})
	}
}
