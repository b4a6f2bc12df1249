package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// maxProcsLimit is the most server.max_procs may say: a bound on typos,
// above the CPU count of any machine rpcmesh serves from.
const maxProcsLimit = 1024

// Validate checks a complete config (Complete already called) and returns
// every problem found, each a *FieldError naming the field path. Parse and
// Load call it for you, with line numbers.
func (c *Config) Validate() error {
	v := &validator{}
	v.config(c)
	return joinSorted(v.errs)
}

// validator collects the problems of one config.
type validator struct {
	file    string
	lines   map[string]int  // from the decoder; nil for a config built in code
	fromEnv map[string]bool // paths whose value came from ${...}: not echoed
	errs    []*FieldError
}

// line returns the line of path, or of its nearest ancestor in the file.
func (v *validator) line(path string) int {
	for ; path != ""; path = parent(path) {
		if l, ok := v.lines[path]; ok {
			return l
		}
	}
	return 0
}

func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{File: v.file, Line: v.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// show quotes a value for a message, except one that came from the environment.
func (v *validator) show(path, value string) string {
	if v.fromEnv[path] {
		return "(the value from the environment)"
	}
	return quote(value)
}

func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.errorf(path, "must be a positive duration, got %s", d)
	}
}

func (v *validator) nonNegative(path string, d Duration) {
	if d < 0 {
		v.errorf(path, "must not be negative, got %s", d)
	}
}

func (v *validator) atLeastOne(path string, n int64) {
	if n < 1 {
		v.errorf(path, "must be at least 1, got %d", n)
	}
}

func (v *validator) config(c *Config) {
	v.server(c)
	v.limits(&c.Limits)
	for _, e := range checkRouting(c.Routing, c.Limits.RequestTimeout) {
		v.errorf(join("routing", e.keys[0]), "%s", e.msg)
	}
	v.health(&c.Health, c.Limits.RequestTimeout)
	v.websocket(&c.WebSocket)
	v.broadcast(&c.Broadcast)
	v.filters(&c.Filters, c.Limits.MaxResponseBytes)
	v.notify(c)
	v.audit(c)
	v.incidents(c)
	v.verify("verify", &c.Verify)
	v.usage(c)
	v.admission(c)
	v.chains(c)
	v.statusPage(c)
}

func (v *validator) server(c *Config) {
	s := &c.Server
	v.listenAddr("server.listen", s.Listen, false)
	v.positive("server.read_header_timeout", s.ReadHeaderTimeout)
	v.positive("server.read_timeout", s.ReadTimeout)
	v.positive("server.write_timeout", s.WriteTimeout)
	v.positive("server.idle_timeout", s.IdleTimeout)
	v.positive("server.shutdown_timeout", s.ShutdownTimeout)
	if s.GCPercent < 25 || s.GCPercent > 10000 {
		v.errorf("server.gc_percent", "must be between 25 and 10000, got %d", s.GCPercent)
	}
	if s.MemoryLimitMiB < 0 {
		v.errorf("server.memory_limit_mib", "must be 0 (no limit) or more, got %d", s.MemoryLimitMiB)
	}
	if s.MaxProcs < 0 || s.MaxProcs > maxProcsLimit {
		v.errorf("server.max_procs", "must be 0 (Go's default: the CPUs available) to %d, got %d", maxProcsLimit, s.MaxProcs)
	}
	if s.ReadHeaderTimeout > s.ReadTimeout && s.ReadTimeout > 0 {
		v.errorf("server.read_header_timeout", "%s is longer than server.read_timeout (%s), which also covers the headers", s.ReadHeaderTimeout, s.ReadTimeout)
	}
	if s.MaxHeaderBytes < 4<<10 || s.MaxHeaderBytes > 1<<20 {
		v.errorf("server.max_header_bytes", "must be between 4096 and 1048576, got %d", s.MaxHeaderBytes)
	}
	for i, o := range s.CORS.AllowedOrigins {
		path := fmt.Sprintf("server.cors.allowed_origins[%d]", i)
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			v.errorf(path, "%s is not \"*\" or an origin like \"https://app.example.com\"", v.show(path, o))
		}
	}
	v.nonNegative("server.cors.max_age", s.CORS.MaxAge)
	if c.Admin.Listen != "" {
		v.listenAddr("admin.listen", c.Admin.Listen, true)
		// Port 0 asks the kernel for a free port: two such listeners never clash.
		if _, port, _ := net.SplitHostPort(c.Admin.Listen); c.Admin.Listen == s.Listen && port != "0" {
			v.errorf("admin.listen", "%s is also server.listen; give the admin listener its own port (or \"\" to disable it)", v.show("admin.listen", c.Admin.Listen))
		}
	}
}

