package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/rpcmesh/rpcmesh/internal/chain"
	"github.com/rpcmesh/rpcmesh/internal/config"
)

// maxProviderBody bounds a POST /providers body: one provider entry.
const maxProviderBody = 64 << 10

// mountProviders adds the provider routes to the admin listener
// (docs/admission.md): GET /providers lists every chain's providers with
// their stages (URLs as scheme and host only) and stage transitions;
// POST /providers[/{chain}] adds one, DELETE /providers/{chain}/{name}
// removes one and POST /providers/{chain}/{name}/stage moves one to
// another stage, each only with admission.token set and given as a
// bearer token.
func (g *Gateway) mountProviders(mux *http.ServeMux) {
	mux.HandleFunc("GET /providers", g.listProviders)
	mux.Handle("POST /providers", g.authorized(g.addProvider))
	mux.Handle("POST /providers/{chain}", g.authorized(g.addProvider))
	mux.Handle("DELETE /providers/{chain}/{name}", g.authorized(g.removeProvider))
	mux.Handle("POST /providers/{chain}/{name}/stage", g.authorized(g.setStage))
}

// setStage serves POST /providers/{chain}/{name}/stage: the body is
// {"stage": "candidate"|"probation"|"admitted", "reason": "..."}.
func (g *Gateway) setStage(w http.ResponseWriter, r *http.Request) {
	c, ok := g.providersChain(w, r.PathValue("chain"))
	if !ok {
		return
	}
	var req struct {
		Stage  string `json:"stage"`
		Reason string `json:"reason"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxProviderBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, `bad request: the body must be {"stage": "candidate", "probation" or "admitted", "reason": "why"}`, http.StatusBadRequest)
		return
	}
	reason := "set through the admin API"
	if req.Reason = strings.TrimSpace(req.Reason); req.Reason != "" {
		reason += ": " + req.Reason[:min(len(req.Reason), 200)]
	}
	e, err := c.SetStage(r.PathValue("name"), req.Stage, reason)
	switch {
	case errors.Is(err, chain.ErrUnknown):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, chain.ErrInvalid):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	default:
		writeJSON(w, http.StatusOK, e)
	}
}

// providersDoc is GET /providers: per chain, its providers and newest
// stage transitions.
type providersDoc struct {
	Chains []chainProviders `json:"chains"`
}

type chainProviders struct {
	Name        string                `json:"name"`
	Providers   []chain.ProviderEntry `json:"providers"`
	Transitions []chain.Transition    `json:"transitions"`
}

// listProviders serves GET /providers; ?limit=N bounds the transitions
// listed per chain (default 100).
func (g *Gateway) listProviders(w http.ResponseWriter, r *http.Request) {
	n := 100
	if v, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && v > 0 {
		n = v
	}
	doc := providersDoc{Chains: []chainProviders{}}
	for _, c := range g.chains {
		cp := chainProviders{Name: c.Name(), Providers: c.Providers(), Transitions: c.Transitions(n)}
		if cp.Providers == nil {
			cp.Providers = []chain.ProviderEntry{}
		}
		if cp.Transitions == nil {
			cp.Transitions = []chain.Transition{}
		}
		doc.Chains = append(doc.Chains, cp)
	}
	writeJSON(w, http.StatusOK, doc)
}

// authorized lets a request through to next only with the configured
// bearer token: 403 when none is configured (the routes are off), 401
// when the request has no token or another one.
func (g *Gateway) authorized(next http.HandlerFunc) http.Handler {
	want := g.cfg.Admission.Token
	wantSum := sha256.Sum256([]byte(want))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if want == "" {
			http.Error(w, "changing providers at run time is off: set admission.token in the config", http.StatusForbidden)
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		// Equal-length digests, compared in constant time: neither the
		// token's bytes nor its length leak through timing.
		gotSum := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if !ok || subtle.ConstantTimeCompare(gotSum[:], wantSum[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rpcmesh admin"`)
			http.Error(w, "a valid admin token is required (Authorization: Bearer <admission.token>)", http.StatusUnauthorized)
			return
		}
		next(w, r)
	})
}

// addProvider serves POST /providers[/{chain}]: the body is one provider
// entry as in the config (JSON or YAML); the chain may be left out when
// the gateway serves one.
func (g *Gateway) addProvider(w http.ResponseWriter, r *http.Request) {
	c, ok := g.providersChain(w, r.PathValue("chain"))
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxProviderBody))
	if err != nil {
		http.Error(w, "the provider entry could not be read: it must be at most 64 KiB", http.StatusBadRequest)
		return
	}
	pc, err := config.ParseProvider(body)
	if err != nil {
		http.Error(w, "bad provider entry: "+err.Error(), http.StatusBadRequest)
		return
	}
	e, err := c.AddProvider(pc)
	switch {
	case errors.Is(err, chain.ErrInvalid):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case errors.Is(err, chain.ErrNotRunning):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	default:
		writeJSON(w, http.StatusCreated, e)
	}
}

// removeProvider serves DELETE /providers/{chain}/{name}: the provider
// takes no new call at once, and is closed once its calls in flight are
// done (at most admission.drain_timeout).
func (g *Gateway) removeProvider(w http.ResponseWriter, r *http.Request) {
	c, ok := g.providersChain(w, r.PathValue("chain"))
	if !ok {
		return
	}
	name := r.PathValue("name")
	if err := c.RemoveProvider(r.Context(), name); err != nil {
		switch {
		case errors.Is(err, chain.ErrUnknown):
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		case errors.Is(err, chain.ErrInvalid):
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"chain": c.Name(), "removed": name})
}

// providersChain finds the chain a provider route names (the only one when the
// name is empty), or answers 404 / 400.
func (g *Gateway) providersChain(w http.ResponseWriter, name string) (*chain.Chain, bool) {
	if name == "" {
		if len(g.chains) == 1 {
			return g.chains[0], true
		}
		http.Error(w, "the gateway serves several chains: name one, as POST /providers/{chain}", http.StatusBadRequest)
		return nil, false
	}
	for _, c := range g.chains {
		if c.Name() == name {
			return c, true
		}
	}
	http.Error(w, "no chain named "+strconv.Quote(name), http.StatusNotFound)
	return nil, false
}

// writeJSON writes v as indented JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
