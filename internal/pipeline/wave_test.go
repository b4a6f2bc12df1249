package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// waveRecorder is a terminal Handler that remembers each wave it got (the
// slices as received, and copies of the calls as they were then). It
// answers a call with answer, or by default with a JSON string naming the
// call; waveAnswer, when set, answers a whole wave instead.
type waveRecorder struct {
	mu         sync.Mutex
	waves      [][]*pipeline.Call // each wave as received
	seen       [][]pipeline.Call  // copies of each wave's calls on arrival
	answer     func(ctx context.Context, c *pipeline.Call) (json.RawMessage, error)
	waveAnswer func(ctx context.Context, wave []*pipeline.Call)
}

// describe is the default answer: the call as the terminal saw it.
func describe(c *pipeline.Call) json.RawMessage {
	res, _ := json.Marshal(fmt.Sprintf("%s%s@%d/%v", c.Method, c.Params, c.Block, c.HasBlock))
	return res
}

func (r *waveRecorder) Handle(ctx context.Context, wave []*pipeline.Call) {
	cp := make([]pipeline.Call, len(wave))
	for i, c := range wave {
		cp[i] = *c
	}
	r.mu.Lock()
	r.waves, r.seen = append(r.waves, wave), append(r.seen, cp)
	r.mu.Unlock()
	if r.waveAnswer != nil {
		r.waveAnswer(ctx, wave)
		return
	}
	for _, c := range wave {
		if r.answer != nil {
			c.Answer(r.answer(ctx, c))
		} else {
			c.Answer(describe(c), nil)
		}
	}
}

// ones lists the methods that came in waves of one (a stage's own
// sub-calls, pipeline.Do), sorted; many the waves of more than one.
func (r *waveRecorder) ones() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m []string
	for _, w := range r.seen {
		if len(w) == 1 {
			m = append(m, w[0].Method)
		}
	}
	slices.Sort(m)
	return m
}

func (r *waveRecorder) many() [][]pipeline.Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]pipeline.Call
	for _, w := range r.seen {
		if len(w) > 1 {
			out = append(out, w)
		}
	}
	return out
}

// testWave builds one call per letter of ways, named m0, m1, ...: 'P'
// passes on, 'A' is answered by the stage, 'L' runs alone; and the way
// function HandleWave asks, which records the calls it was asked about.
func testWave(ways string) ([]*pipeline.Call, func(c *pipeline.Call) pipeline.Way, *[]string) {
	calls := make([]*pipeline.Call, len(ways))
	for i := range ways {
		calls[i] = pipeline.NewCall(fmt.Sprintf("m%d", i), json.RawMessage(fmt.Sprintf(`[%d]`, i)))
	}
	var asked []string
	way := func(c *pipeline.Call) pipeline.Way {
		asked = append(asked, c.Method)
		var i int
		fmt.Sscanf(c.Method, "m%d", &i)
		switch ways[i] {
		case 'A':
			c.Answer(json.RawMessage(`"self:`+c.Method+`"`), nil)
			return pipeline.Answered
		case 'L':
			return pipeline.Alone
		}
		return pipeline.PassOn
	}
	return calls, way, &asked
}

// runner is a stage's own work on a call run alone.
type runner func(ctx context.Context, c *pipeline.Call)

func (r runner) Run(ctx context.Context, c *pipeline.Call) { r(ctx, c) }

// alone answers a call run alone with its name.
func alone(_ context.Context, c *pipeline.Call) {
	c.Answer(json.RawMessage(`"alone:`+c.Method+`"`), nil)
}

// TestHandleWave: every call gets the answer of its way; the calls passed
// on reach next as one wave, in order, the client's calls themselves;
// nothing reaches next when nothing passes on.
func TestHandleWave(t *testing.T) {
	for _, ways := range []string{"", "P", "A", "L", "PPP", "AAA", "LLL", "PAL", "LAP", "APLPA", "LLPP", "PPLL"} {
		t.Run(ways, func(t *testing.T) {
			calls, way, asked := testWave(ways)
			next := &waveRecorder{}
			pipeline.HandleWave(context.Background(), calls, next, way, runner(alone))
			var wantAsked []string
			var wantPassed []*pipeline.Call
			for i, c := range calls {
				wantAsked = append(wantAsked, c.Method)
				want := map[byte]string{'P': `"m%d[%d]@0/false"`, 'A': `"self:m%d"`, 'L': `"alone:m%d"`}[ways[i]]
				if ways[i] == 'P' {
					want = fmt.Sprintf(want, i, i)
					wantPassed = append(wantPassed, c)
				} else {
					want = fmt.Sprintf(want, i)
				}
				if string(c.Result) != want || c.Err != nil {
					t.Errorf("%s: %s %v, want %s", c.Method, c.Result, c.Err, want)
				}
			}
			if !slices.Equal(*asked, wantAsked) {
				t.Errorf("way asked about %v, want each call once in order", *asked)
			}
			switch {
			case len(wantPassed) == 0 && len(next.waves) != 0:
				t.Errorf("next got %d waves, want none", len(next.waves))
			case len(wantPassed) > 0 && (len(next.waves) != 1 || !slices.Equal(next.waves[0], wantPassed)):
				t.Errorf("next got %v, want one wave of the calls passed on", next.waves)
			}
		})
	}
}

