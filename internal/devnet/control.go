package devnet

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// maxControlBody bounds one control API request.
const maxControlBody = 64 << 10

// ControlHandler serves the devnet's HTTP control API (see docs/devnet.md):
//
//	GET    /            the devnet's Info document
//	GET    /nodes       nodes with their heads
//	POST   /faults      stage a fault: {"target", "kind", "params"}
//	GET    /faults      faults in force
//	DELETE /faults      clear every fault
//	DELETE /faults/{id} clear one fault
func (d *Devnet) ControlHandler(info func() Info) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, info())
	})
	mux.HandleFunc("GET /nodes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.NodeStatus())
	})
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.Faults())
	})
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody+1))
		if err != nil || len(body) > maxControlBody {
			writeError(w, http.StatusRequestEntityTooLarge, "request body over 64 KiB")
			return
		}
		var spec FaultSpec
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			writeError(w, http.StatusBadRequest, "bad fault: "+err.Error()+` (want {"target": "node2" | "cloud=aws" | "all", "kind": "down", "params": {...}})`)
			return
		}
		f, err := d.SetFault(r.Context(), spec)
		if err != nil {
			writeError(w, statusOf(err), err.Error())
			return
		}
		writeJSON(w, http.StatusOK, f)
	})
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, r *http.Request) {
		d.ClearFaults()
		writeJSON(w, http.StatusOK, map[string]any{"cleared": true})
	})
	mux.HandleFunc("DELETE /faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := d.ClearFault(r.PathValue("id")); err != nil {
			writeError(w, statusOf(err), err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"cleared": r.PathValue("id")})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path+" (see docs/devnet.md)")
	})
	return mux
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrNoSuchNode), errors.Is(err, ErrNoSuchFault):
		return http.StatusNotFound
	case errors.Is(err, ErrNotPossible):
		return http.StatusConflict
	case errors.Is(err, ErrDevnetStopped):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrUnknownFault), errors.Is(err, ErrBadParams), errors.Is(err, ErrBadTarget):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": strings.TrimSpace(msg)})
}

// NodeStatus is one node's view of the chain, read from the node itself.
type NodeStatus struct {
	NodeInfo
	Head     uint64   `json:"head"`
	HeadHash string   `json:"headHash"`
	Peers    int      `json:"peers"`
	Faults   []string `json:"faults"`
}

// NodeStatus reports every node's head and the faults acting on it.
func (d *Devnet) NodeStatus() []NodeStatus {
	faults := d.Faults()
	out := make([]NodeStatus, len(d.nodes))
	for i, n := range d.nodes {
		h := n.Eth.BlockChain().CurrentBlock()
		st := NodeStatus{NodeInfo: d.infos[i], Head: h.Number.Uint64(), HeadHash: h.Hash().Hex(), Peers: n.Stack.Server().PeerCount(), Faults: []string{}}
		for _, f := range faults {
			for _, name := range f.Nodes {
				if name == n.Name() {
					st.Faults = append(st.Faults, f.ID+":"+string(f.Kind))
				}
			}
		}
		out[i] = st
	}
	return out
}
