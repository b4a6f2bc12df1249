package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a body's signature: "t=<unix seconds>,v1=<hex>",
// where v1 is HMAC-SHA256 with the webhook's secret over
// "<unix seconds>.<body>" (docs/notifications.md shows how to check it).
const SignatureHeader = "X-Rpcmesh-Signature"

// The other headers of a delivery.
const (
	DeliveryHeader = "X-Rpcmesh-Delivery" // the delivery id, the same on every attempt
	EventHeader    = "X-Rpcmesh-Event"    // opened, updated or closed
	AttemptHeader  = "X-Rpcmesh-Attempt"  // 1 for the first attempt
)

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock before Verify refuses it as a replay.
const DefaultTolerance = 5 * time.Minute

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors Verify returns.
var (
	ErrBadSignature = errors.New("signature does not match the body")
	ErrStale        = errors.New("signature timestamp too far from now (a replay?)")
)

// Verify checks a SignatureHeader value against body: the HMAC with
// secret, and that its timestamp is within tolerance of now. A receiver
// written in Go can call it; docs/notifications.md shows the same check
// in other languages.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("signature header %q has no t=<unix seconds>", header)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("signature header has no v1=<64 hex digits>")
	}
	if !hmac.Equal(got, mac(secret, ts, body)) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s", ErrStale, d.Round(time.Second))
	}
	return nil
}
