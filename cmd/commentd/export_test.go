package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/config"
	"github.com/commentd/commentd/internal/markup"
	"github.com/commentd/commentd/internal/store/sqlite"
	"github.com/commentd/commentd/internal/testenv"
)

// cliSplit runs one command against the database at dbURL and returns its
// standard output and standard error apart.
func cliSplit(t *testing.T, dbURL string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	env := map[string]string{"COMMENTD_DATABASE_URL": dbURL, "COMMENTD_REDIS_URL": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var out, errb bytes.Buffer
	err = run(context.Background(), args, lookup, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

// exportJSON exports site from dbURL and fails the test on an error.
func exportJSON(t *testing.T, dbURL, site string) string {
	t.Helper()
	out, errOut, err := cliSplit(t, dbURL, "export", "json", site)
	if err != nil {
		t.Fatalf("export json %s: %v\n%s", site, err, errOut)
	}
	return out
}

// importJSON imports the document doc into dbURL.
func importJSON(t *testing.T, dbURL, doc string, extra ...string) (string, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "site.json")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := cliSplit(t, dbURL, append([]string{"import", "json", file}, extra...)...)
	return out + errOut, err
}

// exportedDoc is the part of an exported document the test reads.
type exportedDoc struct {
	Format string `json:"format"`
	Site   struct {
		ID      string   `json:"id"`
		Origins []string `json:"origins"`
	} `json:"site"`
	Rules struct {
		Settings      map[string]any `json:"settings"`
		TrustedEmails []string       `json:"trusted_emails"`
	} `json:"rules"`
	Pages []struct {
		Key   string `json:"key"`
		URL   string `json:"url"`
		Title string `json:"title"`
	} `json:"pages"`
	Comments []struct {
		ID          string `json:"id"`
		ParentID    string `json:"parent_id"`
		Depth       int    `json:"depth"`
		AuthorName  string `json:"author_name"`
		AuthorEmail string `json:"author_email"`
		Body        string `json:"body"`
		Status      string `json:"status"`
		IP          string `json:"ip"`
		UserAgent   string `json:"user_agent"`
		Reasons     []struct {
			Rule string `json:"rule"`
		} `json:"reasons"`
		CreatedAt string `json:"created_at"`
	} `json:"comments"`
}

// TestSiteExportImportRoundTrip fills a site through the HTTP API with
// comments in every status (unicode, emoji, right-to-left text, nested
// replies) and changed rules, exports it, imports the document into a new
// SQLite file and a new PostgreSQL schema, and checks that exporting from
// either gives back the same bytes.
func TestSiteExportImportRoundTrip(t *testing.T) {
	site := testenv.UniqueName("s")
	db := filepath.Join(t.TempDir(), "source.db")
	in := start(t, setup{yaml: strings.Replace(siteYAML(site, ""), "burst: 3", "burst: 100", 1), env: map[string]string{
		"COMMENTD_DATABASE_URL": db, "COMMENTD_ADMIN_TOKEN": "export-test-admin-token", "COMMENTD_TRUSTED_PROXIES": "127.0.0.1/32",
	}})

	post := func(body map[string]any, ip string) (id, status string) {
		t.Helper()
		r := in.post(t, site, body, map[string]string{"X-Forwarded-For": ip, "User-Agent": "Mozilla/5.0 (تجربة) 🧪"})
		if r.status != 201 {
			t.Fatalf("post %v: %d %s", body["body"], r.status, r.body)
		}
		var got struct {
			Comment struct{ ID string } `json:"comment"`
			Status  string              `json:"status"`
		}
		r.decode(t, &got)
		return got.Comment.ID, got.Status
	}
	act := func(id, action string) {
		t.Helper()
		if r := in.mod(t, "POST", "/comments/"+id+"/"+action); r.status != 200 {
			t.Fatalf("%s %s: %d %s", action, id, r.status, r.body)
		}
	}
	page := map[string]any{"page": "/2026/11/ünïcode", "page_url": "https://news.example/2026/11/%C3%BCn%C3%AFcode", "page_title": "Ünïcode — عنوان 📰"}
	with := func(m map[string]any) map[string]any {
		for k, v := range page {
			if _, ok := m[k]; !ok {
				m[k] = v
			}
		}
		return m
	}
	top, _ := post(with(map[string]any{"name": "Zoë 🦊", "email": "zoe@example.org", "website": "https://zoe.example", "body": "First! *Grüße* 🎉\n\nשלום עולם"}), "192.0.2.10")
	act(top, "approve")
	reply, _ := post(with(map[string]any{"parent_id": top, "name": "محمد", "email": "m@example.org", "body": "مرحبا بالعالم 🌍 — a reply"}), "192.0.2.11")
	act(reply, "approve")
	nested, _ := post(with(map[string]any{"parent_id": reply, "name": "李雷", "email": "li@example.org", "body": "第三层 `code` <b>not html</b>"}), "2001:db8::7")
	rejected, _ := post(map[string]any{"page": "/other", "name": "Rex", "email": "rex@example.org", "body": "Rejected one."}, "192.0.2.12")
	act(rejected, "reject")
	// The submitter is told "pending" either way; the queue knows better.
	spam, _ := post(with(map[string]any{"name": "Bot", "email": "bot@example.org", "body": "Cheap pills", "url": "http://bot.example"}), "192.0.2.13")
	var full struct{ Comment struct{ Status string } }
	in.mod(t, "GET", "/comments/"+spam).decode(t, &full)
	if st := full.Comment.Status; st != "spam" {
		t.Fatalf("honeypot submission: status %s, want spam", st)
	}
	deleted, _ := post(with(map[string]any{"name": "Del", "email": "del@example.org", "body": "Soon gone."}), "192.0.2.14")
	act(deleted, "delete")

	rules := in.rules(t, site)
	rules["block_words"] = []string{"casino 🎰"}
	rules["trusted_emails"] = []string{"friend@example.org"}
	if r := in.putRules(t, site, rules); r.status != 200 {
		t.Fatalf("put rules: %d %s", r.status, r.body)
	}

	first := exportJSON(t, db, site)
	var doc exportedDoc
	if err := json.Unmarshal([]byte(first), &doc); err != nil {
		t.Fatalf("export is not one JSON document: %v\n%s", err, first)
	}
	wantStatus := map[string]string{top: "approved", reply: "approved", nested: "pending", rejected: "rejected", spam: "spam", deleted: "deleted"}
	if len(doc.Comments) != len(wantStatus) {
		t.Fatalf("exported %d comments, want %d:\n%s", len(doc.Comments), len(wantStatus), first)
	}
	byID := make(map[string]int)
	for i, c := range doc.Comments {
		byID[c.ID] = i
		if c.Status != wantStatus[c.ID] {
			t.Errorf("comment %s: status %s, want %s", c.ID, c.Status, wantStatus[c.ID])
		}
		if c.IP == "" || c.UserAgent != "Mozilla/5.0 (تجربة) 🧪" || c.AuthorEmail == "" {
			t.Errorf("comment %s lost private fields: ip %q, user agent %q, email %q", c.ID, c.IP, c.UserAgent, c.AuthorEmail)
		}
	}
	if c := doc.Comments[byID[nested]]; c.ParentID != reply || c.Depth != 3 || c.AuthorName != "李雷" {
		t.Errorf("nested reply exported as %+v", c)
	}
	if c := doc.Comments[byID[reply]]; c.Body != "مرحبا بالعالم 🌍 — a reply" || c.ParentID != top || c.Depth != 2 {
		t.Errorf("reply exported as %+v", c)
	}
	if c := doc.Comments[byID[spam]]; len(c.Reasons) == 0 {
		t.Errorf("spam comment exported without reasons: %+v", c)
	}
	if len(doc.Pages) != 2 || doc.Pages[0].Key != "/2026/11/ünïcode" || doc.Pages[0].Title != "Ünïcode — عنوان 📰" || doc.Pages[1].Key != "/other" {
		t.Errorf("pages = %+v", doc.Pages)
	}
	if words, _ := doc.Rules.Settings["block_words"].([]any); len(words) != 1 || words[0] != "casino 🎰" {
		t.Errorf("rules settings: block_words %v", doc.Rules.Settings["block_words"])
	}
	if len(doc.Rules.TrustedEmails) != 1 || doc.Rules.TrustedEmails[0] != "friend@example.org" {
		t.Errorf("trusted emails = %v", doc.Rules.TrustedEmails)
	}

	targets := []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "copy.db") }},
		{"postgres", pgSchemaURL},
	}
	for _, target := range targets {
		t.Run(target.name, func(t *testing.T) {
			url := target.db(t)
			out, err := importJSON(t, url, first)
			if err != nil {
				t.Fatalf("import: %v\n%s", err, out)
			}
			if !strings.Contains(out, "2 pages, 6 comments") {
				t.Errorf("import printed %q", out)
			}
			if again := exportJSON(t, url, site); again != first {
				t.Errorf("export after import differs:\n--- first\n%s\n--- again\n%s", first, again)
			}

			out, err = importJSON(t, url, first)
			if err == nil || !strings.Contains(err.Error(), "already has comments") {
				t.Errorf("second import into the same site: %v\n%s", err, out)
			}

			// Comment ids are unique in a database, whatever their site.
			renamed := site + "b"
			out, err = importJSON(t, url, first, "--site", renamed)
			if err == nil || !strings.Contains(err.Error(), "6 comments of the file are in this database already") {
				t.Errorf("import under another id into the same database: %v\n%s", err, out)
			}
			// Refused before any write: the site was not created.
			if _, errOut, err := cliSplit(t, url, "export", "json", renamed); err == nil {
				t.Errorf("site %s exists after the refused import\n%s", renamed, errOut)
			}
			fresh := target.db(t)
			if out, err := importJSON(t, fresh, first, "--site", renamed); err != nil {
				t.Fatalf("import --site: %v\n%s", err, out)
			}
			want := strings.Replace(first, `"id":"`+site+`"`, `"id":"`+renamed+`"`, 1)
			if got := exportJSON(t, fresh, renamed); got != want {
				t.Errorf("export of the renamed site differs:\n--- want\n%s\n--- got\n%s", want, got)
			}
		})
	}
}

