package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/blocktag"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/limits"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/logs"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/methods"
)

// waveRecorder is a terminal BatchHandler that remembers each wave it got
// (the slices as received, and copies of the calls as they were then) and
// each call that reached it alone, through Handle. It answers a call with
// answer, or by default with a JSON string naming the call.
type waveRecorder struct {
	mu     sync.Mutex
	waves  [][]*pipeline.Call  // the calls slice of each HandleBatch
	outs   [][]pipeline.Answer // the out slice of each HandleBatch
	seen   [][]pipeline.Call   // copies of each wave's calls on arrival
	alone  []pipeline.Call     // copies of the calls that came through Handle
	answer func(ctx context.Context, c *pipeline.Call) pipeline.Answer
	// batchAnswer, when set, answers a whole wave instead of answer per call.
	batchAnswer func(ctx context.Context, calls []*pipeline.Call, out []pipeline.Answer)
}

// describe is the default answer: the call as the terminal saw it.
func describe(c *pipeline.Call) json.RawMessage {
	res, _ := json.Marshal(fmt.Sprintf("%s%s@%d/%v", c.Method, c.Params, c.Block, c.HasBlock))
	return res
}

func (r *waveRecorder) one(ctx context.Context, c *pipeline.Call) pipeline.Answer {
	if r.answer != nil {
		return r.answer(ctx, c)
	}
	return pipeline.Answer{Result: describe(c)}
}

func (r *waveRecorder) Handle(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	r.mu.Lock()
	r.alone = append(r.alone, *c)
	r.mu.Unlock()
	a := r.one(ctx, c)
	return a.Result, a.Err
}

func (r *waveRecorder) HandleBatch(ctx context.Context, calls []*pipeline.Call, out []pipeline.Answer) {
	cp := make([]pipeline.Call, len(calls))
	for i, c := range calls {
		cp[i] = *c
	}
	r.mu.Lock()
	r.waves, r.outs, r.seen = append(r.waves, calls), append(r.outs, out), append(r.seen, cp)
	r.mu.Unlock()
	if len(out) != len(calls) {
		panic(fmt.Sprintf("wave of %d calls with %d answers", len(calls), len(out)))
	}
	if r.batchAnswer != nil {
		r.batchAnswer(ctx, calls, out)
		return
	}
	for i, c := range calls {
		out[i] = r.one(ctx, c)
	}
}

func (r *waveRecorder) Batches() bool { return true }

// aloneMethods lists the methods that came through Handle, sorted.
func (r *waveRecorder) aloneMethods() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m []string
	for _, c := range r.alone {
		m = append(m, c.Method)
	}
	slices.Sort(m)
	return m
}

// selfHandler stands for the stage running HandleWave: its Handle is what
// runs the Alone calls.
type selfHandler struct {
	mu     sync.Mutex
	got    []*pipeline.Call
	handle func(ctx context.Context, c *pipeline.Call) (json.RawMessage, error)
}

func (s *selfHandler) Handle(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	s.mu.Lock()
	s.got = append(s.got, c)
	s.mu.Unlock()
	if s.handle != nil {
		return s.handle(ctx, c)
	}
	return json.RawMessage(`"alone:` + c.Method + `"`), nil
}

