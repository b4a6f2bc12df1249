package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Main runs `rpcmesh-bench` with its arguments: the load generator,
// `upstream` for the trivial upstream, `floor` for the floor server, or
// `hop` for the forwarding hop.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "upstream" {
		return mainUpstream(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "floor" {
		return mainFloor(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "hop" {
		return mainHop(ctx, args[1:], stdout, stderr)
	}
	o, asJSON, err := ParseArgs(args, stderr)
	if err != nil {
		return err
	}
	o.Progress = stderr
	rep, runErr := Run(ctx, o)
	if rep == nil {
		return runErr
	}
	if asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if runErr != nil {
		return fmt.Errorf("interrupted, partial report above: %w", runErr)
	}
	return err
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// rateFlag parses "500" or "500/s".
type rateFlag float64

func (r *rateFlag) String() string { return strconv.FormatFloat(float64(*r), 'g', -1, 64) }
func (r *rateFlag) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "/s"), 64)
	if err != nil || v < 0 {
		return fmt.Errorf("want requests per second, e.g. 500 or 500/s")
	}
	*r = rateFlag(v)
	return nil
}

// ParseArgs parses the load generator's flags into Options, and whether the
// report is wanted as JSON. Usage and flag errors go to stderr.
func ParseArgs(args []string, stderr io.Writer) (Options, bool, error) {
	fs := flag.NewFlagSet("rpcmesh-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		targets, methods, mixes listFlag
		pids                    listFlag
		rate                    rateFlag
		o                       Options
		params, mixFile         string
		distinct, asJSON        bool
	)
	fs.Var(&targets, "target", "`[name=]URL` to load: http(s):// or ws(s)://; repeat to compare, ratios are to the first")
	fs.Var(&pids, "pid", "`name=PID` of the process serving a target (e.g. the gateway): report its CPU per call and peak RSS (Linux)")
	fs.Var(&rate, "rate", "open loop: requests per second per target (`N` or N/s), latency from the scheduled send time; 0 = closed loop")
	fs.IntVar(&o.Concurrency, "concurrency", DefaultConcurrency, "workers and connections per target (closed loop: requests in flight; open loop: the most in flight)")
	fs.DurationVar(&o.Duration, "duration", DefaultDuration, "measured time per target (at most "+MaxDuration.String()+")")
	fs.Int64Var(&o.Requests, "requests", 0, "also stop each target after this many requests (0 = duration only)")
	fs.Var(&methods, "method", "a `method` to call with its default params (repeatable; weight 1)")
	fs.StringVar(&params, "params", "", "JSON params template for the single --method (e.g. '[\"$address\",\"latest\"]')")
	fs.Var(&mixes, "mix", "weighted methods `m1=3,m2=1`")
	fs.StringVar(&mixFile, "mix-file", "", "mix `file` (.json or .yaml): methods, weights, params templates and lists")
	fs.IntVar(&o.Batch, "batch", 0, "send batches of `N` calls (0 = single calls)")
	fs.BoolVar(&distinct, "distinct", false, "vary default params per call (distinct addresses) so no cache or dedup can merge calls")
	fs.DurationVar(&o.Timeout, "timeout", DefaultTimeout, "per-request timeout")
	fs.DurationVar(&o.Warmup, "warmup", 0, "unmeasured load per target before measuring")
	fs.IntVar(&o.Rounds, "rounds", 1, "alternate targets in this many slices of the duration")
	fs.DurationVar(&o.Interval, "interval", 0, "also report throughput, errors and latency every `D` (stderr, and a timeline in --json); 0 = off")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rpcmesh-bench --target [name=]URL [--target ...] [flags]\n"+
			"       rpcmesh-bench upstream [--listen ADDR] [--chain-id N] [--head N] [--latency D]\n"+
			"       rpcmesh-bench floor [--listen ADDR]\n"+
			"       rpcmesh-bench hop --to URL [--listen ADDR]\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Options{}, false, err
	}
	if fs.NArg() > 0 {
		return Options{}, false, fmt.Errorf("unexpected argument %q (flags only; see --help)", fs.Arg(0))
	}
	for _, t := range targets {
		tg, err := parseTarget(t)
		if err != nil {
			return Options{}, false, err
		}
		o.Targets = append(o.Targets, tg)
	}
	for _, p := range pids {
		if err := applyPID(o.Targets, p); err != nil {
			return Options{}, false, err
		}
	}
	o.Rate = float64(rate)
	mix, err := buildMix(methods, mixes, params, mixFile, distinct)
	if err != nil {
		return Options{}, false, err
	}
	o.Mix = mix
	if o.Duration <= 0 {
		return Options{}, false, errors.New("--duration must be positive")
	}
	return o, asJSON, o.withDefaults().validate()
}

// parseTarget reads "name=URL", or "URL" which then names itself.
func parseTarget(s string) (Target, error) {
	name, u := "", s
	if eq, scheme := strings.Index(s, "="), strings.Index(s, "://"); eq > 0 && (scheme < 0 || eq < scheme) {
		name, u = s[:eq], s[eq+1:]
	}
	if u == "" {
		return Target{}, fmt.Errorf("--target %q: no URL", s)
	}
	if name == "" {
		name = u
	}
	return Target{Name: name, URL: u}, nil
}

