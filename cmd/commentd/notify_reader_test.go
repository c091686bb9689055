package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readerTestSecret is the server secret of the reader tests, so that they
// can make readers' links themselves.
const readerTestSecret = "reader-test-secret-0123456789abcdef0123"

// readerYAML is a configuration with one site, id site, whose readers may
// ask for reply notifications, sent through the SMTP server at smtpAddr;
// its moderators are told of held comments at mod@example.org.
func readerYAML(listen, site, origins, smtpAddr string) string {
	return fmt.Sprintf(`listen: %s
database_url: unused.db
secret: %s
http: {read_header_timeout: 5s, read_timeout: 20s, write_timeout: 30s, idle_timeout: 60s, shutdown_timeout: 10s}
rate_limit: {every: 1s, burst: 100}
notify:
  smtp_url: smtp://%s?tls=none
  from: Ledger <notes@example.org>
  poll: 100ms
sites:
  - id: %s
    name: Ledger Notes
    origins: [%s]
    notify:
      emails: [mod@example.org]
      replies: true
`, listen, readerTestSecret, smtpAddr, site, origins)
}

// readerDBValue runs a query for one value on the SQLite file at path.
func readerDBValue(t *testing.T, path, query string, args ...any) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v sql.NullString
	if err := db.QueryRow(query, args...).Scan(&v); err != nil && err != sql.ErrNoRows {
		t.Fatalf("%s: %v", query, err)
	}
	return v.String
}

// readerState is the state of the address on the site, "" if none.
func readerState(t *testing.T, dbPath, site, email string) string {
	t.Helper()
	return readerDBValue(t, dbPath, `SELECT state FROM reader_addresses WHERE site_id = ? AND email_lower = ?`,
		site, strings.ToLower(email))
}

