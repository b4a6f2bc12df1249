package incident

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
)

// impact is what users saw while an incident lasted: answers that failed
// and answers slower than the slow threshold.
type impact struct {
	failed, slowed uint64
}

// level is the impact as one word.
func (i impact) level() status.Impact {
	switch {
	case i.failed > 0:
		return status.ImpactFailed
	case i.slowed > 0:
		return status.ImpactSlowed
	}
	return status.ImpactNone
}

// words says the impact in plain words.
func (i impact) words(slow time.Duration) string {
	var parts []string
	if i.failed > 0 {
		parts = append(parts, plural(i.failed, "failed request", "failed requests"))
	}
	if i.slowed > 0 {
		parts = append(parts, fmt.Sprintf("%s (over %s)", plural(i.slowed, "slowed request", "slowed requests"), slow))
	}
	if len(parts) == 0 {
		return "no failed requests"
	}
	return strings.Join(parts, " and ")
}

func plural(n uint64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// clock formats t as people read it on a status page: "14:02:05 UTC".
func clock(t time.Time) string { return t.UTC().Format("15:04:05") + " UTC" }

// message says in plain words what c is, since when, what serves requests
// meanwhile and what users saw.
func message(chain string, c *condition, o *Observation, since time.Time, imp impact, slow time.Duration) string {
	what := ""
	switch c.kind {
	case status.KindProviderDown, status.KindCloudOutage, status.KindRegionOutage:
		what = affected(c, o) + " unreachable since " + clock(since) + "; " + servedBy(c, o)
	case status.KindProviderDegraded:
		what = affected(c, o) + " failing, throttled or slow since " + clock(since) + "; " + servedBy(c, o)
	case status.KindProviderLagging:
		p := c.providers[0]
		what = fmt.Sprintf("%s behind the agreed head (block %d, it reports %d) since %s; %s", affected(c, o), o.Head, p.Head, clock(since), servedBy(c, o))
	case status.KindProviderForked:
		what = affected(c, o) + " on a fork the other operators do not follow since " + clock(since) + "; its answers are not used; " + servedBy(c, o)
	case status.KindVerification:
		what = fmt.Sprintf("%s has served answers that failed verification since %s (%d so far); they were refused and the provider is avoided",
			affected(c, o), clock(since), c.providers[0].VerifyFailures)
	case status.KindCensorship:
		what = fmt.Sprintf("%s has dropped transactions it acknowledged since %s (%d so far); transactions are sent through the others too",
			affected(c, o), clock(since), c.providers[0].Censored)
	case status.KindHeadFrozen:
		what = fmt.Sprintf("the agreed head has stood at block %d since %s while %s reports block %d; ",
			c.head, clock(since), names(c.providers), c.top)
		if o.Head > o.Agreed {
			what += fmt.Sprintf("answers follow %s alone, on degraded trust (head %d)", names(c.providers), o.Head)
		} else {
			what += "answers may be stale"
		}
	case status.KindChainHalted:
		what = fmt.Sprintf("no provider has a block after %d since %s: the chain itself seems halted", c.head, clock(since))
	case status.KindCapacity:
		what = fmt.Sprintf("every provider of tier %s (%s) gone since %s; %s", c.subject, names(c.providers), clock(since), servedBy(c, o))
	case status.KindConcentration:
		what = fmt.Sprintf("%s carries %.0f%% of the traffic, above its %.0f%% cap, since %s, because the others are unavailable",
			c.subject, 100*c.share, 100*c.cap, clock(since))
	}
	return chain + ": " + what + "; " + imp.words(slow)
}

// affected names what c affects: one provider with its operator and
// labels, or "2 of 5 operators (both on aws, us-east-1)".
func affected(c *condition, o *Observation) string {
	if len(c.providers) == 1 && c.kind != status.KindCloudOutage && c.kind != status.KindRegionOutage {
		p := c.providers[0]
		return p.Name + " (" + strings.Join(nonEmpty(p.Operator, strings.Join(nonEmpty(p.Cloud, p.Region), ", ")), " on ") + ")"
	}
	ops := distinct(c.providers, func(p Provider) string { return p.Operator })
	all := distinct(o.Providers, func(p Provider) string { return p.Operator })
	clouds := distinct(c.providers, func(p Provider) string { return p.Cloud })
	regions := distinct(c.providers, func(p Provider) string { return p.Region })
	every := "both"
	if len(c.providers) > 2 {
		every = fmt.Sprintf("all %d", len(c.providers))
	}
	where := every + " on " + and(clouds) + ", " + and(regions)
	if c.kind == status.KindRegionOutage {
		where = every + " in " + and(regions) + ", on " + and(clouds)
	}
	return fmt.Sprintf("%d of %d operators (%s)", len(ops), len(all), where)
}

// servedBy says who serves requests while c lasts: the operators with a
// provider neither affected nor failing.
func servedBy(c *condition, o *Observation) string {
	hit := map[string]bool{}
	for _, p := range c.providers {
		hit[p.Name] = true
	}
	var ok []Provider
	for _, p := range o.Providers {
		if !hit[p.Name] && !failing(p.State) {
			ok = append(ok, p)
		}
	}
	n := len(distinct(ok, func(p Provider) string { return p.Operator }))
	switch n {
	case 0:
		return "no other operator is left to serve requests"
	case 1:
		return "requests are served by the other 1"
	}
	return fmt.Sprintf("requests are served by the other %d", n)
}

func names(ps []Provider) string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return and(out)
}

func distinct(ps []Provider, of func(Provider) string) []string {
	var out []string
	for _, p := range ps {
		if v := of(p); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func nonEmpty(vs ...string) []string {
	return slices.DeleteFunc(vs, func(v string) bool { return v == "" })
}

// and joins "a", "a and b", "a, b and c".
func and(vs []string) string {
	switch len(vs) {
	case 0:
		return "unlabelled"
	case 1:
		return vs[0]
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " and " + vs[len(vs)-1]
}