// TestSiteImportRefusesBadFiles: malformed or inconsistent documents are
// refused with a message that says what is wrong, and nothing is loaded.
func TestSiteImportRefusesBadFiles(t *testing.T) {
	head := `{"format":"commentd-site","version":1,"site":{"id":"x","name":"X","origins":[],"rate_limit":{"every":"15s","burst":3}},"rules":{"updated_by":"","trusted_emails":[],"blocked_emails":[],"blocked_ips":[]},"pages":[{"key":"/p","url":"","title":""}],"comments":[`
	row := func(id, parent string, depth int, status string) string {
		b, _ := json.Marshal(map[string]any{"id": id, "parent_id": parent, "depth": depth, "page": "/p", "author_name": "A", "author_email": "a@example.org",
			"author_website": "", "body": "b", "body_html": "<p>b</p>", "status": status, "ip": "", "user_agent": "", "reasons": []any{},
			"created_at": "2026-01-02T03:04:05.123456Z", "updated_at": "2026-01-02T03:04:05.123456Z"})
		return string(b)
	}
	cases := []struct {
		name, doc, want string
	}{
		{"truncated", head + row("c1", "", 1, "approved"), "malformed document"},
		{"not json", "this is not json", "malformed document"},
		{"empty", "", "malformed document"},
		{"other format", `{"format":"wxr","version":1}`, `not a commentd site document`},
		{"newer version", `{"format":"commentd-site","version":2}`, "version 2 is not supported"},
		{"unknown status", head + row("c1", "", 1, "hidden") + "]}", `unknown status "hidden"`},
		{"missing parent", head + row("c2", "c1", 2, "approved") + "]}", "parent c1 is not in the file"},
		{"wrong depth", head + row("c1", "", 1, "approved") + "," + row("c2", "c1", 3, "approved") + "]}", "depth 3 under a parent of depth 1"},
		{"duplicate id", head + row("c1", "", 1, "approved") + "," + row("c1", "", 1, "approved") + "]}", "appears twice"},
		{"unknown page", strings.Replace(head, `"key":"/p"`, `"key":"/q"`, 1) + row("c1", "", 1, "approved") + "]}", `page "/p" is not among the pages`},
		{"wrong type", head + `{"id":"c1","depth":"one"}]}`, "malformed document"},
		{"trailing data", head + row("c1", "", 1, "approved") + "]} {}", "more data after the document"},
	}
	db := filepath.Join(t.TempDir(), "c.db")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := importJSON(t, db, tc.doc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("import: err %v, want one containing %q\n%s", err, tc.want, out)
			}
		})
	}
	// Nothing of the refused files reached the database.
	if _, errOut, err := cliSplit(t, db, "export", "json", "x"); err == nil {
		t.Errorf("site x exists after refused imports\n%s", errOut)
	}
	// A reply may come before its parent in the file: it is loaded after.
	good := head + row("c2", "c1", 2, "pending") + "," + row("c1", "", 1, "approved") + "]}"
	if out, err := importJSON(t, db, good); err != nil {
		t.Fatalf("a valid document: %v\n%s", err, out)
	}
	var doc exportedDoc
	if err := json.Unmarshal([]byte(exportJSON(t, db, "x")), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Comments) != 2 || doc.Comments[0].ID != "c1" || doc.Comments[1].ParentID != "c1" || doc.Comments[1].CreatedAt != "2026-01-02T03:04:05.123456Z" {
		t.Errorf("imported comments = %+v", doc.Comments)
	}
}

