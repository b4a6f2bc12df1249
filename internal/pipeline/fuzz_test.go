package pipeline_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/blocktag"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/logs"
)

// FuzzClientParams feeds client-controlled params to the stages that look
// inside them (block tags, log filters): they must never panic, and what
// they forward must stay valid JSON.
func FuzzClientParams(f *testing.F) {
	for _, s := range []string{
		`["0xaa","latest"]`, `["0xaa",{"blockNumber":"safe"}]`, `["0xaa",{"blockHash":"0x1"}]`, `["0xaa","0x10"]`,
		`[{"fromBlock":"0x1","toBlock":"latest","address":["0x1"]}]`, `[{"blockHash":"0x1"}]`, `[1,2,3]`, `{}`, `[`, `["0xaa",null]`,
	} {
		f.Add("eth_getBalance", s)
		f.Add("eth_getLogs", s)
		f.Add("eth_getBlockByNumber", s)
	}
	f.Fuzz(func(t *testing.T, method, params string) {
		if !json.Valid([]byte(params)) {
			return // the decoder rejects it before any stage
		}
		tracker := trackerAt(5000)
		rec := &recorder{answer: func(c *pipeline.Call) (json.RawMessage, error) {
			if c.Params != nil && !json.Valid(c.Params) {
				t.Fatalf("forwarded invalid params %q", c.Params)
			}
			return json.RawMessage(`[]`), nil
		}}
		h := pipeline.Chain(rec,
			func(next pipeline.Handler) pipeline.Handler { return &blocktag.BlockTag{Next: next, Head: tracker} },
			func(next pipeline.Handler) pipeline.Handler {
				return &logs.Splitter{Next: next, MaxRange: 3000, Chunk: 1000, Concurrency: 2}
			},
		)
		_, _ = pipeline.Do(context.Background(), h, pipeline.NewCall(method, json.RawMessage(params)))
	})
}