// wave builds one call per letter of ways, named m0, m1, ..., and the way
// function HandleWave asks: 'P' passes on, 'A' is answered by the stage,
// 'L' runs alone. way also checks that it is asked once per call, in order,
// with the call at that index.
func wave(t *testing.T, ways string) ([]*pipeline.Call, func(out []pipeline.Answer) func(int, *pipeline.Call) pipeline.Way, *[]int) {
	t.Helper()
	calls := make([]*pipeline.Call, len(ways))
	for i := range ways {
		calls[i] = pipeline.NewCall(fmt.Sprintf("m%d", i), json.RawMessage(fmt.Sprintf(`[%d]`, i)))
	}
	var asked []int
	mk := func(out []pipeline.Answer) func(int, *pipeline.Call) pipeline.Way {
		return func(i int, c *pipeline.Call) pipeline.Way {
			asked = append(asked, i)
			if i < 0 || i >= len(calls) || c != calls[i] {
				t.Errorf("way(%d, %p): not the call at that index", i, c)
				return pipeline.PassOn
			}
			switch ways[i] {
			case 'A':
				out[i] = pipeline.Answer{Result: json.RawMessage(`"self:` + c.Method + `"`)}
				return pipeline.Answered
			case 'L':
				return pipeline.Alone
			}
			return pipeline.PassOn
		}
	}
	return calls, mk, &asked
}

func TestHandleWave(t *testing.T) {
	tests := []struct {
		name string
		ways string
	}{
		{"all pass on", "PPPP"},
		{"one call passes on", "P"},
		{"answered in the middle", "PAPA"},
		{"answered first", "APP"},
		{"answered after a run of passes", "PPAP"},
		{"alone and passed", "LPL"},
		{"alone first then answered", "LAPP"},
		{"all kinds", "PALPAPL"},
		{"all answered", "AAA"},
		{"all alone", "LL"},
		{"answered and alone, none passed", "ALAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			calls, mk, asked := wave(t, tt.ways)
			orig := slices.Clone(calls)
			out := make([]pipeline.Answer, len(calls))
			next := &waveRecorder{answer: func(_ context.Context, c *pipeline.Call) pipeline.Answer {
				return pipeline.Answer{Result: json.RawMessage(`"next:` + c.Method + `"`)}
			}}
			self := &selfHandler{}
			pipeline.HandleWave(ctx, self, next, calls, out, mk(out))

			// way is asked once per call, in order.
			if want := indexes(len(calls)); !slices.Equal(*asked, want) {
				t.Errorf("way asked for %v, want %v", *asked, want)
			}
			// The wave itself is left alone.
			if !slices.Equal(calls, orig) {
				t.Errorf("HandleWave changed the calls slice")
			}

			var wantPass, wantAlone []*pipeline.Call
			for i, w := range tt.ways {
				want := map[rune]string{'P': `"next:`, 'A': `"self:`, 'L': `"alone:`}[w] + calls[i].Method + `"`
				if string(out[i].Result) != want || out[i].Err != nil {
					t.Errorf("out[%d] = %s %v, want %s", i, out[i].Result, out[i].Err, want)
				}
				switch w {
				case 'P':
					wantPass = append(wantPass, calls[i])
				case 'L':
					wantAlone = append(wantAlone, calls[i])
				}
			}

			// next: one wave of exactly the passed calls, in order (the
			// very same *Call values), or no wave at all.
			if len(wantPass) == 0 {
				if len(next.waves) != 0 {
					t.Fatalf("next got %d waves, want none", len(next.waves))
				}
			} else {
				if len(next.waves) != 1 {
					t.Fatalf("next got %d waves, want 1", len(next.waves))
				}
				if got := next.waves[0]; !slices.Equal(got, wantPass) {
					t.Errorf("next got %v, want %v", methodsOf(got), methodsOf(wantPass))
				}
				if len(wantPass) == len(calls) {
					// Nothing left the wave: no copy, the same slices go on.
					if &next.waves[0][0] != &calls[0] || &next.outs[0][0] != &out[0] {
						t.Errorf("next got a copy of the wave, want the very same slices")
					}
				} else if &next.outs[0][0] == &out[0] {
					t.Errorf("next's answers alias out although calls left the wave")
				}
			}
			if len(next.alone) != 0 {
				t.Errorf("next.Handle called for %d calls, want none", len(next.alone))
			}

			// self.Handle: exactly the Alone calls, each once.
			got := slices.Clone(self.got)
			slices.SortFunc(got, func(a, b *pipeline.Call) int { return strings.Compare(a.Method, b.Method) })
			if !slices.Equal(got, wantAlone) {
				t.Errorf("self.Handle got %v, want %v", methodsOf(got), methodsOf(wantAlone))
			}
		})
	}
}

