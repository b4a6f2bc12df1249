package verification

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
// at least Agree of them agree on: the same result, or the same node error
// (an eth_call revert). A provider that did not answer casts no vote, and a
// split vote is no answer: either way further operators are asked, one
// round per attempt, until enough agree or none is left. why, when set, is
// the reason a proof-policy call fell back to quorum. Fee methods take a
// median instead (feeMedian); a method fewer than Agree operators can serve
// at all is answered by one provider and labelled trusted.
func (v *Verifier) quorum(ctx context.Context, c *pipeline.Call, why string) (json.RawMessage, pipeline.Class, error) {
	if v.o.Operators != nil {
		if n := v.o.Operators(c.Method); n < v.o.Agree {
			res, err := v.trustOne(ctx, c, strings.TrimPrefix(why+"; "+servedBy(n, c.Method), "; "))
			return res, pipeline.ClassTrusted, err
		}
	}
	if medianMethod(c.Method) {
		res, err := v.feeMedian(ctx, c, why)
		return res, pipeline.ClassQuorum, err
	}
	req := Request{Method: c.Method, Params: c.Params, Block: c.Block, HasBlock: c.HasBlock, Client: c.Client}
	skip := Skip{Providers: map[string]bool{}, Operators: map[string]bool{}}
	var answers []Answer
	need := v.o.Quorum
	for round := 0; round < v.o.Attempts && need > 0; round++ {
		got := v.o.Asker.AskDistinct(ctx, req, need, skip)
		if err := ctx.Err(); err != nil {
			return nil, pipeline.ClassQuorum, err
		}
		if len(got) == 0 {
			break // no operator left to ask
		}
		answers = append(answers, skip.add(got)...)
		g, groups := tally(answers)
		if g != nil && len(distinct(g.operators)) >= v.o.Agree {
			c.Report.Set(pipeline.ClassQuorum, why, g.operators...)
			if penaliseMinority(c) {
				v.minority(c, g, groups)
			}
			if g.err != nil {
				return nil, pipeline.ClassQuorum, g.err
			}
			return g.value, pipeline.ClassQuorum, nil
		}
		best := 0
		if g != nil {
			best = len(distinct(g.operators))
		}
		need = max(v.o.Agree-best, 1)
		if round == 0 && best == 0 {
			need = v.o.Quorum
		}
	}
	if err := noVote(c, answers); err != nil {
		return nil, pipeline.ClassQuorum, err
	}
	_, groups := tally(answers)
	return nil, pipeline.ClassQuorum, v.noQuorum(c, answers, len(groups), why)
}

// noVote is the error when no provider answered at all (none, or only
// transport failures): routing's error, not -32012, for nothing failed
// verification. nil when someone answered.
func noVote(c *pipeline.Call, answers []Answer) error {
	var last error
	for _, a := range answers {
		if vote(a) {
			return nil
		}
		last = a.Err
	}
	if last == nil {
		return jsonrpc.Errorf(jsonrpc.CodeNoProvider, "no provider available for %s", c.Method)
	}
	return last
}

// add records the asked providers, and the operators of those that
// answered (a failed provider's operator may be asked again), and returns got.
func (s Skip) add(got []Answer) []Answer {
	for _, a := range got {
		s.Providers[a.Provider] = true
		if vote(a) {
			s.Operators[a.Operator] = true
		}
	}
	return got
}

// trustOne answers c with one provider's word, labelled trusted with note.
func (v *Verifier) trustOne(ctx context.Context, c *pipeline.Call, note string) (json.RawMessage, error) {
	a := v.o.Asker.Ask(ctx, Request{Method: c.Method, Params: c.Params, Block: c.Block, HasBlock: c.HasBlock, Unchecked: true, Client: c.Client}, nil)
	if a.Err != nil && !isNodeAnswer(a.Err) {
		return nil, a.Err
	}
	c.Provider = a.Provider
	c.Report.Set(pipeline.ClassTrusted, note, a.Operator)
	return a.Value, a.Err
}

// feeMedian answers a fee method with the median of the quantities that
// FeeQuorum (at least 3) providers of distinct operators give, asking
// further operators while fewer answered. With an odd number of answers
// and at most one liar among them, the median lies between two honest
// answers; with an even number it is the lower of the middle two, so one
// liar can lower it only as far as the lowest honest answer, or, with just
// two answers, to its own (fewer than three operators cannot outvote a
// liar; the report says so).
func (v *Verifier) feeMedian(ctx context.Context, c *pipeline.Call, why string) (json.RawMessage, error) {
	req := Request{Method: c.Method, Params: c.Params, Block: c.Block, HasBlock: c.HasBlock, Client: c.Client}
	skip := Skip{Providers: map[string]bool{}, Operators: map[string]bool{}}
	want := max(v.o.FeeQuorum, v.o.Agree)
	var answers []Answer
	for round := 0; round < v.o.Attempts; round++ {
		_, ops := quantities(answers)
		have := len(distinct(ops))
		if have >= want {
			break
		}
		got := v.o.Asker.AskDistinct(ctx, req, want-have, skip)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(got) == 0 {
			break
		}
		answers = append(answers, skip.add(got)...)
	}
	if err := noVote(c, answers); err != nil {
		return nil, err
	}
	return v.median(ctx, c, answers, why)
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
// one, for the methods penaliseMinority names: with the call pinned to an
// agreed block, honest nodes give the same answer. Node errors are not
// blamed (a node may lack the block).
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
	m := vals[(len(vals)-1)/2] // the middle one, or the lower of the middle two: never a mean
	note := "median"
	if n := len(distinct(ops)); n < 3 {
		note = fmt.Sprintf("median of %d operators: fewer than 3 cannot outvote one liar", n)
	}
	c.Report.Set(pipeline.ClassQuorum, strings.TrimSpace(why+" "+note), ops...)
	return json.Marshal((*hexutil.Big)(m))
}

// noQuorum is the client's error when providers did not agree.
func (v *Verifier) noQuorum(c *pipeline.Call, answers []Answer, groups int, why string) error {
	ops := make([]string, 0, len(answers))
	for _, a := range answers {
		ops = append(ops, a.Operator)
	}
	n := len(distinct(ops))
	msg := fmt.Sprintf("%s: the providers did not agree (%d operators gave %d different answers, %d must agree)", subject(c.Method), n, groups, v.o.Agree)
	detail := fmt.Sprintf("operators %s", strings.Join(distinct(ops), ","))
	if why != "" {
		detail += "; no proof possible: " + why
	}
	data, _ := json.Marshal(map[string]any{"method": c.Method, "providersTried": len(answers), "reason": "no_quorum", "detail": detail})
	return &jsonrpc.Error{Code: CodeUnverified, Message: msg, Data: data}
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