// postReaderComment posts a comment with a fresh form token as a reader
// would and returns its id and status.
func postReaderComment(t *testing.T, in *instance, site string, f map[string]any) (id, status string) {
	t.Helper()
	var tok struct{ Token string }
	in.call(t, "GET", "/api/v1/sites/"+site+"/form-token?page="+url.QueryEscape(f["page"].(string)), nil, nil).decode(t, &tok)
	f["form_token"] = tok.Token
	r := in.post(t, site, f, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	var c struct {
		Comment struct{ ID string } `json:"comment"`
		Status  string              `json:"status"`
	}
	r.decode(t, &c)
	return c.Comment.ID, c.Status
}

// mailsTo returns the emails the sink got for the address.
func mailsTo(s *smtpSink, addr string) []received {
	var out []received
	for _, m := range s.messages() {
		for _, to := range m.to {
			if strings.EqualFold(to, addr) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

var confirmLinkRE = regexp.MustCompile(`https?://\S+/notify/confirm\?t=[A-Za-z0-9_%-]+`)

// TestNotifyReaderLoop follows a reader through reply notifications over
// HTTP and SMTP: a comment posted with notify_replies brings one email
// with a confirmation link; its page confirms only when its button is
// pressed; an approved reply by someone else brings an email with
// List-Unsubscribe and List-Unsubscribe-Post; a one-click POST to that
// address, without cookie or token, unsubscribes; the next approved reply
// sends nothing to the reader.
func TestNotifyReaderLoop(t *testing.T) {
	mail := startSMTP(t, "127.0.0.1:0")
	db := filepath.Join(t.TempDir(), "commentd.db")
	in := start(t, setup{
		yaml: readerYAML("127.0.0.1:0", "ledger", "https://news.example", mail.addr),
		env:  map[string]string{"COMMENTD_DATABASE_URL": db},
	})
	notifySite(t, in, "ledger")
	const reader = "Reader.One@Example.org"
	page := map[string]any{"page": "/notes/tides", "page_title": "On the tides"}
	with := func(kv ...any) map[string]any {
		f := map[string]any{}
		for k, v := range page {
			f[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			f[kv[i].(string)] = kv[i+1]
		}
		return f
	}

	parent, status := postReaderComment(t, in, "ledger", with("name", "Rita", "email", reader,
		"body", "Do the spring tides reach the upper steps?", "notify_replies", true))
	if status != "approved" {
		t.Fatalf("parent status %q, want approved", status)
	}
	if got := readerDBValue(t, db, `SELECT notify_replies FROM comments WHERE id = ?`, parent); got != "1" {
		t.Fatalf("stored notify_replies = %q, want 1", got)
	}

	eventually(t, 20*time.Second, "a confirmation email to the reader", func() bool { return len(mailsTo(mail, reader)) > 0 })
	confirm := mailsTo(mail, reader)[0]
	link := confirmLinkRE.FindString(confirm.text)
	if link == "" {
		t.Fatalf("no confirmation link in:\n%s", confirm.text)
	}
	if strings.Contains(strings.ToLower(link), "reader") || strings.Contains(strings.ToLower(link), "example.org") {
		t.Errorf("the link shows the address: %s", link)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	// The confirmation carries an unsubscribe link too ("never email me
	// from this site"), in the text and the List-Unsubscribe headers.
	if lu := strings.Trim(confirm.header.Get("List-Unsubscribe"), "<>"); !strings.Contains(lu, "/notify/unsubscribe?t=") ||
		!strings.Contains(confirm.text, lu) || confirm.header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("confirmation email's List-Unsubscribe %q is not its unsubscribe link:\n%s", lu, confirm.text)
	}

	// Following the link shows a button and changes nothing.
	r := in.call(t, "GET", u.RequestURI(), nil, nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `<form method="post">`) ||
		!strings.Contains(string(r.body), "r***@example.org") {
		t.Fatalf("confirm page: %d\n%s", r.status, r.body)
	}
	if got := readerState(t, db, "ledger", reader); got == "confirmed" {
		t.Fatal("following the link confirmed the address")
	}
	form := url.Values{"t": {u.Query().Get("t")}}.Encode()
	r = in.call(t, "POST", "/notify/confirm", strings.NewReader(form), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status != http.StatusOK {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	if got := readerState(t, db, "ledger", reader); got != "confirmed" {
		t.Fatalf("state after confirming = %q", got)
	}

	// A reply, held and then approved by a moderator.
	reply, status := postReaderComment(t, in, "ledger", with("name", "Sam", "email", "sam@example.net",
		"body", "Only at the equinox, holdme.", "parent_id", parent))
	if status != "pending" {
		t.Fatalf("reply status %q, want pending", status)
	}
	if r := in.mod(t, "POST", "/comments/"+reply+"/approve"); r.status != http.StatusOK {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	eventually(t, 20*time.Second, "a reply email to the reader", func() bool { return len(mailsTo(mail, reader)) > 1 })
	msgs := mailsTo(mail, reader)
	if len(msgs) != 2 {
		t.Fatalf("%d emails to the reader, want 2", len(msgs))
	}
	replyMail := msgs[1]
	if !strings.Contains(replyMail.text, "Only at the equinox") {
		t.Errorf("reply email does not quote the reply:\n%s", replyMail.text)
	}
	if strings.Contains(replyMail.raw, "sam@example.net") {
		t.Errorf("reply email shows the replier's address")
	}
	if got := replyMail.header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	lu := replyMail.header.Get("List-Unsubscribe")
	if !strings.HasPrefix(lu, "<") || !strings.HasSuffix(lu, ">") {
		t.Fatalf("List-Unsubscribe = %q", lu)
	}
	unsub, err := url.Parse(strings.Trim(lu, "<>"))
	if err != nil || unsub.Path != "/notify/unsubscribe" {
		t.Fatalf("List-Unsubscribe URL %q: %v", lu, err)
	}
	if !strings.Contains(replyMail.text, unsub.String()) {
		t.Errorf("the unsubscribe link is not in the text:\n%s", replyMail.text)
	}

	// One click in the mail client: a POST to the header's URL, no cookie,
	// no CSRF token.
	resp, err := http.Post(unsub.String(), "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click unsubscribe: %d", resp.StatusCode)
	}
	if got := readerState(t, db, "ledger", reader); got != "unsubscribed" {
		t.Fatalf("state after one-click = %q", got)
	}

	// Another approved reply: the reader hears nothing; nor when the box
	// is ticked again with the unsubscribed address (no new confirmation
	// request). A held comment submitted after them, whose moderators'
	// email comes once the jobs before it are done, marks when the worker
	// has been through them.
	second, _ := postReaderComment(t, in, "ledger", with("name", "Tom", "email", "tom@example.net",
		"body", "They did in 1953, holdme.", "parent_id", parent))
	if r := in.mod(t, "POST", "/comments/"+second+"/approve"); r.status != http.StatusOK {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	postReaderComment(t, in, "ledger", with("name", "Rita", "email", reader,
		"body", "And the neap tides?", "notify_replies", true))
	marker, _ := postReaderComment(t, in, "ledger", with("name", "Una", "email", "una@example.net", "body", "Marker, holdme."))
	eventually(t, 20*time.Second, "the moderators' email about the marker", func() bool {
		for _, m := range mailsTo(mail, "mod@example.org") {
			if strings.Contains(m.text, marker) {
				return true
			}
		}
		return false
	})
	time.Sleep(time.Second) // a few more polls, for any delivery planned with it
	if n := len(mailsTo(mail, reader)); n != 2 {
		for _, m := range mailsTo(mail, reader) {
			t.Logf("to the reader: %s\n%s", m.subject, m.text)
		}
		t.Errorf("%d emails to the reader after unsubscribing, want still 2", n)
	}

	// The reader's data: the export has the state and the two emails; the
	// erasure removes them and turns reply notifications off.
	admin := map[string]string{"Authorization": "Bearer " + in.token, "Content-Type": "application/json"}
	body := func() *strings.Reader { return strings.NewReader(`{"email": "` + strings.ToUpper(reader) + `"}`) }
	r = in.call(t, "POST", "/api/v1/admin/gdpr/export", body(), admin)
	if r.status != http.StatusOK {
		t.Fatalf("export: %d %s", r.status, r.body)
	}
	var export struct {
		ReaderAddresses []struct {
			Site, State string
		} `json:"reader_addresses"`
		NotifyDeliveries []struct {
			Kind, State string
		} `json:"notify_deliveries"`
	}
	r.decode(t, &export)
	if len(export.ReaderAddresses) != 1 || export.ReaderAddresses[0].State != "unsubscribed" {
		t.Errorf("exported reader addresses = %+v", export.ReaderAddresses)
	}
	if len(export.NotifyDeliveries) != 2 || export.NotifyDeliveries[0].Kind != "confirm" ||
		export.NotifyDeliveries[1].Kind != "reply" || export.NotifyDeliveries[1].State != "sent" {
		t.Errorf("exported deliveries = %+v", export.NotifyDeliveries)
	}
	if strings.Contains(string(r.body), "sam@example.net") || strings.Contains(string(r.body), "Only at the equinox") {
		t.Errorf("the export holds the replier's data: %s", r.body)
	}
	r = in.call(t, "POST", "/api/v1/admin/gdpr/erase", body(), admin)
	if r.status != http.StatusOK {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	if got := readerState(t, db, "ledger", reader); got != "" {
		t.Errorf("state after erase = %q, want none", got)
	}
	if got := readerDBValue(t, db, `SELECT notify_replies FROM comments WHERE id = ?`, parent); got != "0" {
		t.Errorf("notify_replies after erase = %q, want 0", got)
	}
	if got := readerDBValue(t, db, `SELECT count(*) FROM notify_deliveries WHERE lower(recipient) = ?`, strings.ToLower(reader)); got != "0" {
		t.Errorf("%s deliveries to the reader left after erase", got)
	}
}
