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
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// quorum asks Quorum providers of distinct operators and answers with what
// at least Agree of them agree on: the same result, the same node error
// (an eth_call revert), or for market values the median. A provider that
// did not answer casts no vote, and a split vote is no answer: either way
// further operators are asked, one round per attempt, until enough agree
// or none is left. why, when set, is the reason a proof-policy call fell
// back to quorum.
func (v *Verifier) quorum(ctx context.Context, c *pipeline.Call, why string) (json.RawMessage, error) {
	req := Request{Method: c.Method, Params: c.Params, Block: c.Block, HasBlock: c.HasBlock}
	skip := Skip{Providers: map[string]bool{}, Operators: map[string]bool{}}
	var answers []Answer
	need := v.o.Quorum
	for round := 0; round < v.o.Attempts && need > 0; round++ {
		got := v.o.Asker.AskDistinct(ctx, req, need, skip)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(got) == 0 {
			break // no operator left to ask
		}
		for _, a := range got {
			skip.Providers[a.Provider] = true
			if vote(a) {
				skip.Operators[a.Operator] = true
			}
		}
		answers = append(answers, got...)
		var best int
		if medianMethod(c.Method) {
			// Only quantities count towards a median: a node's error
			// (e.g. an internal error of a failing node) is no value.
			_, ops := quantities(answers)
			best = len(distinct(ops))
		} else {
			g, groups := tally(answers)
			if g != nil && len(distinct(g.operators)) >= v.o.Agree {
				ReportFrom(ctx).set(ClassQuorum, why, g.operators...)
				v.minority(c, g, groups)
				if g.err != nil {
					return nil, g.err
				}
				return g.value, nil
			}
			if g != nil {
				best = len(distinct(g.operators))
			}
		}
		if medianMethod(c.Method) && best >= v.o.Agree {
			return v.median(ctx, c, answers, why)
		}
		need = max(v.o.Agree-best, 1)
		if round == 0 && best == 0 {
			need = v.o.Quorum
		}
	}
	if medianMethod(c.Method) {
		return v.median(ctx, c, answers, why)
	}
	_, groups := tally(answers)
	return nil, v.noQuorum(c, answers, len(groups), why)
}

// group is the operators that gave one answer.
type group struct {
	value     json.RawMessage
	err       *jsonrpc.Error
	operators []string
	providers []Answer
}

// vote reports whether a is an answer (a result or the node's own error)
// rather than a transport failure.
func vote(a Answer) bool {
	var je *jsonrpc.Error
	return a.Err == nil || errors.As(a.Err, &je)
}

// tally groups the answers by canonical value and returns the group with
// the most distinct operators (the first such on a tie) and every group.
func tally(answers []Answer) (*group, []*group) {
	byKey := map[string]*group{}
	var groups []*group
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
		if byKey[key] == nil {
			byKey[key] = g
			groups = append(groups, g)
		}
		byKey[key].operators = append(byKey[key].operators, a.Operator)
		byKey[key].providers = append(byKey[key].providers, a)
	}
	var best *group
	for _, g := range groups {
		if best == nil || len(distinct(g.operators)) > len(distinct(best.operators)) {
			best = g
		}
	}
	return best, groups
}

// minority records as evidence every result that differs from the agreed
// one: with the call pinned to an agreed block, honest nodes give the same
// answer. Node errors are not blamed (a node may lack the block).
func (v *Verifier) minority(c *pipeline.Call, agreed *group, groups []*group) {
	for _, g := range groups {
		if g == agreed || g.err != nil {
			continue
		}
		for _, a := range g.providers {
			v.reject(c.Method, c.Params, a, fmt.Errorf("%w: answer differs from the one %d other operators agreed on (%s)",
				verify.ErrValueMismatch, len(distinct(agreed.operators)), strings.Join(distinct(agreed.operators), ",")))
		}
	}
}

// quantities returns the answers that are quantities and their operators.
func quantities(answers []Answer) (vals []*big.Int, ops []string) {
	for _, a := range answers {
		var q hexutil.Big
		if a.Err != nil || json.Unmarshal(a.Value, &q) != nil {
			continue
		}
		vals = append(vals, q.ToInt())
		ops = append(ops, a.Operator)
	}
	return vals, ops
}

// median answers a market value with the median of the quantities given.
func (v *Verifier) median(ctx context.Context, c *pipeline.Call, answers []Answer, why string) (json.RawMessage, error) {
	vals, ops := quantities(answers)
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