// TestSiteExportPagesThroughEveryStatus exports a site with more comments
// of each status than one read of the store returns, some created at the
// same instant, and checks that every comment comes out once, in
// (created_at, id) order, and that the document round-trips.
func TestSiteExportPagesThroughEveryStatus(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "many.db")
	store, err := sqlite.Open(ctx, db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.UpsertSite(ctx, comment.Site{ID: "many", Name: "Many", Origins: []string{"https://many.example"}}); err != nil {
		t.Fatal(err)
	}
	statuses := []comment.Status{comment.StatusApproved, comment.StatusPending, comment.StatusSpam, comment.StatusRejected, comment.StatusDeleted}
	const total = 3*exportPageSize + 37
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	comments := func(yield func(comment.Comment) bool) {
		top := ""
		for i := range total {
			// Pairs of comments share an instant; ids then decide.
			at := base.Add(time.Duration(i/2) * time.Microsecond)
			c := comment.Comment{
				ID: fmt.Sprintf("c%05d", total-i), SiteID: "many", PageKey: fmt.Sprintf("/p%d", i%7), Depth: 1,
				AuthorName: "Ä " + strconv.Itoa(i), AuthorEmail: "a@example.org", Body: "b", BodyHTML: "<p>b</p>",
				Status: statuses[i%len(statuses)], CreatedAt: at, UpdatedAt: at,
			}
			if i%3 == 1 && top != "" {
				c.ParentID, c.Depth, c.PageKey = top, 2, "/p0"
			}
			if c.Depth == 1 && c.PageKey == "/p0" {
				top = c.ID
			}
			if !yield(c) {
				return
			}
		}
	}
	pages := make([]comment.Page, 7)
	for i := range pages {
		pages[i] = comment.Page{SiteID: "many", Key: fmt.Sprintf("/p%d", i)}
	}
	if err := store.BulkLoad(ctx, pages, comments); err != nil {
		t.Fatal(err)
	}
	store.Close()

	first := exportJSON(t, db, "many")
	var doc exportedDoc
	if err := json.Unmarshal([]byte(first), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Comments) != total || len(doc.Pages) != 7 {
		t.Fatalf("exported %d comments on %d pages, want %d on 7", len(doc.Comments), len(doc.Pages), total)
	}
	seen := make(map[string]bool)
	for i, c := range doc.Comments {
		if seen[c.ID] {
			t.Fatalf("comment %s exported twice", c.ID)
		}
		seen[c.ID] = true
		if i > 0 {
			prev := doc.Comments[i-1]
			at, err1 := time.Parse(time.RFC3339Nano, c.CreatedAt)
			prevAt, err2 := time.Parse(time.RFC3339Nano, prev.CreatedAt)
			if err1 != nil || err2 != nil {
				t.Fatalf("created_at %q, %q: %v %v", c.CreatedAt, prev.CreatedAt, err1, err2)
			}
			if at.Before(prevAt) || (at.Equal(prevAt) && c.ID < prev.ID) {
				t.Fatalf("comment %d (%s %s) comes after %s %s", i, c.CreatedAt, c.ID, prev.CreatedAt, prev.ID)
			}
		}
	}
	copyDB := filepath.Join(t.TempDir(), "copy.db")
	if out, err := importJSON(t, copyDB, first); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if again := exportJSON(t, copyDB, "many"); again != first {
		t.Errorf("export after import differs (%d bytes, want %d)", len(again), len(first))
	}
}

