// Package statuspage is the gateway's public status page: an HTML page
// (GET / and /status), the snapshot as JSON (/status.json), the charts'
// history (/status/history.json) and a server-sent-events stream
// (/status/events) that pushes a fresh snapshot every second and incident
// events as they happen. Everything it shows comes from a status.Source,
// which carries no provider URLs; pages, scripts and the charting library
// (uPlot, pinned in clients/package.json) are served from the binary.
package statuspage

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"html"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
)

// web holds the page, its script and style, and uPlot's dist files.
//
//go:embed web
var web embed.FS

// Options configures a Page; the zero value of a field takes its default.
type Options struct {
	// SampleInterval is how often the charts' history takes a sample: 10s.
	SampleInterval time.Duration
	// Samples is how many samples the history keeps: 360 (1 h at 10 s).
	Samples int
	// PushInterval is how often live pages are sent a fresh snapshot: 1s.
	PushInterval time.Duration
	// MaxStreams bounds the live streams open at once: 256.
	MaxStreams int
	// WriteTimeout bounds one write to a live page's connection: 10s.
	WriteTimeout time.Duration
	// Logger gets the page's few messages (nil: none).
	Logger *slog.Logger
	// ScoresPath is where the page's script fetches the open scores, on the
	// page's own origin (the gateway's /scores.json); empty: the page has
	// no scores section.
	ScoresPath string
}

func (o Options) withDefaults() Options {
	if o.SampleInterval <= 0 {
		o.SampleInterval = 10 * time.Second
	}
	if o.Samples <= 0 {
		o.Samples = 360
	}
	if o.PushInterval <= 0 {
		o.PushInterval = time.Second
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 256
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Page is the status page of one gateway. Serve answers its requests; Run
// samples the history and feeds the live streams; Close ends the streams.
type Page struct {
	src     status.Source
	opts    Options
	index   []byte // index.html, told where the scores are
	history *history
	hub     hub
	streams chan struct{} // one slot per open live stream

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{} // the live streams' connections
	done   chan struct{}         // closed by Close: live streams end
	wg     sync.WaitGroup        // the live streams
}

// New returns the status page of src.
func New(src status.Source, opts Options) *Page {
	opts = opts.withDefaults()
	return &Page{
		src:     src,
		opts:    opts,
		index:   indexHTML(opts.ScoresPath),
		history: newHistory(opts.Samples, opts.SampleInterval),
		hub:     hub{subs: map[chan []byte]struct{}{}},
		streams: make(chan struct{}, opts.MaxStreams),
		conns:   map[net.Conn]struct{}{},
		done:    make(chan struct{}),
	}
}

// Run takes the history's samples and pushes snapshots and incident
// events to the live streams, until ctx ends.
func (p *Page) Run(ctx context.Context) {
	events := p.src.Subscribe(ctx)
	push := time.NewTicker(p.opts.PushInterval)
	defer push.Stop()
	sample := time.NewTicker(p.opts.SampleInterval)
	defer sample.Stop()
	p.history.add(p.src.Snapshot())
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil // the source is done; snapshots go on
				continue
			}
			p.hub.publish(frame("incident", ev))
		case <-push.C:
			if p.hub.len() > 0 {
				p.hub.publish(frame("snapshot", p.src.Snapshot()))
			}
		case <-sample.C:
			p.history.add(p.src.Snapshot())
			p.hub.publish(frame("sample", struct{}{}))
		}
	}
}

// Close ends the live streams (closing their connections) and waits for
// them to finish. Streams opened afterwards are refused.
func (p *Page) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	for c := range p.conns {
		c.Close() // a stream blocked writing to a slow client ends now too
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// scoresAttr is the attribute of index.html that tells scores.js where the
// open scores are.
const scoresAttr = `data-scores=""`

// indexHTML is index.html with scoresPath in its scores section (empty:
// the section stays hidden and nothing is fetched).
func indexHTML(scoresPath string) []byte {
	b, err := web.ReadFile("web/index.html")
	if err != nil { // embedded: cannot happen
		panic("statuspage: web/index.html is not embedded: " + err.Error())
	}
	attr := `data-scores="` + html.EscapeString(scoresPath) + `"`
	return bytes.Replace(b, []byte(scoresAttr), []byte(attr), 1)
}

// snapshotJSON is src's snapshot now, as /status.json serves it.
func (p *Page) snapshotJSON() []byte {
	b, err := json.Marshal(p.src.Snapshot())
	if err != nil { // plain data: cannot happen
		p.opts.Logger.Error("status page: encode snapshot", "err", err)
		return []byte(`{}`)
	}
	return b
}

// frame is one server-sent event of type typ carrying v as JSON.
func frame(typ string, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{}`)
	}
	out := make([]byte, 0, len(b)+len(typ)+16)
	out = append(out, "event: "...)
	out = append(out, typ...)
	out = append(out, "\ndata: "...)
	out = append(out, b...)
	return append(out, "\n\n"...)
}
