package main

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/commentd/commentd/internal/notify"
)

// TestNotifyReaderInBrowser drives the reader's side of reply
// notifications in Chromium: the widget on the demo article offers the
// "Notify me of replies by email" box, unticked; a reader ticks it and
// posts, and the stored comment has notify_replies; the confirmation page
// of a link made for the reader shows the address masked and confirms only
// when its button is pressed; a one-click POST unsubscribes; a tampered
// link gets the 400 page.
func TestNotifyReaderInBrowser(t *testing.T) {
	mail := startSMTP(t, "127.0.0.1:0")
	port := freePort(t)
	origin := fmt.Sprintf("http://127.0.0.1:%d", port)
	db := filepath.Join(t.TempDir(), "commentd.db")
	in := start(t, setup{
		yaml: readerYAML(fmt.Sprintf("127.0.0.1:%d", port), "demo", origin, mail.addr),
		env: map[string]string{
			"COMMENTD_LISTEN":       fmt.Sprintf("127.0.0.1:%d", port),
			"COMMENTD_DATABASE_URL": db,
			"COMMENTD_ADMIN_TOKEN":  widgetAdminToken,
		},
	})
	env := &widgetEnv{in: in, origin: origin, db: db}
	env.rules(t, func(doc map[string]any) { doc["min_submit_seconds"] = 0 })
	const reader = "Ann.Reader@example.org"

	ctx := browser(t)
	problems := watchPage(ctx)
	do(t, ctx, "open the article", chromedp.EmulateViewport(1000, 900), chromedp.Navigate(origin+"/demo/"), enhanced(),
		chromedp.WaitVisible(chromedp.ID("commentd-notify_replies")))
	if got := text(t, ctx, `label[for="commentd-notify_replies"]`); got != "Notify me of replies by email" {
		t.Errorf("checkbox label = %q", got)
	}
	if js[bool](t, ctx, `document.getElementById('commentd-notify_replies').checked`) {
		t.Error("the notify box is ticked before the reader ticks it")
	}

	do(t, ctx, "post with the box ticked",
		chromedp.SendKeys(chromedp.ID("commentd-body"), "Will the heron hide be open in March?"),
		chromedp.SendKeys(chromedp.ID("commentd-name"), "Ann Reader"),
		chromedp.SendKeys(chromedp.ID("commentd-email"), reader),
		chromedp.Click(chromedp.ID("commentd-notify_replies")),
		chromedp.Click(chromedp.CSS("#commentd-respond button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".commentd-is-pending, .commentd-comment:not(.commentd-is-pending)")),
		chromedp.Poll[chromedp.Void](`document.querySelector('.commentd-status').textContent.includes('Your comment')`),
	)
	own := strings.TrimPrefix(js[string](t, ctx, `document.querySelector('.commentd-comment').id`), "comment-")
	if own == "" {
		t.Fatal("the posted comment is not shown")
	}
	if got := readerDBValue(t, db, `SELECT notify_replies FROM comments WHERE id = ?`, own); got != "1" {
		t.Fatalf("stored notify_replies = %q, want 1", got)
	}
	if js[bool](t, ctx, `document.getElementById('commentd-notify_replies').checked`) {
		t.Error("the notify box stays ticked for the next comment")
	}
	expectProblems(t, problems)

	// The confirmation link, as the email carries it, once the worker has
	// asked for the confirmation (a confirm link needs that record).
	eventually(t, 20*time.Second, "the confirmation request", func() bool { return readerState(t, db, "demo", reader) == "unconfirmed" })
	link := notify.ConfirmURL(origin, []byte(readerTestSecret), "demo", reader, time.Now())
	do(t, ctx, "open the confirmation link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("button[type=submit]")))
	if got := text(t, ctx, "h1"); got != "Confirm reply notifications" {
		t.Errorf("title = %q", got)
	}
	page := text(t, ctx, "main")
	if !strings.Contains(page, "a***@example.org") || strings.Contains(strings.ToLower(page), "ann.reader") {
		t.Errorf("the page does not show the address masked:\n%s", page)
	}
	if got := readerState(t, db, "demo", reader); got == "confirmed" {
		t.Fatal("opening the link confirmed the address")
	}
	do(t, ctx, "press Confirm", chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitNotPresent(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("h1")))
	if got := text(t, ctx, "h1"); got != "Reply notifications confirmed" {
		t.Errorf("title after Confirm = %q", got)
	}
	if got := readerState(t, db, "demo", reader); got != "confirmed" {
		t.Fatalf("state after Confirm = %q, want confirmed", got)
	}
	if js[bool](t, ctx, `!!document.querySelector('form')`) {
		t.Error("the confirmed page still has a form")
	}

	// One click from a mail client.
	unsub := notify.UnsubscribeURL(origin, []byte(readerTestSecret), "demo", reader)
	resp, err := http.Post(unsub, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click unsubscribe: %d", resp.StatusCode)
	}
	if got := readerState(t, db, "demo", reader); got != "unsubscribed" {
		t.Fatalf("state after one-click = %q, want unsubscribed", got)
	}
	do(t, ctx, "open the unsubscribe link", chromedp.Navigate(unsub), chromedp.WaitVisible(chromedp.CSS("h1")))
	if got := text(t, ctx, "h1"); got != "Unsubscribed" {
		t.Errorf("unsubscribe page of an unsubscribed address: title %q", got)
	}
	// Its button sends reply notifications again: the form posts to the
	// page's own URL, which the page's policy (form-action 'self') allows.
	do(t, ctx, "press Send me reply notifications again",
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitNotPresent(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("h1")))
	if got := text(t, ctx, "h1"); got != "Reply notifications confirmed" {
		t.Errorf("title after resubscribing = %q", got)
	}
	if got := readerState(t, db, "demo", reader); got != "confirmed" {
		t.Errorf("state after resubscribing = %q, want confirmed", got)
	}

	// A tampered link: one character of the token changed.
	u, _ := url.Parse(link)
	tok := []byte(u.Query().Get("t"))
	i := len(tok) / 2
	if tok[i] == 'A' {
		tok[i] = 'B'
	} else {
		tok[i] = 'A'
	}
	bad := origin + "/notify/confirm?t=" + string(tok)
	resp, err = http.Get(bad)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("tampered link: status %d, want 400", resp.StatusCode)
	}
	do(t, ctx, "open a tampered link", chromedp.Navigate(bad), chromedp.WaitVisible(chromedp.CSS("h1")))
	if got := text(t, ctx, "h1"); got != "This link is not valid" {
		t.Errorf("tampered link: title %q", got)
	}
	if js[bool](t, ctx, `!!document.querySelector('form')`) {
		t.Error("the page of a tampered link has a form")
	}
	expectProblems(t, problems, "400")
}