// TestSiteImportClashChangesNothing: a document whose comment ids clash
// with comments of another site is refused before anything is written,
// whether its site is new or exists without comments: the site, its rules
// and its pages stay as they were.
func TestSiteImportClashChangesNothing(t *testing.T) {
	doc := func(site, name string, blocked []string, ids ...string) string {
		var rows []string
		for _, id := range ids {
			b, _ := json.Marshal(map[string]any{"id": id, "parent_id": "", "depth": 1, "page": "/p-" + site, "author_name": "A", "author_email": "a@example.org",
				"author_website": "", "body": "b", "body_html": "<p>b</p>", "status": "approved", "ip": "", "user_agent": "", "reasons": []any{},
				"created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z"})
			rows = append(rows, string(b))
		}
		bl, _ := json.Marshal(blocked)
		pages := `[]`
		if len(ids) > 0 {
			pages = `[{"key":"/p-` + site + `","url":"","title":"T"}]`
		}
		return `{"format":"commentd-site","version":1,"site":{"id":"` + site + `","name":"` + name + `","origins":["https://` + site + `.example"],"rate_limit":{"every":"15s","burst":3}},` +
			`"rules":{"updated_by":"","trusted_emails":[],"blocked_emails":` + string(bl) + `,"blocked_ips":[]},"pages":` + pages + `,"comments":[` + strings.Join(rows, ",") + `]}`
	}
	for _, target := range []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "clash.db") }},
		{"postgres", pgSchemaURL},
	} {
		t.Run(target.name, func(t *testing.T) {
			db := target.db(t)
			if out, err := importJSON(t, db, doc("x", "X", nil, "c1", "c2")); err != nil {
				t.Fatalf("import x: %v\n%s", err, out)
			}
			// y exists, with rules but no comments.
			if out, err := importJSON(t, db, doc("y", "Y before", []string{"old@example.org"})); err != nil {
				t.Fatalf("import y: %v\n%s", err, out)
			}
			yBefore := exportJSON(t, db, "y")
			xBefore := exportJSON(t, db, "x")

			// c2 belongs to x: both imports are refused.
			clash := doc("y", "Y after", []string{"new@example.org"}, "c3", "c2")
			out, err := importJSON(t, db, clash)
			if err == nil || !strings.Contains(err.Error(), "1 comments of the file are in this database already") {
				t.Errorf("import into y: %v\n%s", err, out)
			}
			out, err = importJSON(t, db, strings.ReplaceAll(clash, `"y"`, `"z"`))
			if err == nil || !strings.Contains(err.Error(), "in this database already") {
				t.Errorf("import into new site z: %v\n%s", err, out)
			}
			if got := exportJSON(t, db, "y"); got != yBefore {
				t.Errorf("site y changed:\n--- before\n%s\n--- after\n%s", yBefore, got)
			}
			if got := exportJSON(t, db, "x"); got != xBefore {
				t.Errorf("site x changed:\n--- before\n%s\n--- after\n%s", xBefore, got)
			}
			if _, errOut, err := cliSplit(t, db, "export", "json", "z"); err == nil {
				t.Errorf("site z was created by a refused import\n%s", errOut)
			}
			// The export builds its pages from the comments: ask the store
			// for the pages themselves.
			store, err := openStore(context.Background(), config.Config{DatabaseURL: db})
			if err != nil {
				t.Fatal(err)
			}
			pages, err := store.PagesByRef(context.Background(), []comment.PageRef{{SiteID: "y", Key: "/p-y"}, {SiteID: "z", Key: "/p-z"}})
			store.Close()
			if err != nil || len(pages) > 0 {
				t.Errorf("pages written by the refused imports: %v (%v)", pages, err)
			}
			// c3 was not loaded anywhere: a document with it alone loads.
			if out, err := importJSON(t, db, doc("w", "W", nil, "c3")); err != nil {
				t.Errorf("c3 after the refused imports: %v\n%s", err, out)
			}
		})
	}
}

