package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/commentd/commentd/internal/testenv"
)

// browser starts a headless Chromium with a fresh profile and returns a
// chromedp context whose actions time out after a minute.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := testenv.Chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser; no timeout on this first call
		t.Fatalf("start Chromium: %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return tctx
}

// get runs one action and returns its value, failing the test on error.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// do runs steps in order, failing the test on error.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// freePort returns a port that was free a moment ago, so that the demo site's
// origin can name it before the server starts.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestFormWithoutJavaScript drives the demo article's reply form in a real
// browser with JavaScript disabled: a mistake comes back beside its field
// with the text kept, the corrected form lands back on the article at the
// new comment's anchor, and after approval the comment is on the page.
func TestFormWithoutJavaScript(t *testing.T) {
	ctx := browser(t)
	port := freePort(t)
	origin := fmt.Sprintf("http://127.0.0.1:%d", port)
	in := start(t, setup{
		yaml: fmt.Sprintf(`listen: 127.0.0.1:%d
database_url: unused.db
http: {read_header_timeout: 5s, read_timeout: 20s, write_timeout: 30s, idle_timeout: 60s, shutdown_timeout: 10s}
rate_limit: {every: 15s, burst: 3}
sites:
  - id: demo
    name: Demo
    origins: [%s]
`, port, origin),
		env: map[string]string{"COMMENTD_LISTEN": fmt.Sprintf("127.0.0.1:%d", port)},
	})
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("disable JavaScript: %v", err)
	}

	do(t, ctx, "open the article", chromedp.Navigate(origin+"/demo/"))
	heading := get(t, ctx, "form heading", chromedp.Text(chromedp.CSS(".commentd-form-title")))
	note := get(t, ctx, "form note", chromedp.Text(chromedp.CSS(".commentd-note")))
	if heading != "Leave a Reply" || !strings.Contains(note, "Your email address will not be published. Required fields are marked *") {
		t.Errorf("form heading %q, note %q", heading, note)
	}
	do(t, ctx, "fill in and post the form",
		chromedp.SendKeys(chromedp.ID("commentd-body"), "Hello from a real browser."),
		chromedp.SendKeys(chromedp.ID("commentd-name"), "Ann"),
		chromedp.SendKeys(chromedp.ID("commentd-email"), "ann-at-example"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("commentd-email-error")),
	)

	emailErr := get(t, ctx, "email error", chromedp.Text(chromedp.ID("commentd-email-error")))
	body := get(t, ctx, "kept comment", chromedp.Value(chromedp.ID("commentd-body")))
	name := get(t, ctx, "kept name", chromedp.Value(chromedp.ID("commentd-name")))
	invalid := get(t, ctx, "aria-invalid", chromedp.AttributeValue(chromedp.ID("commentd-email"), "aria-invalid"))
	describedBy := get(t, ctx, "aria-describedby", chromedp.AttributeValue(chromedp.ID("commentd-email"), "aria-describedby"))
	if !strings.Contains(emailErr, "valid email address") {
		t.Errorf("email error = %q", emailErr)
	}
	if body != "Hello from a real browser." || name != "Ann" {
		t.Errorf("entries not kept: body %q, name %q", body, name)
	}
	if invalid.Value != "true" || describedBy.Value != "commentd-email-error" {
		t.Errorf("email field aria-invalid=%q aria-describedby=%q", invalid.Value, describedBy.Value)
	}
	nameErrors := get(t, ctx, "name error", chromedp.Nodes(chromedp.CSS("#commentd-name-error"), chromedp.AtLeast(0)))
	if len(nameErrors) != 0 {
		t.Error("the valid name field shows an error")
	}

	do(t, ctx, "post the corrected form",
		chromedp.SetValue(chromedp.ID("commentd-email"), "ann@example.org"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("article h1")),
	)
	location := get(t, ctx, "location", chromedp.Location())
	prefix := origin + "/demo/#comment-"
	if !strings.HasPrefix(location, prefix) {
		t.Fatalf("after posting the browser is at %q, want %s<id>", location, prefix)
	}
	id := strings.TrimPrefix(location, prefix)
	if r := in.mod(t, "POST", "/comments/"+id+"/approve"); r.status != 200 {
		t.Fatalf("approve %s: %d %s", id, r.status, r.body)
	}

	do(t, ctx, "reload the article", chromedp.Navigate(origin+"/demo/"))
	count := get(t, ctx, "count heading", chromedp.Text(chromedp.ID("commentd-count")))
	shown := get(t, ctx, "approved comment", chromedp.Text(chromedp.CSS("#comment-"+id+" .commentd-body")))
	if count != "1 Response" || strings.TrimSpace(shown) != "Hello from a real browser." {
		t.Errorf("article shows count %q and comment %q", count, shown)
	}
}
