package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/httpsession/httpsession/internal/testservice"
)

// browserTimeout bounds the whole browser session of a test: start, every
// step and the screenshot.
//
// The test takes 30 to 45 s on a 2-core machine under a load of 40; a
// minute was not always enough there.
const browserTimeout = 3 * time.Minute

// envScreenshot names a file that TestBrowser copies its screenshot to, so
// that a person can look at it.
const envScreenshot = "HTTPSESSION_SCREENSHOT"

// TestBrowser drives headless Chromium through the example's pages: a first
// visit that stores nothing, a cart that starts a session, log in with the
// form (a new token), stay logged in across a reload, check that page scripts
// cannot read the HttpOnly session cookie that the browser holds, log out.
func TestBrowser(t *testing.T) {
	exe := chromiumPath(t)
	srv, _ := newApp(t)
	ctx := newBrowser(t, exe)
	home := srv.URL + "/"

	// First visit: nothing stored, no cookie, not signed in.
	do(t, ctx, "open the page", chromedp.Navigate(home))
	wantText(t, ctx, "nosession", "You have no session yet: one starts when you sign in or add to your cart.")
	wantAbsent(t, ctx, "visits")
	wantAbsent(t, ctx, "user")
	wantNoSessionCookie(t, ctx, srv)

	// Adding to the cart starts a session.
	click(t, ctx, srv, "add")
	wantText(t, ctx, "flash", "Added apple to your cart.")
	wantText(t, ctx, "visits", "You have seen this page 1 time in this session.")
	before := sessionCookie(t, ctx, srv)

	// Sign in through the form; the redirect lands on the home page.
	const name = "Ada Lovelace"
	do(t, ctx, "type the user name", chromedp.SendKeys(chromedp.ID("name"), name))
	click(t, ctx, srv, "login")
	wantSignedIn(t, ctx, name)
	wantText(t, ctx, "flash", "Welcome, "+name+".")
	wantText(t, ctx, "visits", "You have seen this page 2 times in this session.")
	in := sessionCookie(t, ctx, srv)
	if in.Value == before.Value {
		t.Error("the session cookie kept its value across the login: want a new token (Renew)")
	}

	// A reload keeps the session; the flash was shown once.
	do(t, ctx, "reload", chromedp.Reload())
	wantSignedIn(t, ctx, name)
	wantText(t, ctx, "visits", "You have seen this page 3 times in this session.")
	wantAbsent(t, ctx, "flash")

	// Scripts see the cookies that are not HttpOnly (the probe shows that
	// document.cookie works), but not the session cookie ...
	js, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie = "probe=1; path=/"; document.cookie`))
	if err != nil {
		t.Fatalf("document.cookie: %v", err)
	}
	if !strings.Contains(js, "probe=1") || strings.Contains(js, "session=") {
		t.Errorf("document.cookie = %q: want the probe cookie and no session cookie", js)
	}
	// ... which the browser holds and sends.
	c := sessionCookie(t, ctx, srv)
	if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" || c.Value != in.Value {
		t.Errorf("session cookie = {HttpOnly:%v SameSite:%q Path:%q}, same value as after login %v; want HttpOnly, Lax, /, true",
			c.HTTPOnly, c.SameSite, c.Path, c.Value == in.Value)
	}

	// Sign out: the session is gone, the flash goes to a new one.
	click(t, ctx, srv, "logout")
	wantText(t, ctx, "flash", "You are signed out.")
	wantAbsent(t, ctx, "user")
	wantText(t, ctx, "visits", "You have seen this page 1 time in this session.")
	if out := sessionCookie(t, ctx, srv); out.Value == in.Value {
		t.Error("the session cookie kept its value across the logout")
	}
	screenshot(t, ctx)

	// And it stays gone.
	do(t, ctx, "reload after logout", chromedp.Reload())
	wantAbsent(t, ctx, "user")
	wantAbsent(t, ctx, "flash")
	wantText(t, ctx, "visits", "You have seen this page 2 times in this session.")
}

// chromiumPath returns the Chromium binary: /usr/bin/chromium, else chromium
// in PATH. When there is none the test is skipped, or fails when
// HTTPSESSION_REQUIRE_SERVICES=1, as testservice does for the servers.
func chromiumPath(t *testing.T) string {
	t.Helper()
	const std = "/usr/bin/chromium"
	if fi, err := os.Stat(std); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return std
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	msg := "chromium not found (neither " + std + " nor in PATH): install the Debian package chromium"
	if os.Getenv(testservice.EnvRequireServices) == "1" {
		t.Fatalf("%s ($%s=1)", msg, testservice.EnvRequireServices)
	}
	t.Skipf("%s (set %s=1 to fail instead of skipping)", msg, testservice.EnvRequireServices)
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile and returns the
// context of a tab in it, bounded by browserTimeout. The browser is stopped
// when the test ends; its output and chromedp's log are shown if it failed.
func newBrowser(t *testing.T, exe string) context.Context {
	t.Helper()
	// Made before the cleanups below are registered, so removed after the
	// browser has exited.
	profile := t.TempDir()
	var out lockedBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // these machines run tests as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Nothing but the test server: no proxy, and no name resolves.
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(&out),
	)
	timeout, cancelTimeout := context.WithTimeout(context.Background(), browserTimeout)
	alloc, cancelAlloc := chromedp.NewExecAllocator(timeout, opts...)
	logf := func(format string, args ...any) { fmt.Fprintf(&out, "chromedp: "+format+"\n", args...) }
	ctx, cancelTab := chromedp.NewContext(alloc, chromedp.WithLogf(logf), chromedp.WithErrorf(logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits until the browser has exited
		cancelTimeout()
		if t.Failed() {
			t.Logf("browser output:\n%s", out.String())
		}
	})
	// Start the browser now, so that a failure to start says so.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v\n%s", exe, err, out.String())
	}
	return ctx
}

// do runs browser actions, failing the test with what they were for.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// click clicks the button with this id, which submits a form, and waits
// until the page it redirects to has loaded.
func click(t *testing.T, ctx context.Context, srv *httptest.Server, id string) {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("click #%s: %v", id, err)
	}
	if resp.Status != 200 || resp.URL != srv.URL+"/" {
		t.Fatalf("click #%s: landed on %s with status %d, want %s/ with 200", id, resp.URL, resp.Status, srv.URL)
	}
}

// wantText checks the visible text of the element that the CSS selector
// "#"+sel finds.
func wantText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#"+sel)))
	if err != nil {
		t.Fatalf("text of #%s: %v", sel, err)
	}
	if got = strings.TrimSpace(got); got != want {
		t.Errorf("#%s = %q, want %q", sel, got, want)
	}
}

// wantSignedIn checks the #user element: "Signed in as" and the name in bold
// (the element may hold more, such as links).
func wantSignedIn(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	wantText(t, ctx, "user b", name)
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("user")))
	if err != nil {
		t.Fatalf("text of #user: %v", err)
	}
	if want := "Signed in as " + name + "."; !strings.HasPrefix(got, want) {
		t.Errorf("#user = %q, want it to start with %q", got, want)
	}
}

// wantAbsent checks that the page has no element with this id.
func wantAbsent(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	present, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf("document.getElementById(%q) !== null", id)))
	if err != nil {
		t.Fatalf("look for #%s: %v", id, err)
	}
	if present {
		t.Errorf("#%s is on the page, want none", id)
	}
}

// wantNoSessionCookie checks that the browser holds no session cookie for
// the test server.
func wantNoSessionCookie(t *testing.T, ctx context.Context, srv *httptest.Server) {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{srv.URL + "/"}})
	if err != nil {
		t.Fatalf("get cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == "session" {
			t.Errorf("the browser holds a session cookie for %s, want none", srv.URL)
		}
	}
}

// sessionCookie returns the session cookie that the browser holds for the
// test server.
func sessionCookie(t *testing.T, ctx context.Context, srv *httptest.Server) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{srv.URL + "/"}})
	if err != nil {
		t.Fatalf("get cookies: %v", err)
	}
	var names []string
	for _, c := range res.Cookies {
		if c.Name == "session" {
			return c
		}
		names = append(names, c.Name)
	}
	t.Fatalf("the browser holds no session cookie for %s (cookies: %v)", srv.URL, names)
	return nil
}

// screenshot takes a screenshot of the whole page, checks that it is a PNG of
// a rendered page, and copies it to $HTTPSESSION_SCREENSHOT if that is set.
func screenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(t.TempDir(), "example.png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	size := img.Bounds().Size()
	if colors := countColors(img, 10); len(b) < 5000 || size.X < 400 || size.Y < 300 || colors < 10 {
		t.Errorf("screenshot looks empty: %d bytes, %dx%d pixels, %d colors", len(b), size.X, size.Y, colors)
	}
	if dst := os.Getenv(envScreenshot); dst != "" {
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Errorf("$%s: %v", envScreenshot, err)
		} else {
			t.Logf("screenshot saved to %s", dst)
		}
	}
}

// countColors counts the distinct colors of img, stopping at limit.
func countColors(img image.Image, limit int) int {
	seen := map[[4]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, ca := img.At(x, y).RGBA()
			seen[[4]uint32{cr, cg, cb, ca}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

// lockedBuffer is a bytes.Buffer that the browser's output goroutine and the
// test can use at the same time.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