// TestHandleWaveAloneConcurrent: the Alone calls run at the same time, each
// on its own goroutine, while the rest of the wave goes on; HandleWave
// returns only once every one of them has answered.
func TestHandleWaveAloneConcurrent(t *testing.T) {
	const bound = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	calls, way, _ := testWave("LPLP")

	var both sync.WaitGroup // the two alone calls meet here
	both.Add(2)
	bothIn := make(chan struct{})
	go func() { both.Wait(); close(bothIn) }()
	release := make(chan struct{}) // lets the alone calls answer
	run := func(ctx context.Context, c *pipeline.Call) {
		both.Done()
		select {
		case <-bothIn:
		case <-time.After(bound):
			c.Answer(nil, errors.New("the other alone call never started: alone calls ran one after the other"))
			return
		}
		select {
		case <-release:
		case <-ctx.Done():
			c.Answer(nil, ctx.Err())
			return
		}
		alone(ctx, c)
	}
	// The wave passed on waits for the alone calls to have started: they
	// must not wait for it.
	next := &waveRecorder{waveAnswer: func(_ context.Context, wave []*pipeline.Call) {
		select {
		case <-bothIn:
		case <-time.After(bound):
			t.Error("the wave passed on ran before the alone calls started")
		}
		for _, c := range wave {
			c.Answer(json.RawMessage(`"next:`+c.Method+`"`), nil)
		}
	}}

	done := make(chan struct{})
	go func() {
		defer close(done)
		pipeline.HandleWave(ctx, calls, next, way, runner(run))
	}()
	select {
	case <-bothIn:
	case <-time.After(bound):
		t.Fatal("the two alone calls did not run at the same time")
	}
	// Both alone calls are held until release: HandleWave cannot have returned.
	select {
	case <-done:
		t.Fatal("HandleWave returned before its alone calls answered")
	default:
	}
	close(release)
	select {
	case <-done:
	case <-time.After(bound):
		t.Fatal("HandleWave did not return after its alone calls answered")
	}
	want := []string{`"alone:m0"`, `"next:m1"`, `"alone:m2"`, `"next:m3"`}
	for i, w := range want {
		if string(calls[i].Result) != w || calls[i].Err != nil {
			t.Errorf("call %d = %s %v, want %s", i, calls[i].Result, calls[i].Err, w)
		}
	}
	if len(next.waves) != 1 || len(next.waves[0]) != 2 {
		t.Errorf("next got %d waves; want 1 wave of 2", len(next.waves))
	}
}

// TestDo: a single call runs as a wave of one and gets its own answer, a
// result or an error (never a nil *jsonrpc.Error in an error).
func TestDo(t *testing.T) {
	errNext := errors.New("next failed")
	next := &waveRecorder{answer: func(_ context.Context, c *pipeline.Call) (json.RawMessage, error) {
		if c.Method == "fail" {
			return nil, errNext
		}
		return describe(c), nil
	}}
	res, err := pipeline.Do(context.Background(), next, pipeline.NewCall("m", json.RawMessage(`[1]`)))
	if err != nil || string(res) != `"m[1]@0/false"` {
		t.Fatalf("result: %s %v", res, err)
	}
	res, err = pipeline.Do(context.Background(), next, pipeline.NewCall("fail", nil))
	if err != errNext || res != nil {
		t.Fatalf("error: %s %v", res, err)
	}
	if len(next.waves) != 2 || len(next.waves[0]) != 1 || len(next.waves[1]) != 1 {
		t.Fatalf("waves %v, want two waves of one", next.waves)
	}
}