// TestHandleWaveEmpty: an empty wave answers nothing and asks nobody to
// answer anything.
func TestHandleWaveEmpty(t *testing.T) {
	next := &waveRecorder{}
	self := &selfHandler{}
	asked := 0
	pipeline.HandleWave(context.Background(), self, next, nil, nil, func(int, *pipeline.Call) pipeline.Way {
		asked++
		return pipeline.PassOn
	})
	pipeline.HandleWave(context.Background(), self, next, []*pipeline.Call{}, []pipeline.Answer{}, func(int, *pipeline.Call) pipeline.Way {
		asked++
		return pipeline.PassOn
	})
	if asked != 0 || len(self.got) != 0 || len(next.alone) != 0 {
		t.Fatalf("empty wave: way asked %d times, self.Handle %d, next.Handle %d; want none", asked, len(self.got), len(next.alone))
	}
	for i, w := range next.waves {
		if len(w) != 0 || len(next.outs[i]) != 0 {
			t.Fatalf("empty wave reached next with %d calls, %d answers", len(w), len(next.outs[i]))
		}
	}
}

// TestHandleWaveAloneConcurrent: the Alone calls run at the same time, each
// on its own goroutine, while the rest of the wave goes on; HandleWave
// returns only once every one of them has answered.
func TestHandleWaveAloneConcurrent(t *testing.T) {
	const bound = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	calls, mk, _ := wave(t, "LPLP")
	out := make([]pipeline.Answer, len(calls))

	var both sync.WaitGroup // the two alone calls meet here
	both.Add(2)
	bothIn := make(chan struct{})
	go func() { both.Wait(); close(bothIn) }()
	release := make(chan struct{}) // lets the alone calls answer
	self := &selfHandler{handle: func(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
		both.Done()
		select {
		case <-bothIn:
		case <-time.After(bound):
			return nil, errors.New("the other alone call never started: alone calls ran one after the other")
		}
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return json.RawMessage(`"alone:` + c.Method + `"`), nil
	}}
	// The wave passed on waits for the alone calls to have started: they
	// must not wait for it.
	next := &waveRecorder{batchAnswer: func(_ context.Context, calls []*pipeline.Call, out []pipeline.Answer) {
		select {
		case <-bothIn:
		case <-time.After(bound):
			t.Error("the wave passed on ran before the alone calls started")
		}
		for i, c := range calls {
			out[i] = pipeline.Answer{Result: json.RawMessage(`"next:` + c.Method + `"`)}
		}
	}}

	done := make(chan struct{})
	go func() {
		defer close(done)
		pipeline.HandleWave(ctx, self, next, calls, out, mk(out))
	}()
	select {
	case <-bothIn:
	case <-time.After(bound):
		t.Fatal("the two alone calls did not run at the same time")
	}
	// Both alone calls are held: HandleWave must still be waiting for them.
	select {
	case <-done:
		t.Fatal("HandleWave returned before its alone calls answered")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	select {
	case <-done:
	case <-time.After(bound):
		t.Fatal("HandleWave did not return after its alone calls answered")
	}
	want := []string{`"alone:m0"`, `"next:m1"`, `"alone:m2"`, `"next:m3"`}
	for i, w := range want {
		if string(out[i].Result) != w || out[i].Err != nil {
			t.Errorf("out[%d] = %s %v, want %s", i, out[i].Result, out[i].Err, w)
		}
	}
	if len(self.got) != 2 || len(next.waves) != 1 || len(next.waves[0]) != 2 {
		t.Errorf("self.Handle %d calls, next %d waves; want 2 and 1 wave of 2", len(self.got), len(next.waves))
	}
}

// TestHandleWaveErrors: errors, from the wave passed on or an alone call,
// land at their call's index.
func TestHandleWaveErrors(t *testing.T) {
	calls, mk, _ := wave(t, "PLPA")
	out := make([]pipeline.Answer, len(calls))
	errNext, errSelf := errors.New("next failed"), errors.New("self failed")
	next := &waveRecorder{answer: func(_ context.Context, c *pipeline.Call) pipeline.Answer {
		if c.Method == "m2" {
			return pipeline.Answer{Err: errNext}
		}
		return pipeline.Answer{Result: json.RawMessage(`"next:` + c.Method + `"`)}
	}}
	self := &selfHandler{handle: func(context.Context, *pipeline.Call) (json.RawMessage, error) { return nil, errSelf }}
	pipeline.HandleWave(context.Background(), self, next, calls, out, mk(out))
	if string(out[0].Result) != `"next:m0"` || out[0].Err != nil ||
		out[1].Result != nil || out[1].Err != errSelf ||
		out[2].Result != nil || out[2].Err != errNext ||
		string(out[3].Result) != `"self:m3"` || out[3].Err != nil {
		t.Fatalf("answers %+v", out)
	}
}

// fakeBatcher is a BatchHandler whose Batches is batches.
type fakeBatcher struct {
	waveRecorder
	batches bool
}

func (f *fakeBatcher) Batches() bool { return f.batches }

func TestCanBatch(t *testing.T) {
	plain := &recorder{}
	tracker := trackerAt(1000)
	chain := func(last pipeline.Handler, extra ...pipeline.Stage) pipeline.Handler {
		stages := []pipeline.Stage{
			limits.Stage(time.Second, 1<<20),
			func(next pipeline.Handler) pipeline.Handler {
				return &methods.Methods{Next: next, Chain: "eth", ChainID: 1337, Head: tracker}
			},
			func(next pipeline.Handler) pipeline.Handler { return &blocktag.BlockTag{Next: next, Head: tracker} },
			func(next pipeline.Handler) pipeline.Handler {
				return &logs.Splitter{Next: next, Head: tracker, MaxRange: 5000, Chunk: 1000, Concurrency: 2}
			},
		}
		return pipeline.Chain(last, append(stages, extra...)...)
	}
	// A plain stage between logs and the terminal: a HandlerFunc.
	plainStage := func(next pipeline.Handler) pipeline.Handler {
		return pipeline.HandlerFunc(func(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
			return next.Handle(ctx, c)
		})
	}
	tests := []struct {
		name string
		h    pipeline.Handler
		want bool
	}{
		{"plain handler", plain, false},
		{"handler func", pipeline.HandlerFunc(plain.Handle), false},
		{"batch handler", &waveRecorder{}, true},
		{"batch handler that does not batch", &fakeBatcher{batches: false}, false},
		{"batch handler that batches", &fakeBatcher{batches: true}, true},
		{"chain ending in a plain handler", chain(plain), false},
		{"chain ending in a batch handler", chain(&waveRecorder{}), true},
		{"chain ending in a batch handler that does not batch", chain(&fakeBatcher{batches: false}), false},
		{"chain with a plain stage before the batch handler", chain(&waveRecorder{}, plainStage), false},
		{"single stage over a plain handler", &blocktag.BlockTag{Next: plain, Head: tracker}, false},
		{"single stage over a batch handler", &logs.Splitter{Next: &waveRecorder{}, Head: tracker}, true},
	}
	for _, tt := range tests {
		if got := pipeline.CanBatch(tt.h); got != tt.want {
			t.Errorf("%s: CanBatch = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func indexes(n int) []int {
	v := make([]int, n)
	for i := range v {
		v[i] = i
	}
	return v
}

func methodsOf(calls []*pipeline.Call) []string {
	m := make([]string, len(calls))
	for i, c := range calls {
		m[i] = c.Method
	}
	return m
}
