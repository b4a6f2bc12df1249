package verification

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// check verifies the first answer of one provider, asking that provider
// follow-up calls through call, and returns the answer for the client.
type check func(ctx context.Context, first Answer, call verify.Caller) (json.RawMessage, error)

// attempts asks first of one provider after another, never the same twice,
// until chk accepts; every rejected answer is recorded against its
// provider. It returns the accepted answer, the node's own answer to
// invalid params, null when chk found the thing absent (errNotFound) at
// every operator asked (after a null, the next ask goes to another
// operator), a node's "transaction indexing is in progress" when every
// node that answered said so (null while the agreed head is the genesis
// block), a *fallback when nothing could be proven and nobody lied, or an
// unverified error once someone lied.
func (v *Verifier) attempts(ctx context.Context, c *pipeline.Call, first Request, chk check) (json.RawMessage, error) {
	return v.attemptsFrom(ctx, c, first, chk, nil)
}

// attemptsFrom is attempts with the first provider's answer to first in
// hand when given is not nil (a wave's upstream batch asked it).
func (v *Verifier) attemptsFrom(ctx context.Context, c *pipeline.Call, first Request, chk check, given *Answer) (json.RawMessage, error) {
	var ab absence
	tried, lies, answered := 0, 0, 0
	var last error
	var pool *pending // a pending transaction some provider holds
	for tried < v.o.Attempts {
		var a Answer
		var ok bool
		if given != nil {
			a, ok = ab.took(*given)
			given = nil
		} else {
			a, ok = ab.ask(ctx, v.o.Asker, first)
		}
		if !ok {
			break
		}
		tried++
		if a.Err != nil {
			var je *jsonrpc.Error
			if errors.As(a.Err, &je) && je.Code == jsonrpc.CodeInvalidParams {
				return nil, je // the client's mistake, not the provider's
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if isIndexing(a.Err) {
				ab.untold(a, a.Err)
			}
			last = a.Err
			continue
		}
		answered++
		lastRaw := a.Value
		call := func(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
			ans := v.o.Asker.AskProvider(ctx, a.Provider, Request{Method: method, Params: params, Block: first.Block, HasBlock: first.HasBlock, Client: first.Client})
			lastRaw = ans.Value
			return ans.Value, ans.Err
		}
		res, err := chk(ctx, a, call)
		if err == nil {
			c.Report.Set(pipeline.ClassProof, "", a.Operator)
			c.Provider = a.Provider // served by: for logs and usage metering
			return res, nil
		}
		var fb *fallback
		var pd *pending
		switch {
		case errors.As(err, &fb):
			return nil, err
		case errors.As(err, &pd):
			ab.null(a) // in no block: ask another operator, as for a null
			// Unproven: never on a probation provider's word.
			if pool == nil && !a.Probation {
				pool = pd
			}
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, verify.ErrNoTrust):
			if !v.o.FallbackToQuorum {
				return nil, unverified(c.Method, tried, err)
			}
			return nil, &fallback{why: "no trusted header: " + err.Error()}
		case errors.Is(err, verify.ErrUnverifiable):
			return nil, &fallback{why: err.Error()} // e.g. a transaction type go-ethereum does not decode
		case errors.Is(err, errNotFound):
			ab.null(a)
		case isNull(lastRaw):
			// "I do not have it" (a provider behind the others) is no lie.
		case isLie(err):
			lies++
			ab.lied = true
			v.reject(c.Method, c.Params, Answer{Provider: a.Provider, Operator: a.Operator, Value: lastRaw}, err)
		}
		last = err
	}
	if ab.unknown() && lies == 0 {
		// Absence cannot be proven, but a node answers null for what it
		// does not have, and so does the gateway once no operator asked
		// showed it.
		class := pipeline.ClassTrusted
		if len(ab.nullOps) >= v.o.Agree {
			class = pipeline.ClassQuorum
		}
		ops := keys(ab.nullOps)
		if pool != nil {
			c.Report.Set(pipeline.ClassTrusted, "pending: in no block yet", pool.operator)
			return pool.raw, nil
		}
		c.Report.Set(class, "not found", ops...)
		return json.RawMessage("null"), nil
	}
	if ab.indexing != nil && lies == 0 {
		// Every node that answered could not tell: its transaction index
		// is incomplete. While the agreed chain is the genesis block
		// alone, no transaction is in a block (a node at genesis never
		// indexes, so says so until its first block): null. Otherwise the
		// node's own answer, as it wrote it: a client asks again, as it
		// would of that node.
		if n, ok := v.latest(); ok && n == 0 {
			c.Report.Set(pipeline.ClassTrusted, "not found: the agreed chain holds no block after genesis", keys(ab.passed)...)
			return json.RawMessage("null"), nil
		}
		return nil, ab.indexing
	}
	if answered == 0 {
		// Nobody answered: not an answer that failed verification (-32012)
		// but no provider or a transport failure, as routing reports it.
		if tried == 0 {
			return nil, jsonrpc.Errorf(jsonrpc.CodeNoProvider, "no provider available for %s", c.Method)
		}
		if last != nil && !isNodeAnswer(last) && ctx.Err() == nil {
			return nil, last
		}
	}
	if lies == 0 && tried > 0 && v.o.FallbackToQuorum {
		// Nobody lied, nobody could prove (eth_getProof not served, state
		// pruned, ...): agreement is the best left. After a lie, never: the
		// others may tell the same lie.
		return nil, &fallback{why: "no provider could prove it: " + errString(last)}
	}
	return nil, unverified(c.Method, tried, last)
}

// isNull reports whether a provider's answer was empty or JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// keys returns the keys of m, sorted.
func keys(m map[string]bool) []string {
	return slices.Sorted(maps.Keys(m))
}
