package vet

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

// Exit codes of `rpcmesh vet` (docs/vetting.md).
const (
	ExitAdmit  = 0 // every criterion met
	ExitReject = 1 // at least one criterion failed
	ExitError  = 2 // bad usage or input, or the run could not finish
)

const usageText = `usage: rpcmesh vet URL [--chain C] [--against CONFIG] [flags]

Vets the candidate provider at URL (http:// or https://) against the
operators already admitted: the providers of chain C in CONFIG. Prints a
report with a verdict (--json for JSON); progress goes to stderr.
Exit status: 0 admit, 1 reject, 2 bad usage or input, or the run failed.
The criteria come from CONFIG's vetting section; flags override them.
See docs/vetting.md.

flags:`

// Main runs `rpcmesh vet` with args and returns its exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	chain := fs.String("chain", "", "the config's `chain` to vet for (needed when it has several)")
	against := fs.String("against", "rpcmesh.yaml", "the gateway `config` whose providers are the admitted operators")
	ws := fs.String("ws", "", "the candidate's WebSocket `URL` (default: URL with ws:// or wss://)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	vettingFlags(fs, &config.Vetting{})

	rest, candidate, err := parseInterleaved(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return ExitAdmit
	case err != nil:
		return ExitError // the flag package printed why
	case len(rest) > 0:
		return fail(stderr, fmt.Errorf("one candidate URL at a time; also given: %s", strings.Join(rest, " ")))
	case candidate == "":
		fs.Usage()
		return ExitError
	}
	if err := checkURL(candidate, "http", "https"); err != nil {
		return fail(stderr, err)
	}
	if *ws != "" {
		if err := checkURL(*ws, "ws", "wss"); err != nil {
			return fail(stderr, fmt.Errorf("--ws: %w", err))
		}
	}
	cfg, err := config.Load(*against)
	if err != nil {
		return fail(stderr, fmt.Errorf("--against: %w", err))
	}
	// Flags given override the config's vetting section, key by key: each
	// is set again on flags bound to the section (bound before the section
	// is copied in, as binding writes the flags' zero defaults).
	var merged config.Vetting
	override := flag.NewFlagSet("vet", flag.ContinueOnError)
	vettingFlags(override, &merged)
	merged = cfg.Vetting
	fs.Visit(func(f *flag.Flag) {
		if override.Lookup(f.Name) != nil {
			_ = override.Set(f.Name, f.Value.String()) // parsed once already
		}
	})
	crit, err := CriteriaFrom(merged)
	if err != nil {
		return fail(stderr, err)
	}
	var progress io.Writer = stderr
	if *quiet {
		progress = nil
	}
	rep, err := Run(ctx, Options{URL: candidate, WSURL: *ws, Config: cfg, Chain: *chain, Criteria: crit, Progress: progress})
	if err != nil {
		return fail(stderr, err)
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return fail(stderr, fmt.Errorf("write the report: %w", err))
	}
	if rep.Verdict == Admit {
		return ExitAdmit
	}
	fmt.Fprintf(stderr, "rpcmesh vet: rejected: %s\n", strings.Join(rep.FailedCriteria(), ", "))
	return ExitReject
}

// parseInterleaved parses flags before and after the positional
// arguments, so that `vet URL --chain C` works as `vet --chain C URL`;
// the first positional is the candidate, the others are returned.
func parseInterleaved(fs *flag.FlagSet, args []string) (rest []string, candidate string, err error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, "", err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) == 0 {
		return nil, "", nil
	}
	return pos[1:], pos[0], nil
}

// fail prints err in plain words and returns ExitError.
func fail(w io.Writer, err error) int {
	fmt.Fprintf(w, "rpcmesh vet: %v\n", err)
	return ExitError
}

func checkURL(s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Scheme, schemes[0]) && !strings.EqualFold(u.Scheme, schemes[1]) {
		return fmt.Errorf("%q is not a %s:// or %s:// URL", s, schemes[0], schemes[1])
	}
	return nil
}

// vettingFlags binds to v the flags that override the vetting section's keys.
func vettingFlags(fs *flag.FlagSet, v *config.Vetting) {
	fs.Uint64Var(&v.MaxLagBlocks, "max-lag", 0, "most `blocks` the candidate's head may be off the agreed head (default 3)")
	fs.Uint64Var(&v.MinArchiveBlocks, "min-archive", 0, "least `blocks` of state below the head (default 128)")
	fs.Var((*methodList)(&v.RequiredMethods), "require", "required `methods`, comma-separated (default: docs/vetting.md's list)")
	fs.Float64Var(&v.TargetRate, "target-rate", 0, "request `rate` per second the load ramps to (default 50)")
	fs.IntVar(&v.RampSteps, "ramp-steps", 0, "`steps` of the ramp (default 4)")
	fs.Var((*durationFlag)(&v.StepDuration), "step", "how long each ramp step lasts (default 2s)")
	fs.Var((*durationFlag)(&v.MaxP99), "max-p99", "most p99 latency at the target rate (default 500ms)")
	fs.Float64Var(&v.MaxErrorRate, "max-error-rate", 0, "most `share` of failed calls at the target rate (default 0.01)")
	fs.Float64Var(&v.MaxThrottleRate, "max-throttle-rate", 0, "most `share` of throttled calls (429) at or below the target rate (default 0)")
	fs.BoolVar(&v.WebSocketOptional, "websocket-optional", false, "admit a candidate without WebSocket")
	fs.Var((*durationFlag)(&v.NewHeadsTimeout), "newheads-timeout", "wait for the first newHeads notification (default 30s)")
	fs.IntVar(&v.SampleBlocks, "sample-blocks", 0, "`blocks` whose answers are checked (default 8)")
	fs.IntVar(&v.SampleAccounts, "sample-accounts", 0, "`accounts` checked at each sampled block (default 4)")
	fs.Var((*durationFlag)(&v.CallTimeout), "timeout", "bound of one call to the candidate (default 10s)")
}

// methodList is a flag of comma-separated method names.
type methodList []string

// String joins the methods with commas.
func (m *methodList) String() string { return strings.Join(*m, ",") }

// Set splits s at commas, dropping empty names.
func (m *methodList) Set(s string) error {
	*m = nil
	for _, name := range strings.Split(s, ",") {
		if name = strings.TrimSpace(name); name != "" {
			*m = append(*m, name)
		}
	}
	return nil
}

// durationFlag is a config.Duration flag that reads "500ms".
type durationFlag config.Duration

// String writes d as "500ms".
func (d *durationFlag) String() string { return config.Duration(*d).String() }

// Set reads "500ms" or "2s".
func (d *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 500ms or 2s", s)
	}
	*d = durationFlag(v)
	return nil
}
