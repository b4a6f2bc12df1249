// Package pagee2e tests the status page end to end: a devnet (real
// go-ethereum nodes), the gateway in front of it serving the page, and a
// real headless Chromium watching the page while a cloud outage is staged
// and ended. Its tests need Chromium (.ci/browser) and skip with -short.
package pagee2e
