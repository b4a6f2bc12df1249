// Package notifye2e tests incident webhooks through the real gateway: a
// devnet (real go-ethereum nodes), a gateway configured with webhooks to
// test receivers on 127.0.0.1, faults staged and cleared; the receivers
// check what arrives (signature, order, retries) against /status.json and
// the status page's live stream. Its tests skip with -short.
package notifye2e