// siteDoc is a one-site document whose comments are rows, each a JSON
// object; pages lists the page keys, each with url https://site.example/KEY.
func siteDoc(pages []string, rows ...string) string {
	var ps []string
	for _, p := range pages {
		ps = append(ps, `{"key":"`+p+`","url":"https://site.example`+p+`","title":"T"}`)
	}
	return `{"format":"commentd-site","version":1,"site":{"id":"s","name":"S","origins":["https://site.example"],"rate_limit":{"every":"15s","burst":3}},` +
		`"rules":{"updated_by":"","trusted_emails":[],"blocked_emails":[],"blocked_ips":[]},"pages":[` + strings.Join(ps, ",") + `],"comments":[` + strings.Join(rows, ",\n") + `]}`
}

// siteRow is a comment row of siteDoc with the given fields changed.
func siteRow(id string, change map[string]any) string {
	m := map[string]any{"id": id, "parent_id": "", "depth": 1, "page": "/p", "author_name": "A", "author_email": "a@example.org",
		"author_website": "", "body": "b", "body_html": "<p>b</p>", "status": "approved", "ip": "", "user_agent": "", "reasons": []any{},
		"created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z"}
	for k, v := range change {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestSiteImportDistrustsTheFile: the file's body_html is never stored
// (each body is rendered again), an author website that is not an http(s)
// URL is dropped, a page URL off the site's origins is not kept, and
// notify_replies goes both ways (left out when false).
func TestSiteImportDistrustsTheFile(t *testing.T) {
	doc := siteDoc([]string{"/p"}, siteRow("c1", map[string]any{
		"body": "*hi* <script>alert(1)</script>", "body_html": `<script>alert("file")</script><img src=x onerror=alert(2)>`,
		"author_website": "javascript:alert(3)", "notify_replies": true,
	}), siteRow("c2", map[string]any{"author_website": "https://ok.example/"}))
	doc = strings.Replace(doc, `"url":"https://site.example/p"`, `"url":"https://evil.example/p"`, 1)
	render := markup.NewRenderer()
	want, err := render.Render("*hi* <script>alert(1)</script>")
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range importTargets {
		t.Run(target.name, func(t *testing.T) {
			db := target.db(t)
			if out, err := importJSON(t, db, doc); err != nil {
				t.Fatalf("import: %v\n%s", err, out)
			}
			got, raw := exportFull(t, db, "s")
			if len(got.Comments) != 2 {
				t.Fatalf("%d comments\n%s", len(got.Comments), raw)
			}
			c1, c2 := got.Comments[0], got.Comments[1]
			if c1.BodyHTML != want || strings.Contains(c1.BodyHTML, "<script") || strings.Contains(c1.BodyHTML, "onerror") {
				t.Errorf("body_html = %q, want the rendering %q", c1.BodyHTML, want)
			}
			if c1.AuthorWebsite != "" || c2.AuthorWebsite != "https://ok.example/" {
				t.Errorf("websites %q, %q; want \"\" and https://ok.example/", c1.AuthorWebsite, c2.AuthorWebsite)
			}
			if !c1.NotifyReplies || c2.NotifyReplies {
				t.Errorf("notify_replies %v, %v; want true, false", c1.NotifyReplies, c2.NotifyReplies)
			}
			if strings.Count(raw, `"notify_replies"`) != 1 {
				t.Errorf("notify_replies is written %d times, want once (only when true)", strings.Count(raw, `"notify_replies"`))
			}
			if len(got.Pages) != 1 || got.Pages[0].URL != "" {
				t.Errorf("pages %+v: the URL off the site's origins was kept", got.Pages)
			}
		})
	}
}

// TestSiteImportRefusesWhatTheAPIRefuses: a comment the HTTP API would
// not accept, or a reply on another page than its parent, is refused with
// the comment's id, and nothing is written.
func TestSiteImportRefusesWhatTheAPIRefuses(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want string
	}{
		{"control character", siteDoc([]string{"/p"}, siteRow("c1", map[string]any{"body": "a\u0001b"})), "comment c1: the body holds control characters"},
		{"empty body", siteDoc([]string{"/p"}, siteRow("c1", map[string]any{"body": " "})), "comment c1: the body is empty"},
		{"long name", siteDoc([]string{"/p"}, siteRow("c1", map[string]any{"author_name": strings.Repeat("n", 246)})), "comment c1: the author name is longer than 245 bytes"},
		{"empty name", siteDoc([]string{"/p"}, siteRow("c1", map[string]any{"author_name": ""})), "comment c1: the author name is empty"},
		{"long body", siteDoc([]string{"/p"}, siteRow("c1", map[string]any{"body": strings.Repeat("b", 65526)})), "comment c1: the body is longer than 65525 bytes"},
		{"long page key", siteDoc([]string{"/" + strings.Repeat("k", 512)}), "longer than 512 bytes"},
		{"parent on another page", siteDoc([]string{"/p", "/q"}, siteRow("c1", nil), siteRow("c2", map[string]any{"parent_id": "c1", "depth": 2, "page": "/q"})),
			`comment c2: on page "/q", its parent c1 on page "/p"`},
	}
	db := filepath.Join(t.TempDir(), "refused.db")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := importJSON(t, db, tc.doc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("import: %v, want an error containing %q\n%s", err, tc.want, out)
			}
		})
	}
	if _, _, err := cliSplit(t, db, "export", "json", "s"); err == nil {
		t.Errorf("site s exists after refused imports")
	}
}

