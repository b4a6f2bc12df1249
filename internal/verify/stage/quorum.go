package stage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// quorum asks Quorum providers of distinct operators and answers with what
// at least Agree of them agree on: the same result, the same node error
// (an eth_call revert), or for market values the median. why, when set, is
// the reason a proof-policy call fell back to quorum.
func (v *Verifier) quorum(ctx context.Context, c *pipeline.Call, why string) (json.RawMessage, error) {
	answers := v.o.Asker.AskDistinct(ctx, Request{Method: c.Method, Params: c.Params, Block: c.Block, HasBlock: c.HasBlock}, v.o.Quorum)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if medianMethod(c.Method) {
		return v.median(ctx, c, answers, why)
	}
	type group struct {
		value     json.RawMessage
		err       *jsonrpc.Error
		operators []string
	}
	groups := map[string]*group{}
	var order []string
	for _, a := range answers {
		key, g := "", &group{}
		var je *jsonrpc.Error
		switch {
		case a.Err == nil:
			key, g.value = "r:"+canonical(a.Value), a.Value
		case errors.As(a.Err, &je):
			key, g.err = fmt.Sprintf("e:%d:%s:%s", je.Code, je.Message, canonical(je.Data)), je
		default:
			continue // a transport failure is no vote
		}
		if groups[key] == nil {
			groups[key] = g
			order = append(order, key)
		}
		groups[key].operators = append(groups[key].operators, a.Operator)
	}
	for _, k := range order {
		g := groups[k]
		if len(distinct(g.operators)) < v.o.Agree {
			continue
		}
		ReportFrom(ctx).set(ClassQuorum, why, g.operators...)
		if g.err != nil {
			return nil, g.err
		}
		return g.value, nil
	}
	return nil, v.noQuorum(c, answers, len(groups), why)
}

// median answers a market value with the median of the quantities given.
func (v *Verifier) median(ctx context.Context, c *pipeline.Call, answers []Answer, why string) (json.RawMessage, error) {
	var vals []*big.Int
	var ops []string
	for _, a := range answers {
		var q hexutil.Big
		if a.Err != nil || json.Unmarshal(a.Value, &q) != nil {
			continue
		}
		vals = append(vals, q.ToInt())
		ops = append(ops, a.Operator)
	}
	if len(distinct(ops)) < v.o.Agree {
		return nil, v.noQuorum(c, answers, len(vals), why)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i].Cmp(vals[j]) < 0 })
	m := vals[len(vals)/2]
	if len(vals)%2 == 0 {
		m = new(big.Int).Rsh(new(big.Int).Add(vals[len(vals)/2-1], vals[len(vals)/2]), 1)
	}
	ReportFrom(ctx).set(ClassQuorum, strings.TrimSpace(why+" median"), ops...)
	return json.Marshal((*hexutil.Big)(m))
}

// noQuorum is the client's error when providers did not agree.
func (v *Verifier) noQuorum(c *pipeline.Call, answers []Answer, groups int, why string) error {
	ops := make([]string, 0, len(answers))
	for _, a := range answers {
		ops = append(ops, a.Operator)
	}
	msg := fmt.Sprintf("no quorum: %d providers of operators %s gave %d different answers (%d must agree)", len(answers), strings.Join(distinct(ops), ","), groups, v.o.Agree)
	if why != "" {
		msg += "; proof impossible: " + why
	}
	data, _ := json.Marshal(map[string]any{"method": c.Method, "providersTried": len(answers), "reason": "no_quorum"})
	return &jsonrpc.Error{Code: CodeUnverified, Message: "answer could not be verified: " + msg, Data: data}
}

// canonical is a JSON value in a form equal values share: compact, object
// keys sorted, hex case folded.
func canonical(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return string(raw)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return string(raw)
	}
	return strings.ToLower(string(b))
}

// distinct returns the distinct non-empty strings of ss, in order.
func distinct(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
