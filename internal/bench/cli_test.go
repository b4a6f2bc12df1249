package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/cmdtest"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

func TestParseArgs(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for _, c := range []struct {
		name  string
		args  []string
		check func(Options, bool) string // "" when fine
		err   string
	}{
		{name: "defaults", args: []string{"--target", "http://h:1"}, check: func(o Options, j bool) string {
			if o.Duration != DefaultDuration || o.Concurrency != DefaultConcurrency || o.Rate != 0 || j ||
				len(o.Targets) != 1 || o.Targets[0] != (Target{Name: "http://h:1", URL: "http://h:1"}) ||
				o.Mix.Entries()[0].Method != "eth_blockNumber" {
				return "unexpected defaults"
			}
			return ""
		}},
		{name: "full", args: []string{"--target", "direct=http://h:1/?a=b", "--target", "gw=ws://g:2", "--rate", "500/s",
			"--duration", "3s", "--requests", "9", "--mix", "eth_getBalance=3,eth_chainId", "--batch", "10", "--distinct",
			"--json", "--rounds", "3", "--warmup", "1s", "--concurrency", "7", "--interval", "500ms", "--timeout", "2s"},
			check: func(o Options, j bool) string {
				if !j || o.Rate != 500 || o.Duration != 3*time.Second || o.Requests != 9 || o.Batch != 10 ||
					o.Rounds != 3 || o.Warmup != time.Second || o.Concurrency != 7 || o.Interval != 500*time.Millisecond ||
					o.Timeout != 2*time.Second {
					return "flags not applied"
				}
				if o.Targets[0] != (Target{Name: "direct", URL: "http://h:1/?a=b"}) || o.Targets[1].Name != "gw" {
					return "targets not named"
				}
				if e := o.Mix.Entries(); len(e) != 2 || e[0].Weight != 3 || e[1].Method != "eth_chainId" {
					return "mix not applied"
				}
				return ""
			}},
		{name: "params", args: []string{"--target", "http://h", "--method", "eth_getBalance", "--params", `["$address","0x1"]`},
			check: func(o Options, _ bool) string {
				if p, _ := json.Marshal(o.Mix.Entries()[0].Params); string(p) != `["$address","0x1"]` {
					return "params " + string(p)
				}
				return ""
			}},
		{name: "pid", args: []string{"--target", "gw=http://h", "--target", "http://d", "--pid", "gw=" + self, "--pid", "http://d=" + self},
			check: func(o Options, _ bool) string {
				if o.Targets[0].PID != os.Getpid() || o.Targets[1].PID != os.Getpid() {
					return "pids not applied"
				}
				return ""
			}},
		{name: "pid not running", args: []string{"--target", "a=http://h", "--pid", "a=999999999"}, err: "cannot read its CPU time"},
		{name: "pid of unknown target", args: []string{"--target", "a=http://h", "--pid", "b=1"}, err: "no target named"},
		{name: "bad pid", args: []string{"--target", "a=http://h", "--pid", "a=x"}, err: "not a process id"},
		{name: "no target", args: []string{"--duration", "1s"}, err: "targets: none"},
		{name: "bad rate", args: []string{"--target", "http://h", "--rate", "fast"}, err: "requests per second"},
		{name: "interval too short", args: []string{"--target", "http://h", "--interval", "10ms"}, err: "interval"},
		{name: "too long", args: []string{"--target", "http://h", "--duration", "2h"}, err: "duration"},
		{name: "zero duration", args: []string{"--target", "http://h", "--duration", "0s"}, err: "duration"},
		{name: "params needs one method", args: []string{"--target", "http://h", "--mix", "a,b", "--params", "[]"}, err: "exactly one"},
		{name: "mix-file excludes", args: []string{"--target", "http://h", "--mix-file", "x.yaml", "--method", "a"}, err: "excludes"},
		{name: "stray argument", args: []string{"--target", "http://h", "extra"}, err: "unexpected argument"},
		{name: "help", args: []string{"--help"}, err: flag.ErrHelp.Error()},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, j, err := ParseArgs(c.args, io.Discard)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := c.check(o, j); msg != "" {
				t.Fatalf("%s: %+v", msg, o)
			}
		})
	}
}

func TestMainUpstreamAndLoad(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out cmdtest.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Main(ctx, []string{"upstream", "--listen", "127.0.0.1:0", "--chain-id", "5"}, &out, io.Discard)
	}()
	// The upstream prints its URL on a line of its own once it listens.
	testwait.For(t, 5*time.Second, "the upstream's URL", func() bool { return strings.HasSuffix(out.String(), "\n") })
	url := strings.TrimSpace(out.String())
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("upstream printed %q, want its URL", out.String())
	}
	res, err := http.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `"result":"0x5"`) {
		t.Fatalf("chain id answer %s, want 0x5", body)
	}

	var text, js bytes.Buffer
	args := []string{"--target", "a=" + url, "--target", "b=" + url, "--requests", "20", "--concurrency", "2", "--mix", "eth_chainId,eth_getBalance"}
	if err := Main(context.Background(), args, &text, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "ratios to a") {
		t.Fatalf("text report:\n%s", text.String())
	}
	if err := Main(context.Background(), append(args, "--json"), &js, io.Discard); err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(js.Bytes(), &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, js.String())
	}
	if rep.Targets[1].OKCalls != 20 || rep.Ratios[0].Target != "b" {
		t.Fatalf("JSON report %+v", rep)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("upstream returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("upstream did not stop on cancel")
	}
}

func TestMainUpstreamBadFlags(t *testing.T) {
	err := Main(context.Background(), []string{"upstream", "--latency", "-1s"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "latency") {
		t.Fatalf("error %v", err)
	}
	err = Main(context.Background(), []string{"upstream", "--help"}, io.Discard, io.Discard)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
}
