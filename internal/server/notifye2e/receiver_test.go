package notifye2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/notify"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// request is one webhook request as a receiver got it, and what it did
// with it.
type request struct {
	at       time.Time
	header   http.Header
	body     []byte
	attempt  int // the receiver's own count of requests with this delivery id
	answered int // the status answered; 0 when the connection was dropped
	decoded  notify.Body
}

// receiver is a webhook receiver on 127.0.0.1 that records every request.
// It can fail each delivery's first attempts: the first with 503, the
// second by dropping the connection without an answer.
type receiver struct {
	srv *httptest.Server

	mu        sync.Mutex
	got       []request
	attempts  map[string]int // by delivery id
	failFirst int
}

func newReceiver() *receiver {
	r := &receiver{attempts: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

// url is where the gateway sends the receiver's webhook.
func (r *receiver) url() string { return r.srv.URL + "/hooks/rpcmesh" }

// reset forgets what the receiver got and makes it fail the first n
// attempts of every delivery from now on.
func (r *receiver) reset(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got, r.attempts, r.failFirst = nil, map[string]int{}, n
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, "read: "+err.Error(), http.StatusBadRequest)
		return
	}
	rec := request{at: time.Now(), header: req.Header.Clone(), body: body}
	_ = json.Unmarshal(body, &rec.decoded) // a slack body decodes to nothing; checked by the tests
	r.mu.Lock()
	id := req.Header.Get(notify.DeliveryHeader)
	r.attempts[id]++
	rec.attempt = r.attempts[id]
	switch {
	case rec.attempt > r.failFirst:
		rec.answered = http.StatusOK
	case rec.attempt%2 == 1:
		rec.answered = http.StatusServiceUnavailable
	}
	r.got = append(r.got, rec)
	r.mu.Unlock()
	switch rec.answered {
	case http.StatusOK:
		w.WriteHeader(http.StatusOK)
	case http.StatusServiceUnavailable:
		http.Error(w, "receiver busy", http.StatusServiceUnavailable)
	default: // no answer at all: the connection is dropped
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
	}
}

// requests are the requests got so far, oldest first.
func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.got...)
}

// wait polls the receiver until it was answered 200 for a request that
// matches, at most until ctx ends; it returns that request.
func (r *receiver) wait(ctx context.Context, t *testing.T, what string, match func(*request) bool) request {
	t.Helper()
	var got request
	if err := testwait.Until(ctx, "the receiver to get "+what, func() bool {
		for _, rq := range r.requests() {
			if rq.answered == http.StatusOK && match(&rq) {
				got = rq
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("%v; it got %d requests", err, len(r.requests()))
	}
	return got
}

// verifyAsDocumented checks a signature header as docs/notifications.md
// tells a receiver to, with the standard library only (not notify.Verify):
// v1 = hex(HMAC-SHA256(secret, "<t>." + body)), t within 5 minutes.
func verifyAsDocumented(secret, header string, body []byte, now time.Time) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return errors.New("bad signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return errors.New("stale signature")
	}
	return nil
}

// checkSigned checks rq's signature both ways, and that a body changed
// by one byte, or another secret, fails both.
func checkSigned(t *testing.T, secret string, rq *request) {
	t.Helper()
	sig := rq.header.Get(notify.SignatureHeader)
	if err := notify.Verify(secret, sig, rq.body, time.Now(), notify.DefaultTolerance); err != nil {
		t.Errorf("notify.Verify refuses delivery %s attempt %d: %v", rq.header.Get(notify.DeliveryHeader), rq.attempt, err)
	}
	if err := verifyAsDocumented(secret, sig, rq.body, time.Now()); err != nil {
		t.Errorf("the documented check refuses delivery %s attempt %d: %v", rq.header.Get(notify.DeliveryHeader), rq.attempt, err)
	}
	tampered := append([]byte(nil), rq.body...)
	tampered[len(tampered)/2] ^= 1
	if notify.Verify(secret, sig, tampered, time.Now(), notify.DefaultTolerance) == nil || verifyAsDocumented(secret, sig, tampered, time.Now()) == nil {
		t.Error("a body changed by one bit passes the signature check")
	}
	if notify.Verify(secret+"x", sig, rq.body, time.Now(), notify.DefaultTolerance) == nil || verifyAsDocumented(secret+"x", sig, rq.body, time.Now()) == nil {
		t.Error("another secret passes the signature check")
	}
}
