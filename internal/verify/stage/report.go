package stage

import (
	"context"
	"sort"
	"strings"
	"sync"

	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// Report says how one call's answer was established. The server puts an
// empty Report in the call's context (WithReport) and, after the pipeline
// answered, writes it into a response header and metrics.
type Report struct {
	mu        sync.Mutex
	class     Class
	operators map[string]bool
	note      string
	agreed    bool // a header was trusted by operator agreement, not by its link to the head
}

type reportKey struct{}

// WithReport returns ctx carrying a new, empty Report.
func WithReport(ctx context.Context) (context.Context, *Report) {
	r := &Report{}
	return context.WithValue(ctx, reportKey{}, r), r
}

// ReportFrom returns the Report in ctx, or nil.
func ReportFrom(ctx context.Context) *Report {
	r, _ := ctx.Value(reportKey{}).(*Report)
	return r
}

// waveReportsKey carries the reports of a wave's calls, by call.
type waveReportsKey struct{}

// WithWaveReports returns ctx carrying a new, empty Report for each of a
// wave's calls (reports[i] is calls[i]'s), for a pipeline that takes the
// wave whole: the stage gives each call its own in its context.
func WithWaveReports(ctx context.Context, calls []*pipeline.Call) (context.Context, []*Report) {
	reports := make([]*Report, len(calls))
	byCall := make(map[*pipeline.Call]*Report, len(calls))
	for i, c := range calls {
		reports[i] = &Report{}
		byCall[c] = reports[i]
	}
	return context.WithValue(ctx, waveReportsKey{}, byCall), reports
}

// callContext returns ctx carrying c's Report when ctx carries its wave's
// reports (WithWaveReports), or ctx as it is.
func callContext(ctx context.Context, c *pipeline.Call) context.Context {
	byCall, _ := ctx.Value(waveReportsKey{}).(map[*pipeline.Call]*Report)
	if r := byCall[c]; r != nil {
		return context.WithValue(ctx, reportKey{}, r)
	}
	return ctx
}

// set records the class, the operators whose answers were used and a note.
func (r *Report) set(class Class, note string, operators ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.class, r.note = class, note
	r.operators = map[string]bool{}
	for _, o := range operators {
		if o != "" {
			r.operators[o] = true
		}
	}
}

// agreedHeader records that the answer rests on a header trusted by
// operator agreement (a block too far below the head to link).
func (r *Report) agreedHeader() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.agreed = true
}

// AgreedHeader reports whether a proven answer rests on a header trusted
// by operator agreement rather than by its link to the agreed head.
func (r *Report) AgreedHeader() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.agreed && r.class == ClassProof
}

// Class is how the answer was established; "" when the stage did not answer.
func (r *Report) Class() Class {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.class
}

// Operators are the operators whose answers the result rests on, sorted.
func (r *Report) Operators() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.operators))
	for o := range r.operators {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// Note explains a fallback (e.g. "log range beyond 64 blocks: quorum").
func (r *Report) Note() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.note
}

// Header is the value of the X-Rpcmesh-Verified response header, e.g.
// "proof; operators=blocklabs,nodeworks".
func (r *Report) Header() string {
	c := r.Class()
	if c == "" {
		return ""
	}
	s := string(c)
	if ops := r.Operators(); len(ops) > 0 {
		s += "; operators=" + strings.Join(ops, ",")
	}
	if n := r.Note(); n != "" {
		s += "; note=\"" + strings.ReplaceAll(n, `"`, `'`) + "\""
	}
	if r.AgreedHeader() {
		s += "; header=agreed"
	}
	return s
}