// listenAddr checks a "host:port" to listen on.
func (v *validator) listenAddr(path, addr string, disable bool) {
	hint := ""
	if disable {
		hint = ` (or "" to disable)`
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.errorf(path, "%s is not a host:port address like \"127.0.0.1:8545\"%s", v.show(path, addr), hint)
		return
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		v.errorf(path, "%s: port %s is not a number from 0 to 65535", v.show(path, addr), quote(port))
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		v.errorf(path, "%s: %s is not an IP address or host name", v.show(path, addr), quote(host))
	}
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

func validHostname(h string) bool { return len(h) <= 253 && hostnameRE.MatchString(h) }

func (v *validator) limits(l *Limits) {
	v.atLeastOne("limits.max_body_bytes", l.MaxBodyBytes)
	v.atLeastOne("limits.max_batch_items", int64(l.MaxBatchItems))
	v.atLeastOne("limits.batch_concurrency", int64(l.BatchConcurrency))
	v.atLeastOne("limits.max_response_bytes", l.MaxResponseBytes)
	v.positive("limits.request_timeout", l.RequestTimeout)
	v.atLeastOne("limits.max_concurrent_requests", int64(l.MaxConcurrentRequests))
	if l.MaxLogsBlockRange < 1 {
		v.errorf("limits.max_logs_block_range", "must be at least 1, got 0")
	}
	if l.LogsSplitBlocks < 1 {
		v.errorf("limits.logs_split_blocks", "must be at least 1, got 0")
	} else if l.LogsSplitBlocks > l.MaxLogsBlockRange && l.MaxLogsBlockRange > 0 {
		v.errorf("limits.logs_split_blocks", "%d is larger than limits.max_logs_block_range (%d)", l.LogsSplitBlocks, l.MaxLogsBlockRange)
	}
}

func (v *validator) health(h *Health, requestTimeout Duration) {
	v.positive("health.poll_interval", h.PollInterval)
	v.positive("health.poll_min_interval", h.PollMinInterval)
	if h.HeadStaleBlocks < 0 || h.HeadStaleBlocks > 0 && h.HeadStaleBlocks < 1 {
		v.errorf("health.head_stale_blocks", "must be 0 (off) or at least 1, got %g", h.HeadStaleBlocks)
	}
	if h.ReadyStaleBlocks < 0 {
		v.errorf("health.ready_stale_blocks", "must be 0 (off) or positive, got %g", h.ReadyStaleBlocks)
	}
	v.positive("health.chain_id_interval", h.ChainIDInterval)
	v.atLeastOne("health.breaker_failures", int64(h.BreakerFailures))
	v.positive("health.breaker_cooldown", h.BreakerCooldown)
	v.positive("health.probe_interval", h.ProbeInterval)
	v.positive("health.ewma_half_life", h.EWMAHalfLife)
	v.positive("health.penalty_half_life", h.PenaltyHalfLife)
	v.positive("health.provider_timeout", h.ProviderTimeout)
	if h.ProviderTimeout > requestTimeout && requestTimeout > 0 {
		v.errorf("health.provider_timeout", "%s is longer than limits.request_timeout (%s): a hung provider would use up the whole request and leave no time to retry", h.ProviderTimeout, requestTimeout)
	}
}

// routingProblem is one routing check that failed; keys are the routing keys
// involved, the one to blame first.
type routingProblem struct {
	keys []string
	msg  string
}

// MaxRetries bounds routing.retries.
const MaxRetries = 10

// checkRouting checks one routing block (top-level or a chain's effective one).
func checkRouting(r Routing, requestTimeout Duration) []routingProblem {
	var out []routingProblem
	bad := func(msg string, keys ...string) { out = append(out, routingProblem{keys, msg}) }
	share := func(key string, x float64) {
		if !(x > 0 && x <= 1) {
			bad(fmt.Sprintf("must be in (0, 1], got %g", x), key)
		}
	}
	share("max_operator_share", r.MaxOperatorShare)
	share("max_cloud_share", r.MaxCloudShare)
	if r.ShareWindow <= 0 {
		bad(fmt.Sprintf("must be a positive duration, got %s", r.ShareWindow), "share_window")
	}
	if r.Retries < 0 || r.Retries > MaxRetries {
		bad(fmt.Sprintf("must be from 0 to %d, got %d", MaxRetries, r.Retries), "retries")
	}
	if r.RetryBackoff < 0 {
		bad(fmt.Sprintf("must not be negative, got %s", r.RetryBackoff), "retry_backoff")
	}
	if !(r.HedgeQuantile > 0 && r.HedgeQuantile < 1) {
		bad(fmt.Sprintf("must be in (0, 1), got %g", r.HedgeQuantile), "hedge_quantile")
	}
	if r.HedgeMinDelay < 0 {
		bad(fmt.Sprintf("must not be negative, got %s", r.HedgeMinDelay), "hedge_min_delay")
	}
	if r.HedgeMaxDelay <= 0 {
		bad(fmt.Sprintf("must be a positive duration, got %s", r.HedgeMaxDelay), "hedge_max_delay")
	} else if r.HedgeMinDelay > r.HedgeMaxDelay {
		bad(fmt.Sprintf("hedge_min_delay (%s) is longer than hedge_max_delay (%s)", r.HedgeMinDelay, r.HedgeMaxDelay), "hedge_min_delay", "hedge_max_delay")
	} else if requestTimeout > 0 && r.HedgeMaxDelay >= requestTimeout {
		bad(fmt.Sprintf("%s is not shorter than limits.request_timeout (%s): the hedge would never fire", r.HedgeMaxDelay, requestTimeout), "hedge_max_delay")
	}
	if !(r.ExplorationShare >= 0 && r.ExplorationShare < 1) {
		bad(fmt.Sprintf("must be in [0, 1), got %g", r.ExplorationShare), "exploration_share")
	}
	return append(out, checkPrivacy(r)...)
}

var chainNameRE = regexp.MustCompile(`^[a-z0-9-]+$`)

// MaxNameLen bounds chain and provider names (they are URL paths and metric labels).
const MaxNameLen = 64

func (v *validator) chains(c *Config) {
	if len(c.Chains) == 0 {
		v.errorf("chains", "at least one chain is required")
		return
	}
	names := map[string]int{}
	ids := map[uint64]int{}
	for i := range c.Chains {
		ch := &c.Chains[i]
		p := fmt.Sprintf("chains[%d]", i)
		switch {
		case ch.Name == "":
			v.errorf(p+".name", "is required")
		case len(ch.Name) > MaxNameLen || !chainNameRE.MatchString(ch.Name):
			v.errorf(p+".name", "%s must be 1 to %d characters of a-z, 0-9 and -", v.show(p+".name", ch.Name), MaxNameLen)
		case strings.Trim(ch.Name, "0123456789") == "":
			v.errorf(p+".name", "%s is all digits; it would be read as a chain ID in /%s", quote(ch.Name), ch.Name)
		}
		if j, dup := names[ch.Name]; dup && ch.Name != "" {
			v.errorf(p+".name", "%s is also the name of chains[%d]", v.show(p+".name", ch.Name), j)
		} else {
			names[ch.Name] = i
		}
		if ch.ChainID == 0 {
			v.errorf(p+".chain_id", "is required (the chain's EIP-155 ID, e.g. 1 for Ethereum)")
		} else if j, dup := ids[ch.ChainID]; dup {
			v.errorf(p+".chain_id", "%d is also the chain_id of chains[%d]", ch.ChainID, j)
		} else {
			ids[ch.ChainID] = i
		}
		v.chainRouting(c, ch, p)
		if len(ch.Providers) == 0 {
			v.errorf(p+".providers", "at least one provider is required")
			continue
		}
		ops := ch.Operators()
		if ch.Verify != nil {
			v.verify(p+".verify", ch.Verify)
		}
		if ch.HeadAgreement < 1 {
			v.errorf(p+".head_agreement", "must be at least 1, got %d", ch.HeadAgreement)
		} else if ch.HeadAgreement > ops {
			v.errorf(p+".head_agreement", "%d operators must agree on the head but the chain's providers have only %d distinct operators", ch.HeadAgreement, ops)
		}
		v.providers(ch, p)
	}
}

// chainRouting checks a chain's effective routing, blaming only the keys its
// own routing block sets (problems with inherited values are reported once,
// at the top-level routing).
func (v *validator) chainRouting(c *Config, ch *Chain, p string) {
	if ch.Routing == nil {
		return
	}
	set := func(key string) bool {
		if v.lines == nil { // built in code: every non-zero field is its own
			return true
		}
		_, ok := v.lines[p+".routing."+key]
		return ok
	}
	for _, e := range checkRouting(ch.EffectiveRouting(c.Routing), c.Limits.RequestTimeout) {
		for _, k := range e.keys {
			if set(k) {
				v.errorf(p+".routing."+k, "%s", e.msg)
				break
			}
		}
	}
}

func (v *validator) providers(ch *Chain, chainPath string) {
	names := map[string]int{}
	urls := map[string]int{}
	for i := range ch.Providers {
		pr := &ch.Providers[i]
		p := fmt.Sprintf("%s.providers[%d]", chainPath, i)
		switch {
		case pr.Name == "":
			v.errorf(p+".name", "is required")
		case len(pr.Name) > MaxNameLen || strings.ContainsFunc(pr.Name, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			v.errorf(p+".name", "%s must be 1 to %d characters without spaces", v.show(p+".name", pr.Name), MaxNameLen)
		}
		if j, dup := names[pr.Name]; dup && pr.Name != "" {
			v.errorf(p+".name", "%s is also the name of providers[%d] of this chain", v.show(p+".name", pr.Name), j)
		} else {
			names[pr.Name] = i
		}
		if pr.HTTP == "" {
			v.errorf(p+".http", "is required (the provider's http(s) JSON-RPC URL)")
		} else if !validURL(pr.HTTP, "http", "https") {
			v.errorf(p+".http", "%s is not an http(s) URL", v.show(p+".http", pr.HTTP))
		} else if j, dup := urls[pr.HTTP]; dup {
			v.errorf(p+".http", "same URL as providers[%d]: one endpoint listed twice would count twice", j)
		} else {
			urls[pr.HTTP] = i
		}
		if pr.WS != "" && !validURL(pr.WS, "ws", "wss") {
			v.errorf(p+".ws", "%s is not a ws(s) URL", v.show(p+".ws", pr.WS))
		}
		if TierRank(pr.Labels.Tier) > TierRank(TierPublic) {
			v.errorf(p+".labels.tier", "%s is not one of own, partner, community, public", v.show(p+".labels.tier", pr.Labels.Tier))
		}
		if !(pr.Weight > 0) || math.IsInf(pr.Weight, 0) {
			v.errorf(p+".weight", "must be a positive number, got %g", pr.Weight)
		}
		v.atLeastOne(p+".max_concurrency", int64(pr.MaxConcurrency))
		switch pr.CallTransport {
		case CallTransportHTTP:
		case CallTransportWS:
			if pr.WS == "" {
				v.errorf(p+".call_transport", "ws needs the provider's ws URL: set ws, or use call_transport: http")
			}
		default:
			v.errorf(p+".call_transport", "%s is not one of http, ws", v.show(p+".call_transport", pr.CallTransport))
		}
		if pr.CoalesceAbove < 0 || pr.CoalesceAbove > MaxCoalesce {
			v.errorf(p+".coalesce_above", "must be 0 (off) to %d, got %d", MaxCoalesce, pr.CoalesceAbove)
		} else if pr.CoalesceAbove >= pr.MaxConcurrency && pr.MaxConcurrency > 0 {
			v.errorf(p+".coalesce_above", "%d never comes into play: it must be below max_concurrency (%d), which holds calls back first", pr.CoalesceAbove, pr.MaxConcurrency)
		}
		if pr.CoalesceMax < 2 || pr.CoalesceMax > MaxCoalesce {
			v.errorf(p+".coalesce_max", "must be between 2 and %d, got %d", MaxCoalesce, pr.CoalesceMax)
		}
		if pr.WSConns < 1 || pr.WSConns > MaxWSConns {
			v.errorf(p+".ws_conns", "must be between 1 and %d, got %d", MaxWSConns, pr.WSConns)
		}
		if !(pr.MaxRPS >= 0) || math.IsInf(pr.MaxRPS, 0) {
			v.errorf(p+".max_rps", "must be 0 (unlimited) or a positive number, got %g", pr.MaxRPS)
		}
	}
}

// validURL reports whether s is an absolute URL with one of schemes and a host.
func validURL(s string, schemes ...string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return false
	}
	for _, sc := range schemes {
		if u.Scheme == sc {
			return true
		}
	}
	return false
}