// TestImportFileChangesBetweenPasses: imports read their file twice, to
// check it and to load it. A file that is cut short or changed between
// the two leaves no comment and no page in the database: the load's
// transaction is rolled back instead of committing what was read.
func TestImportFileChangesBetweenPasses(t *testing.T) {
	var rows []string
	for i := range 20 {
		change := map[string]any{"created_at": fmt.Sprintf("2026-01-02T03:04:%02dZ", i)}
		if i > 0 {
			change["parent_id"], change["depth"] = "c0", 2
		}
		rows = append(rows, siteRow(fmt.Sprintf("c%d", i), change))
	}
	jsonDoc := siteDoc([]string{"/p"}, rows...)
	wxr, err := os.ReadFile(filepath.Join("testdata", "import", "wordpress.xml"))
	if err != nil {
		t.Fatal(err)
	}
	cut := func(s string) string { return s[:len(s)*2/3] }
	// The reply moves before its parent and names one that is not in the
	// file: it would be left waiting.
	orphan := func(s string) string {
		return strings.Replace(s, `"parent_id":"c0"`, `"parent_id":"c99"`, 1)
	}
	ctx := context.Background()
	for _, target := range importTargets {
		t.Run(target.name, func(t *testing.T) {
			db := target.db(t)
			cfg := config.Config{DatabaseURL: db, Sites: []config.Site{{ID: "blog", Name: "Blog", Origins: []string{"https://blog.example"}}}}
			store, err := openStore(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			render := markup.NewRenderer()
			for _, tc := range []struct {
				name   string
				change func(string) string
			}{{"cut short", cut}, {"reply without parent", orphan}} {
				path := filepath.Join(t.TempDir(), "site.json")
				if err := os.WriteFile(path, []byte(jsonDoc), 0o600); err != nil {
					t.Fatal(err)
				}
				head, ids, err := checkSiteFile(path, render)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tc.change(jsonDoc)), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := importSite(ctx, store, path, head, ids, render); err == nil {
					t.Errorf("json, %s: the import succeeded", tc.name)
				}
				checkNothingLoaded(t, store, "s", "/p")
			}

			path := filepath.Join(t.TempDir(), "wp.xml")
			if err := os.WriteFile(path, wxr, 0o600); err != nil {
				t.Fatal(err)
			}
			plan, err := planForeign(path, wordpressSource)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(cut(string(wxr))), 0o600); err != nil {
				t.Fatal(err)
			}
			err = loadForeign(ctx, store, cfg, "blog", path, wordpressSource, render, plan)
			if err == nil || !strings.Contains(err.Error(), "XML syntax error") {
				t.Errorf("wordpress, cut short: %v", err)
			}
			checkNothingLoaded(t, store, "blog", "/2026/03/ferry-timetable/")
		})
	}
}

