package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// pageProblems collects what a page's scripts get wrong: uncaught
// exceptions, console errors and browser errors (a content-security-policy
// refusal, a failed load).
type pageProblems struct {
	mu   sync.Mutex
	list []string
}

func (p *pageProblems) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, s)
}

func (p *pageProblems) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.list...)
}

// watchPage subscribes to the page's errors; call it before navigating.
func watchPage(ctx context.Context) *pageProblems {
	p := &pageProblems{}
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	entries := chromedp.Events(ctx, cdplog.EntryAdded)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				text += " " + d.Exception.Description
			}
			p.add(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
		}
	}()
	go func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				p.add("console." + string(ev.Type) + ": " + strings.Join(args, " "))
			}
		}
	}()
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if ev.Entry.Level == cdplog.EntryLevelError {
				p.add(fmt.Sprintf("browser %s error: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}()
	return p
}

// TestAdminQueueInBrowser works the moderation queue in headless Chromium
// with JavaScript on: sign in through the form, see held comments with why
// they were held, approve one with the keyboard (j, a), undo it (u) and
// approve it again, watch a new comment arrive live, and find the approved
// comment on the public thread. No script may fail along the way.
//
// With COMMENTD_SCREENSHOTS=1 it also writes docs/admin-queue.png and
// docs/admin-keys.png.
func TestAdminQueueInBrowser(t *testing.T) {
	ctx := browser(t)
	problems := watchPage(ctx)
	port := freePort(t)
	origin := fmt.Sprintf("http://127.0.0.1:%d", port)
	db := filepath.Join(t.TempDir(), "commentd.db")
	yaml := fmt.Sprintf(`listen: 127.0.0.1:%d
database_url: unused.db
http: {read_header_timeout: 5s, read_timeout: 20s, write_timeout: 30s, idle_timeout: 60s, shutdown_timeout: 10s}
rate_limit: {every: 1s, burst: 50}
sites:
  - id: demo
    name: Demo blog
    origins: [%s]
`, port, origin)
	in := start(t, setup{yaml: yaml, env: map[string]string{"COMMENTD_LISTEN": fmt.Sprintf("127.0.0.1:%d", port), "COMMENTD_DATABASE_URL": db}})
	// The account commands read the same configuration (they declare its sites).
	cfg := filepath.Join(t.TempDir(), "commentd.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	const password = "moderate with care"
	if out, err := cli(t, db, password+"\n", "user", "create", "--config", cfg, "--email", "mod@example.org"); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	if out, err := cli(t, db, "", "user", "grant", "--config", cfg, "--email", "mod@example.org", "--site", "demo", "--role", "moderator"); err != nil {
		t.Fatalf("user grant: %v\n%s", err, out)
	}

	submit := func(v map[string]any, ua string) string {
		t.Helper()
		page := map[string]any{"page": "/demo/", "page_url": origin + "/demo/", "page_title": "Volunteers reopen the old towpath along the Mere canal"}
		for k, val := range v {
			page[k] = val
		}
		r := in.post(t, "demo", page, map[string]string{"User-Agent": ua})
		if r.status != 201 {
			t.Fatalf("submit: %d %s", r.status, r.body)
		}
		var got struct {
			Comment struct {
				ID string `json:"id"`
			} `json:"comment"`
		}
		r.decode(t, &got)
		return got.Comment.ID
	}
	const (
		firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
		safari  = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
		chrome  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	)
	parent := submit(map[string]any{"name": "Marta Keel", "email": "marta@example.net",
		"body": "I walked the new stretch on Sunday morning. The gravel is firm, even after the rain."}, firefox)
	if r := in.mod(t, "POST", "/comments/"+parent+"/approve"); r.status != 200 {
		t.Fatalf("approve parent: %d %s", r.status, r.body)
	}
	first := submit(map[string]any{"name": "Priya Shah", "email": "priya@example.org", "website": "https://priya.example",
		"body": "Lovely news. Does anyone know whether the path is **step-free** from the lock keeper's cottage? I'd like to bring my father's wheelchair."}, firefox)
	reply := submit(map[string]any{"name": "Tom Rowe", "email": "tom@example.com", "parent_id": parent,
		"body": "Same here: dry feet all the way to the footbridge. Thank you to everyone who carried gravel!"}, safari)
	third := submit(map[string]any{"name": "Jo Bright", "email": "jo@example.org", "website": "https://jo-bright.example/blog",
		"body": "Will the benches be ready by the summer? The society's page links to [the plans](https://example.org/plans)."}, chrome)

	do(t, ctx, "sign in",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(origin+"/admin"),
		chromedp.WaitVisible(chromedp.ID("login-email")),
		chromedp.SendKeys(chromedp.ID("login-email"), "mod@example.org"),
		chromedp.SendKeys(chromedp.ID("login-password"), password),
		chromedp.Click(chromedp.CSS(".adm-login button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("adm-queue")),
	)
	for _, id := range []string{first, reply, third} {
		do(t, ctx, "held comment "+id, chromedp.WaitVisible(chromedp.ID("c-"+id)))
	}
	reasons := get(t, ctx, "reasons", chromedp.Text(chromedp.CSS("#c-"+first+" .adm-reasons")))
	// innerText is as shown: the heading is in capitals.
	if !strings.Contains(strings.ToLower(reasons), "why it was held") || !strings.Contains(reasons, "Moderation mode") || !strings.Contains(reasons, "every comment is held for review") {
		t.Errorf("reasons of the held comment = %q", reasons)
	}
	inReply := get(t, ctx, "parent", chromedp.Text(chromedp.CSS("#c-"+reply+" .adm-parent")))
	if !strings.Contains(inReply, "Marta Keel") || !strings.Contains(inReply, "I walked the new stretch") {
		t.Errorf("the reply's parent shows %q", inReply)
	}
	screenshot(t, ctx, "admin-queue.png", chromedp.FullScreenshot(100))

	do(t, ctx, "open the keyboard help", chromedp.KeyEvent("?"), chromedp.WaitVisible(chromedp.ID("adm-help")))
	helpText := get(t, ctx, "help text", chromedp.Text(chromedp.ID("adm-help")))
	for _, want := range []string{"Next / previous comment", "Approve", "Reject", "Mark as spam", "Select or deselect", "Undo the last action"} {
		if !strings.Contains(helpText, want) {
			t.Errorf("the help lacks %q", want)
		}
	}
	screenshot(t, ctx, "admin-keys.png", chromedp.CaptureScreenshot())
	do(t, ctx, "close the help", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.ID("adm-help")))

	// j focuses the first (oldest) comment, a approves it and it leaves.
	do(t, ctx, "j", chromedp.KeyEvent("j"), chromedp.WaitVisible(chromedp.CSS("#c-"+first+".is-current")))
	if focused := get(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); focused != "c-"+first {
		t.Errorf("after j the focus is on %q, want c-%s", focused, first)
	}
	do(t, ctx, "a", chromedp.KeyEvent("a"), chromedp.WaitNotPresent(chromedp.ID("c-"+first)))
	if got := status(t, in, first); got != "approved" {
		t.Fatalf("after a the comment is %s", got)
	}
	said := get(t, ctx, "announcement", chromedp.Text(chromedp.ID("adm-toast")))
	if !strings.Contains(said, "approved") || !strings.Contains(said, "Press u to undo") {
		t.Errorf("the live region says %q", said)
	}
	if cur := get(t, ctx, "next current", chromedp.Evaluate[string](`(document.querySelector('.adm-card.is-current') || {}).id || ''`)); cur != "c-"+reply {
		t.Errorf("after approving, the keyboard is on %q, want the next comment c-%s", cur, reply)
	}

	// u puts it back; a approves it again.
	do(t, ctx, "u", chromedp.KeyEvent("u"), chromedp.WaitVisible(chromedp.CSS("#c-"+first+".is-current")))
	if got := status(t, in, first); got != "pending" {
		t.Errorf("after u the comment is %s, want pending", got)
	}
	do(t, ctx, "a again", chromedp.KeyEvent("a"), chromedp.WaitNotPresent(chromedp.ID("c-"+first)))

	// A comment held now appears without a reload.
	late := submit(map[string]any{"name": "Sam Ortiz", "email": "sam@example.org", "body": "Arrived while you were looking."}, chrome)
	do(t, ctx, "live comment", chromedp.WaitVisible(chromedp.ID("c-"+late)))
	// One handled elsewhere leaves without a reload.
	if r := in.mod(t, "POST", "/comments/"+late+"/spam"); r.status != 200 {
		t.Fatalf("spam through the API: %d %s", r.status, r.body)
	}
	do(t, ctx, "comment handled elsewhere", chromedp.WaitNotPresent(chromedp.ID("c-"+late)))

	// x selects; the bulk bar acts on the selection in place.
	do(t, ctx, "select two",
		chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`),
		chromedp.KeyEvent("x"), chromedp.KeyEvent("j"), chromedp.KeyEvent("x"),
		chromedp.WaitVisible(chromedp.CSS("#c-"+third+".is-selected")),
	)
	count := get(t, ctx, "bulk count", chromedp.Text(chromedp.ID("adm-bulk-count")))
	if count != "2 selected" {
		t.Errorf("bulk bar says %q, want 2 selected", count)
	}
	do(t, ctx, "bulk reject",
		chromedp.Click(chromedp.CSS(`#adm-bulk button[value="reject"]`)),
		chromedp.WaitNotPresent(chromedp.ID("c-"+reply)),
		chromedp.WaitNotPresent(chromedp.ID("c-"+third)),
		chromedp.WaitVisible(chromedp.ID("adm-empty")),
	)
	for _, id := range []string{reply, third} {
		if got := status(t, in, id); got != "rejected" {
			t.Errorf("after the bulk reject %s is %s", id, got)
		}
	}

	thread := in.call(t, "GET", "/api/v1/sites/demo/comments?page=/demo/", nil, nil)
	if thread.status != 200 || !strings.Contains(string(thread.body), `"id":"`+first+`"`) {
		t.Errorf("the public thread lacks the approved comment: %d %s", thread.status, thread.body)
	}
	if strings.Contains(string(thread.body), reply) || strings.Contains(string(thread.body), third) {
		t.Error("the public thread shows a held comment")
	}

	// Leave the page, so that its event stream does not hold up the server's
	// shutdown, and only then count the problems.
	do(t, ctx, "leave", chromedp.Navigate("about:blank"))
	time.Sleep(100 * time.Millisecond)
	for _, p := range problems.all() {
		t.Errorf("page problem: %s", p)
	}
}

// status is a comment's status as the moderation API reports it.
func status(t *testing.T, in *instance, id string) string {
	t.Helper()
	r := in.mod(t, "GET", "/comments/"+id)
	if r.status != 200 {
		t.Fatalf("get %s: %d %s", id, r.status, r.body)
	}
	var got struct {
		Comment struct {
			Status string `json:"status"`
		} `json:"comment"`
	}
	r.decode(t, &got)
	return got.Comment.Status
}

// screenshot writes the image to docs/name when COMMENTD_SCREENSHOTS=1, in
// the light colour scheme the README shows.
func screenshot(t *testing.T, ctx context.Context, name string, shot chromedp.Action[[]byte]) {
	t.Helper()
	if os.Getenv("COMMENTD_SCREENSHOTS") != "1" {
		return
	}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: os.Getenv("COMMENTD_SCREENSHOT_SCHEME")}},
	}); err != nil {
		t.Fatalf("colour scheme: %v", err)
	}
	png := get(t, ctx, "screenshot "+name, shot)
	dir := filepath.Join("..", "..", "docs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if s := os.Getenv("COMMENTD_SCREENSHOT_SCHEME"); s != "" {
		name = strings.TrimSuffix(name, ".png") + "-" + s + ".png"
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
