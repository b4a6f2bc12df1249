package vet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/ethereum/go-ethereum/common"
)

// probeConcurrency bounds the calls one check sends at once.
const probeConcurrency = 8

// probeParams are the params each method is probed with, from the sample:
// a call a serving node answers (a result, or an error about the
// arguments), never "method not found".
func probeParams(method string, s *sample) json.RawMessage {
	addr := common.Address{}
	if len(s.accounts) > 0 {
		addr = s.accounts[0]
	}
	call := map[string]any{"from": addr, "to": addr, "value": "0x0"}
	hash := common.Hash{}
	if s.recent != nil {
		hash = s.recent.Hash
	}
	args := map[string][]any{
		"eth_feeHistory":                       {"0x4", "latest", []int{25, 75}},
		"eth_getBlockByNumber":                 {"latest", false},
		"eth_getBlockByHash":                   {hash, false},
		"eth_getBlockTransactionCountByNumber": {"latest"},
		"eth_getBlockReceipts":                 {"latest"},
		"eth_getTransactionByHash":             {s.tx},
		"eth_getTransactionReceipt":            {s.tx},
		"eth_getBalance":                       {addr, "latest"},
		"eth_getTransactionCount":              {addr, "latest"},
		"eth_getCode":                          {addr, "latest"},
		"eth_getStorageAt":                     {addr, "0x0", "latest"},
		"eth_getProof":                         {addr, []string{}, "latest"},
		"eth_call":                             {call, "latest"},
		"eth_estimateGas":                      {call},
		"eth_createAccessList":                 {call, "latest"},
		"eth_getLogs":                          {map[string]any{"fromBlock": "latest", "toBlock": "latest"}},
		"eth_sendRawTransaction":               {"0x00"}, // not a transaction: refused, never sent
		"debug_traceTransaction":               {s.tx},
		"debug_traceBlockByNumber":             {"latest"},
		"debug_traceCall":                      {call, "latest"},
		"trace_block":                          {"latest"},
		"trace_transaction":                    {s.tx},
	}
	a, ok := args[method]
	if !ok {
		return json.RawMessage("[]")
	}
	raw, _ := json.Marshal(a)
	return raw
}

// runBounded runs jobs on n workers and returns when all ran (or ctx
// ended and the rest were dropped).
func runBounded(ctx context.Context, n int, jobs []func()) {
	ch := make(chan func())
	var wg sync.WaitGroup
	for range min(n, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range ch {
				job()
			}
		}()
	}
	defer wg.Wait()
	defer close(ch)
	for _, job := range jobs {
		select {
		case ch <- job:
		case <-ctx.Done():
			return
		}
	}
}

// notServed reports whether err says the method is not served (as
// opposed to a refusal of the arguments, which a serving node gives).
func notServed(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	var re *RPCError
	if errors.As(err, &re) {
		msg := strings.ToLower(re.Message)
		if re.Code == -32601 || strings.Contains(msg, "method") && (strings.Contains(msg, "not found") ||
			strings.Contains(msg, "does not exist") || strings.Contains(msg, "not supported") ||
			strings.Contains(msg, "not available") || strings.Contains(msg, "unsupported")) {
			return re.Error(), true
		}
		return "", false
	}
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusTooManyRequests {
		return "", false // throttled: counted by the throttling check
	}
	return err.Error(), true
}

// checkMethods probes every required and optional method once.
func checkMethods(ctx context.Context, c *client, s *sample, crit Criteria) MethodsResult {
	r := MethodsResult{Missing: map[string]string{}, Optional: map[string]bool{}}
	methods := slices.Concat(crit.RequiredMethods, crit.OptionalMethods)
	served := make([]bool, len(methods))
	why := make([]string, len(methods))
	jobs := make([]func(), len(methods))
	for i, m := range methods {
		jobs[i] = func() {
			_, err := c.call(ctx, m, probeParams(m, s))
			var not bool
			why[i], not = notServed(err)
			served[i] = !not
		}
	}
	runBounded(ctx, probeConcurrency, jobs)
	for i, m := range methods {
		required := i < len(crit.RequiredMethods)
		switch {
		case served[i]:
			if !slices.Contains(r.Served, m) {
				r.Served = append(r.Served, m)
			}
			if !required {
				r.Optional[m] = true
			}
		case required:
			r.Missing[m] = why[i]
		default:
			r.Optional[m] = false
		}
	}
	return r
}

// methodsFailure is the methods criterion's failure, or nil.
func methodsFailure(r MethodsResult) *Failure {
	if len(r.Missing) == 0 {
		return nil
	}
	names := make([]string, 0, len(r.Missing))
	for m := range r.Missing {
		names = append(names, m)
	}
	slices.Sort(names)
	f := &Failure{Criterion: CritMethods, Reason: fmt.Sprintf("%d required methods not served: %s", len(names), strings.Join(names, ", "))}
	for _, m := range names {
		f.Evidence = append(f.Evidence, m+": "+r.Missing[m])
	}
	return f
}