// applyPID sets the PID of the target that "name=PID" names.
func applyPID(targets []Target, s string) error {
	i := strings.LastIndex(s, "=")
	if i < 0 {
		return fmt.Errorf("--pid %q: want name=PID", s)
	}
	pid, err := strconv.Atoi(s[i+1:])
	if err != nil || pid <= 0 {
		return fmt.Errorf("--pid %q: %q is not a process id", s, s[i+1:])
	}
	for j := range targets {
		if targets[j].Name == s[:i] {
			targets[j].PID = pid
			return nil
		}
	}
	return fmt.Errorf("--pid %q: no target named %q", s, s[:i])
}

func buildMix(methods, mixes []string, params, mixFile string, distinct bool) (*Mix, error) {
	if mixFile != "" {
		if len(methods) > 0 || len(mixes) > 0 || params != "" {
			return nil, errors.New("--mix-file excludes --method, --mix and --params")
		}
		return LoadMixFile(mixFile, distinct)
	}
	var entries []MixEntry
	for _, m := range methods {
		entries = append(entries, MixEntry{Method: m, Weight: 1})
	}
	for _, m := range mixes {
		es, err := ParseMixFlag(m)
		if err != nil {
			return nil, err
		}
		entries = append(entries, es...)
	}
	if params != "" {
		if len(entries) != 1 {
			return nil, errors.New("--params needs exactly one --method")
		}
		var p any
		if err := json.Unmarshal([]byte(params), &p); err != nil {
			return nil, fmt.Errorf("--params: %w", err)
		}
		entries[0].Params = p
	}
	if len(entries) == 0 {
		entries = []MixEntry{{Method: "eth_blockNumber", Weight: 1}}
	}
	return NewMix(entries, nil, distinct)
}

// mainUpstream runs the trivial upstream until ctx ends, printing its URL.
func mainUpstream(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, listen := serverFlags("upstream", "A trivial in-memory JSON-RPC upstream (HTTP POST and WebSocket on one port) with fixed answers\n"+
		"to eth_chainId, net_version, eth_blockNumber, eth_getBlockByNumber, eth_getBlockByHash,\n"+
		"eth_getBalance, eth_getTransactionCount and eth_gasPrice.", stderr)
	var o UpstreamOptions
	fs.Uint64Var(&o.ChainID, "chain-id", 1337, "chain id answered to eth_chainId and net_version")
	fs.Uint64Var(&o.Head, "head", 256, "block number answered to eth_blockNumber")
	fs.DurationVar(&o.Latency, "latency", 0, "fixed delay added to every request (e.g. 2ms)")
	if err := parseServerFlags(fs, args); err != nil {
		return err
	}
	if o.Latency < 0 || o.Latency > time.Minute {
		return fmt.Errorf("--latency %s: want 0..1m", o.Latency)
	}
	srv, err := StartUpstream(*listen, o)
	if err != nil {
		return err
	}
	return serveUntilDone(ctx, srv.URL, stdout, stderr, srv.Close,
		"bench upstream: serving %s and %s (chain id %d)", srv.URL, srv.WSURL, srv.Upstream().opts.ChainID)
}

// mainFloor runs the floor server until ctx ends, printing its URL.
func mainFloor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, listen := serverFlags("floor", "An HTTP server that answers every request with one fixed JSON-RPC result carrying the\n"+
		"request's id, decoding nothing else, on the gateway's HTTP library: its CPU per request\n"+
		"(rpcmesh-bench --pid) is the least any HTTP front door costs on this machine. Single\n"+
		"calls only.", stderr)
	if err := parseServerFlags(fs, args); err != nil {
		return err
	}
	srv, err := StartFloor(*listen)
	if err != nil {
		return err
	}
	return serveUntilDone(ctx, srv.URL, stdout, stderr, srv.Close, "bench floor: serving %s", srv.URL)
}

// mainHop runs the forwarding hop until ctx ends, printing its URL.
func mainHop(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, listen := serverFlags("hop", "An HTTP server that forwards every request's body to one node and hands its answer back,\n"+
		"reading neither, on the gateway's HTTP library: its latency and CPU per request are what\n"+
		"one more process between client and node costs on this machine, before any work of its\n"+
		"own.", stderr)
	to := fs.String("to", "", "the node's http:// `URL` to forward to (required)")
	if err := parseServerFlags(fs, args); err != nil {
		return err
	}
	if *to == "" {
		return errors.New("bench hop: --to URL is required: the node to forward to")
	}
	srv, err := StartHop(*listen, *to)
	if err != nil {
		return err
	}
	return serveUntilDone(ctx, srv.URL, stdout, stderr, srv.Close, "bench hop: serving %s, forwarding to %s", srv.URL, *to)
}

// serverFlags is the flag set of a subcommand that serves until
// interrupted: --listen, and a usage text that starts with about.
func serverFlags(name, about string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("rpcmesh-bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8545", "`address` to listen on (port 0 picks a free one)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rpcmesh-bench %s [flags]\n\n%s Prints its URL, serves until interrupted.\n\nflags:\n", name, about)
		fs.PrintDefaults()
	}
	return fs, listen
}

// parseServerFlags parses a serving subcommand's flags; it takes no
// arguments beyond them.
func parseServerFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// serveUntilDone prints url on stdout and what serves on stderr, then
// serves until ctx ends and closes the server.
func serveUntilDone(ctx context.Context, url string, stdout, stderr io.Writer, close func() error, serving string, args ...any) error {
	fmt.Fprintln(stdout, url)
	fmt.Fprintf(stderr, serving+"; interrupt to stop\n", args...)
	<-ctx.Done()
	return close()
}
