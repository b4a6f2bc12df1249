// Package browser drives a real headless Chromium (Debian's chromium
// package, installed by .ci/browser) from Go tests with chromedp: one
// browser per test package, a tab per test, JavaScript exceptions
// collected. The status page's browser tests use it.
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Path finds Chromium: $CHROMIUM, /usr/bin/chromium (Debian's package), or
// chromium or chromium-browser on PATH.
func Path() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found: install it with .ci/browser (Debian's chromium package), or set CHROMIUM")
}

// Browser is one running headless Chromium.
type Browser struct {
	ctx    context.Context // the browser's first tab; new tabs derive from it
	cancel func()
	dir    string // its profile, removed by Close
}

// Start starts Chromium headless with a new empty profile and the network
// features a closed machine does not need turned off.
func Start() (*Browser, error) {
	path, err := Path()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "rpcmesh-chromium-")
	if err != nil {
		return nil, fmt.Errorf("chromium profile: %w", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 1000),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	// The first Run starts the browser, which lives as long as that Run's
	// context: bctx itself, bounded here by a timer instead.
	started := time.AfterFunc(60*time.Second, bcancel)
	err = chromedp.Do(bctx, chromedp.Navigate("about:blank"))
	if !started.Stop() && err == nil {
		err = errors.New("timed out")
	}
	if err != nil {
		bcancel()
		acancel()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start chromium %s: %w", path, err)
	}
	return &Browser{ctx: bctx, cancel: func() { bcancel(); acancel() }, dir: dir}, nil
}

// Close stops the browser and removes its profile.
func (b *Browser) Close() {
	b.cancel()
	os.RemoveAll(b.dir)
}

// Main is the body of a browser test package's TestMain: with -short it
// skips the package; without Chromium it fails (CI installs it with
// .ci/browser); else run gets the browser.
func Main(m *testing.M, run func(b *Browser) int) int {
	if testing.Short() {
		fmt.Println("browser tests: skipped with -short")
		return 0
	}
	b, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "browser tests:", err)
		return 1
	}
	defer b.Close()
	return run(b)
}

// Tab is one browser tab of a test.
type Tab struct {
	Ctx context.Context

	mu         sync.Mutex
	exceptions []string
}

// Tab opens a new tab, viewport width × height, closed when the test ends.
func (b *Browser) Tab(t testing.TB, width, height int64) *Tab {
	t.Helper()
	tab := &Tab{}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			tab.mu.Lock()
			tab.exceptions = append(tab.exceptions, msg)
			tab.mu.Unlock()
		}
	}))
	t.Cleanup(cancel)
	tab.Ctx = ctx
	// The first Run opens the tab, which lives as long as that Run's
	// context: the tab's own, bounded here by a timer instead.
	opened := time.AfterFunc(20*time.Second, cancel)
	err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height))
	if !opened.Stop() && err == nil {
		err = errors.New("timed out")
	}
	if err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return tab
}

// OpenPage opens the status page served at base ("http://host:port") in
// a new 1280×1000 tab and waits until its live stream is up; the test
// fails if the page throws a JavaScript exception before it ends.
func (b *Browser) OpenPage(t testing.TB, base string) *Tab {
	t.Helper()
	tab := b.Tab(t, 1280, 1000)
	tab.Open(t, base+"/status")
	tab.Wait(t, 10*time.Second, "the live stream", `document.getElementById("live").dataset.live === "live"`)
	t.Cleanup(func() {
		if ex := tab.Exceptions(); len(ex) > 0 {
			t.Errorf("the page threw: %q", ex)
		}
	})
	return tab
}

// timeout is the tab's context bounded by d, for one action.
func (tab *Tab) timeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(tab.Ctx, d)
}

// Open navigates to url.
func (tab *Tab) Open(t testing.TB, url string) {
	t.Helper()
	ctx, cancel := tab.timeout(20 * time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
}

// Wait polls the JavaScript expression js until it is truthy, at most d;
// the test fails, saying what it waited for, when it is not.
func (tab *Tab) Wait(t testing.TB, d time.Duration, what, js string) {
	t.Helper()
	ctx, cancel := tab.timeout(d + 5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil {
		t.Fatalf("waiting %s for %s: %v\nthe page says: %s", d, what, err, Eval[string](t, tab, "document.body.innerText.slice(0, 3000)"))
	}
}

// Exceptions are the JavaScript exceptions the tab's pages threw.
func (tab *Tab) Exceptions() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]string(nil), tab.exceptions...)
}

// Screenshot is a PNG of the whole page.
func (tab *Tab) Screenshot(t testing.TB) []byte {
	t.Helper()
	ctx, cancel := tab.timeout(20 * time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return png
}

// Eval evaluates the JavaScript expression js in tab and decodes its value.
func Eval[T any](t testing.TB, tab *Tab, js string) T {
	t.Helper()
	ctx, cancel := tab.timeout(10 * time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}
