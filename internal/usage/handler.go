package usage

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Handler serves the stored statements on the admin listener:
// GET ?operator=NAME&limit=N lists them, newest epoch first, as
// {"signer": "0x…", "statements": [...]}; each statement is the JSON
// `rpcmesh usage verify` checks.
func (m *Meter) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := m.o.MaxStatements
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				http.Error(w, "limit must be a positive whole number", http.StatusBadRequest)
				return
			}
			limit = min(n, m.o.MaxStatements)
		}
		sts, err := m.o.Store.Statements(r.Context(), r.URL.Query().Get("operator"), limit)
		if err != nil {
			m.o.Logger.Warn("usage statements not read", "err", err)
			http.Error(w, "usage statements cannot be read now", http.StatusServiceUnavailable)
			return
		}
		if sts == nil {
			sts = []json.RawMessage{}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Signer     string            `json:"signer"`
			Statements []json.RawMessage `json:"statements"`
		}{m.o.Signer.Address().Hex(), sts})
	})
}