// checkNothingLoaded fails the test if site has a comment, or a page with
// key.
func checkNothingLoaded(t *testing.T, store comment.Store, site, key string) {
	t.Helper()
	ctx := context.Background()
	for c, err := range siteComments(ctx, store, comment.ListFilter{SiteIDs: []string{site}}) {
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("site %s has comment %s after the failed import", site, c.ID)
	}
	pages, err := store.PagesByRef(ctx, []comment.PageRef{{SiteID: site, Key: key}})
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) > 0 {
		t.Errorf("site %s has page %s after the failed import", site, key)
	}
}

// TestExportOut: with --out the export goes to the file, readable by its
// owner only, and a failed export leaves the file as it was, with no
// temporary file beside it.
func TestExportOut(t *testing.T) {
	db := filepath.Join(t.TempDir(), "out.db")
	if out, err := importJSON(t, db, siteDoc([]string{"/p"}, siteRow("c1", nil))); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	dir := t.TempDir()
	for _, format := range []string{"json", "wordpress"} {
		path := filepath.Join(dir, "export."+format)
		stdout, errOut, err := cliSplit(t, db, "export", format, "s", "--out", path)
		if err != nil || stdout != "" {
			t.Fatalf("export %s --out: %v, stdout %q\n%s", format, err, stdout, errOut)
		}
		want, _, err := cliSplit(t, db, "export", format, "s")
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("export %s: the file holds %q (%v), stdout gave %q", format, got, err, want)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("export %s: file mode %v (%v), want 0600", format, fi.Mode(), err)
		}
		// A site that does not exist: the export fails; the file stays.
		if _, _, err := cliSplit(t, db, "export", format, "nosuch", "--out", path); err == nil {
			t.Errorf("export %s of a missing site succeeded", format)
		}
		if again, _ := os.ReadFile(path); string(again) != want {
			t.Errorf("export %s: the failed export changed the file", format)
		}
		_, errOut, err = cliSplit(t, db, "export", format)
		if err == nil || !strings.Contains(err.Error(), "--out FILE") || !strings.Contains(err.Error(), "email addresses, IP addresses, user agents") {
			t.Errorf("export %s usage: %v\n%s", format, err, errOut)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files in the directory: %v, want the two exports only", names)
	}
}
