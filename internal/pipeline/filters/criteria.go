package filters

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// codeServerError is go-ethereum's code for an error without its own
// ("filter not found", "exceed max topics").
const codeServerError = -32000

// maxSubscribeItems is go-ethereum's default log query limit: addresses,
// and alternatives per topic position, of a log filter.
const maxSubscribeItems = 1000

// logSpec reads eth_newFilter's criteria as go-ethereum does (see
// decodeCriteria: the same input is accepted and refused with the same
// message), and checks the range as go-ethereum's log subscription does.
func logSpec(raw json.RawMessage) (Spec, *jsonrpc.Error) {
	crit, err := decodeCriteria(raw)
	if err != nil {
		return Spec{}, argError(0, err)
	}
	if len(crit.Addresses) > maxSubscribeItems {
		return Spec{}, jsonrpc.Errorf(codeServerError, "exceed max addresses or topics per search position")
	}
	for _, t := range crit.Topics {
		if len(t) > maxSubscribeItems {
			return Spec{}, jsonrpc.Errorf(codeServerError, "exceed max addresses or topics per search position")
		}
	}
	from, to := latestBlock, latestBlock
	if crit.FromBlock != nil {
		from = *crit.FromBlock
	}
	if crit.ToBlock != nil {
		to = *crit.ToBlock
	}
	if from == pendingBlock || to == pendingBlock {
		return Spec{}, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "pending logs are not supported")
	}
	// The gateway serves a chain from genesis: earliest is block 0.
	if from == earliestBlock {
		from = 0
	}
	if to == earliestBlock {
		to = 0
	}
	ok := (from == latestBlock && to == latestBlock) ||
		(from >= 0 && to >= 0 && to >= from) ||
		(from >= 0 && to == latestBlock)
	if !ok {
		return Spec{}, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid block range params")
	}
	spec := Spec{Kind: Logs, Criteria: getLogsCriteria(raw, &crit), From: -1, To: -1}
	if from >= 0 {
		spec.From = int64(from)
	}
	if to >= 0 {
		spec.To = int64(to)
	}
	spec.Hub = hubFilter(&crit)
	return spec, nil
}

// hubFilter is the event source's logs filter for crit: the addresses and
// topics, a position with no alternatives (or a null one) matching any.
// Block hash and range are not passed: a node's log filter collects new
// logs whatever its blockHash, and the range is applied by the store.
func hubFilter(crit *criteria) json.RawMessage {
	type hubCrit struct {
		Address []string   `json:"address,omitempty"`
		Topics  [][]string `json:"topics,omitempty"`
	}
	var h hubCrit
	for _, a := range crit.Addresses {
		h.Address = append(h.Address, strings.ToLower(a.Hex()))
	}
	for _, alts := range crit.Topics {
		pos := []string{}
		for _, t := range alts {
			pos = append(pos, t.Hex())
		}
		h.Topics = append(h.Topics, pos)
	}
	out, _ := json.Marshal(h)
	return out
}

// getLogsCriteria is the eth_getLogs object for eth_getFilterLogs: the
// client's block tags or numbers as sent, and the parsed addresses and
// topics, so that what a filter keeps is bounded by go-ethereum's limits
// on them, whatever else the client's object held.
func getLogsCriteria(raw json.RawMessage, crit *criteria) json.RawMessage {
	var tags struct {
		FromBlock json.RawMessage `json:"fromBlock,omitempty"`
		ToBlock   json.RawMessage `json:"toBlock,omitempty"`
	}
	_ = json.Unmarshal(raw, &tags) // decoded once already, by decodeCriteria
	out := struct {
		BlockHash string          `json:"blockHash,omitempty"`
		FromBlock json.RawMessage `json:"fromBlock,omitempty"`
		ToBlock   json.RawMessage `json:"toBlock,omitempty"`
		Address   []string        `json:"address,omitempty"`
		Topics    [][]string      `json:"topics,omitempty"`
	}{FromBlock: nullIsAbsent(tags.FromBlock), ToBlock: nullIsAbsent(tags.ToBlock)}
	if crit.BlockHash != nil {
		out.BlockHash = crit.BlockHash.Hex()
		out.FromBlock, out.ToBlock = nil, nil
	}
	for _, a := range crit.Addresses {
		out.Address = append(out.Address, strings.ToLower(a.Hex()))
	}
	for _, alts := range crit.Topics {
		var pos []string // none: null, any topic
		for _, t := range alts {
			pos = append(pos, t.Hex())
		}
		out.Topics = append(out.Topics, pos)
	}
	b, _ := json.Marshal(out)
	return b
}

func nullIsAbsent(raw json.RawMessage) json.RawMessage {
	if string(raw) == "null" {
		return nil
	}
	return raw
}

// argError is go-ethereum's answer to an argument it cannot decode, in
// plain words where the decoder speaks of Go types.
func argError(i int, err error) *jsonrpc.Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		what := "a value"
		if te.Field != "" {
			what = te.Field
		}
		return jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument %d: %s must not be a JSON %s", i, what, te.Value)
	}
	return jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument %d: %v", i, err)
}

// args splits params into at most want positional arguments, with
// go-ethereum's errors; absent params are no arguments.
func args(params json.RawMessage, want, required int) ([]json.RawMessage, *jsonrpc.Error) {
	var list []json.RawMessage
	if len(params) > 0 && string(params) != "null" {
		if err := json.Unmarshal(params, &list); err != nil {
			return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "non-array args")
		}
	}
	if len(list) > want {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "too many arguments, want at most %d", want)
	}
	if len(list) < required {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "missing value for required argument %d", len(list))
	}
	return list, nil
}

// filterID reads the one filter ID argument of eth_getFilterChanges,
// eth_getFilterLogs and eth_uninstallFilter.
func filterID(params json.RawMessage) (string, *jsonrpc.Error) {
	list, err := args(params, 1, 1)
	if err != nil {
		return "", err
	}
	var id string
	if string(list[0]) == "null" {
		return "", nil // go-ethereum reads null as the empty ID, which no filter has
	}
	if json.Unmarshal(list[0], &id) != nil {
		return "", jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument 0: a filter ID must be a string")
	}
	return id, nil
}

// parseQuantity reads a 0x-prefixed hex quantity.
func parseQuantity(s string) (uint64, bool) {
	if !strings.HasPrefix(s, "0x") || len(s) < 3 {
		return 0, false
	}
	n, err := strconv.ParseUint(s[2:], 16, 64)
	return n, err == nil && n <= math.MaxInt64
}

// notFound is go-ethereum's answer for an unknown filter.
var notFound = &jsonrpc.Error{Code: codeServerError, Message: "filter not found"}

// limitError is the answer when a bound on filters is reached.
func limitError(err error, l Limits) *jsonrpc.Error {
	if errors.Is(err, ErrClientLimit) {
		return jsonrpc.Errorf(jsonrpc.CodeLimitExceeded, "limit exceeded: this client has %d filters installed, the most allowed; uninstall one (eth_uninstallFilter) or let one expire", l.MaxPerClient)
	}
	return jsonrpc.Errorf(jsonrpc.CodeLimitExceeded, "limit exceeded: the gateway keeps %d filters for this chain, the most allowed; try again later", l.MaxTotal)
}
