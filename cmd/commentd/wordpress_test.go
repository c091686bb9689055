package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/config"
	"github.com/commentd/commentd/internal/importer"
	"github.com/commentd/commentd/internal/markup"
)

// importTargets are the databases the import tests run against.
var importTargets = []struct {
	name string
	db   func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "import.db") }},
	{"postgres", pgSchemaURL},
}

// importConfig writes a configuration declaring the sites ids, all on the
// origin https://blog.example, and returns its path.
func importConfig(t *testing.T, ids ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("database_url: unused.db\nrate_limit: {every: 15s, burst: 3}\nsites:\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "  - id: %s\n    name: Site %s\n    origins: [https://blog.example]\n", id, id)
	}
	path := filepath.Join(t.TempDir(), "commentd.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkNoNotifications fails the test if the database at dbURL holds
// notification jobs: imported comments must not notify anyone.
func checkNoNotifications(t *testing.T, dbURL string) {
	t.Helper()
	ctx := context.Background()
	store, err := openStore(ctx, config.Config{DatabaseURL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now()
	jobs, err := store.ClaimNotifyJobs(ctx, now.Add(24*time.Hour), now.Add(25*time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) > 0 {
		t.Errorf("the import left %d notification jobs, the first %+v", len(jobs), jobs[0])
	}
}

// fullDoc is an exported site document with every field of its comments.
type fullDoc struct {
	Site struct {
		ID      string   `json:"id"`
		Name    string   `json:"name"`
		Origins []string `json:"origins"`
	} `json:"site"`
	Pages    []pageRow    `json:"pages"`
	Comments []commentRow `json:"comments"`
}

// exportFull exports site from dbURL and decodes the document.
func exportFull(t *testing.T, dbURL, site string) (fullDoc, string) {
	t.Helper()
	raw := exportJSON(t, dbURL, site)
	var doc fullDoc
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatalf("export json %s: %v\n%s", site, err, raw)
	}
	return doc, raw
}

// wantComment is what one comment of a sample file must become.
type wantComment struct {
	src                  string // the id in the file
	parent               string // the id in the file of the parent it gets
	depth                int
	page                 string
	name, email, web, ip string
	at                   string
	status               string
	body                 string
	htmlHas, htmlHasNot  []string
}

// wxrWant is the sample WordPress file testdata/import/wordpress.xml as
// imported: pingback 107 and trackback 302 are skipped, 108 (parent 999
// absent) is top-level, and 206 and 207 (levels 6 and 7) hang under 204 at
// depth 5.
var wxrWant = []wantComment{
	{src: "101", depth: 1, page: "/2026/03/ferry-timetable/", name: "Alice Mørk 🚢", email: "alice@example.org", web: "https://alice.example/", ip: "192.0.2.21",
		at: "2026-03-02T10:15:30Z", status: "approved",
		body: "Finally! The *early* boat is **back** 🎉\nSee [the timetable](https://ferries.example/timetable?from=north&to=south).\n\n> From April the first ferry leaves at 06:40.\n\nIs that right? 5 \\* 3 = 15 \\& `a_b`",
		htmlHas: []string{"<em>early</em>", "<strong>back</strong>", `<a href="https://ferries.example/timetable?from=north&amp;to=south" rel="nofollow ugc noopener">the timetable</a>`,
			"<blockquote>", "<br>", "5 * 3 = 15 &amp; <code>a_b</code>"}},
	{src: "102", parent: "101", depth: 2, page: "/2026/03/ferry-timetable/", name: "李雷", email: "li@example.org", ip: "2001:db8::12",
		at: "2026-03-02T11:00:00Z", status: "approved", body: "是的，六点四十分。谢谢！"},
	{src: "103", parent: "102", depth: 3, page: "/2026/03/ferry-timetable/", name: "דנה", email: "dana@example.org", ip: "192.0.2.23",
		at: "2026-03-02T11:30:00Z", status: "approved", body: "שלום! مرحبا بالعالم"},
	// 104 has only a local date, 08:00 at the blog's +01:00 (which the
	// post's dates and the other comments show); WordPress stored its
	// author name HTML-escaped.
	{src: "104", depth: 1, page: "/2026/03/ferry-timetable/", name: "Pending & Pat <3", email: "pat@example.org", ip: "192.0.2.24",
		at: "2026-03-03T07:00:00Z", status: "pending", body: "Waiting for a moderator."},
	{src: "105", depth: 1, page: "/2026/03/ferry-timetable/", name: "Cheap Pills", email: "bot@spam.example", web: "http://spam.example/", ip: "203.0.113.5",
		at: "2026-03-03T08:00:00Z", status: "spam", body: "Buy now click", htmlHasNot: []string{"<script", "alert", "javascript", "<img", "onerror", "<a"}},
	{src: "106", depth: 1, page: "/2026/03/ferry-timetable/", name: "Trashed Tom", at: "2026-03-03T09:00:00Z", status: "deleted", body: "Deleted by the author."},
	{src: "108", depth: 1, page: "/2026/03/ferry-timetable/", name: "Orphan Olga", email: "olga@example.org", ip: "192.0.2.28",
		at: "2026-03-04T09:00:00Z", status: "approved", body: "Replying to a comment that is gone."},
	{src: "109", parent: "101", depth: 2, page: "/2026/03/ferry-timetable/", name: "Post Trashed", email: "pt@example.org", ip: "192.0.2.29",
		at: "2026-03-04T10:00:00Z", status: "deleted", body: "Trashed with its post."},
	{src: "201", depth: 1, page: "/2026/04/lighthouses/", name: "Level One", email: "l1@example.org", ip: "192.0.2.31", at: "2026-04-01T10:00:01Z", status: "approved", body: "Level 1"},
	{src: "202", parent: "201", depth: 2, page: "/2026/04/lighthouses/", name: "Level Two", email: "l2@example.org", at: "2026-04-01T10:00:02Z", status: "approved", body: "Level 2"},
	{src: "203", parent: "202", depth: 3, page: "/2026/04/lighthouses/", name: "Level Three", at: "2026-04-01T10:00:03Z", status: "approved", body: "Level 3"},
	{src: "204", parent: "203", depth: 4, page: "/2026/04/lighthouses/", name: "Level Four", at: "2026-04-01T10:00:04Z", status: "approved", body: "Level 4"},
	{src: "205", parent: "204", depth: 5, page: "/2026/04/lighthouses/", name: "Level Five", at: "2026-04-01T10:00:05Z", status: "approved", body: "Level 5"},
	{src: "206", parent: "204", depth: 5, page: "/2026/04/lighthouses/", name: "Level Six", at: "2026-04-01T10:00:06Z", status: "approved", body: "Level 6"},
	{src: "207", parent: "204", depth: 5, page: "/2026/04/lighthouses/", name: "Level Seven", at: "2026-04-01T10:00:07Z", status: "approved", body: "Level 7, written in the file before its parent"},
	{src: "301", depth: 1, page: "/2026/05/%C3%BCn%C3%AFcode/", name: "Zoë", email: "zoe@example.org", ip: "192.0.2.41", at: "2026-05-01T00:00:00Z", status: "approved",
		body: "First paragraph.\n\nSecond with **bold**, *italic* and ~~gone~~.", htmlHas: []string{"<p>First paragraph.</p>", "<strong>bold</strong>", "<em>italic</em>", "<del>gone</del>"}},
}

// wantPages are the pages of both sample files.
var wantPages = []pageRow{
	{Key: "/2026/03/ferry-timetable/", URL: "https://blog.example/2026/03/ferry-timetable/", Title: "The ferry timetable changes"},
	{Key: "/2026/04/lighthouses/", URL: "https://blog.example/2026/04/lighthouses/", Title: "A long argument about lighthouses"},
	{Key: "/2026/05/%C3%BCn%C3%AFcode/", URL: "https://blog.example/2026/05/%C3%BCn%C3%AFcode/", Title: "Ünïcode — عنوان 📰"},
}

// checkImported compares the comments of doc with want, for comments
// imported into site from source.
func checkImported(t *testing.T, doc fullDoc, site, source string, want []wantComment) {
	t.Helper()
	render := markup.NewRenderer()
	byID := make(map[string]commentRow)
	for _, c := range doc.Comments {
		byID[c.ID] = c
	}
	if len(doc.Comments) != len(want) {
		t.Errorf("%d comments, want %d", len(doc.Comments), len(want))
	}
	idOf := make(map[string]string)
	for _, w := range want {
		at, err := time.Parse(time.RFC3339, w.at)
		if err != nil {
			t.Fatal(err)
		}
		idOf[w.src] = importer.ID(at, site, source, w.src)
	}
	for _, w := range want {
		c, ok := byID[idOf[w.src]]
		if !ok {
			t.Errorf("comment %s (id %s) was not imported", w.src, idOf[w.src])
			continue
		}
		wantParent := ""
		if w.parent != "" {
			wantParent = idOf[w.parent]
		}
		at, _ := time.Parse(time.RFC3339, w.at)
		got := []string{c.ParentID, fmt.Sprint(c.Depth), c.Page, c.AuthorName, c.AuthorEmail, c.AuthorWebsite, c.IP, c.UserAgent,
			string(c.Status), c.Body, c.CreatedAt.UTC().Format(time.RFC3339), c.UpdatedAt.UTC().Format(time.RFC3339), fmt.Sprint(len(c.Reasons))}
		exp := []string{wantParent, fmt.Sprint(w.depth), w.page, w.name, w.email, w.web, w.ip, "",
			w.status, w.body, at.Format(time.RFC3339), at.Format(time.RFC3339), "0"}
		fields := []string{"parent", "depth", "page", "author name", "email", "website", "ip", "user agent", "status", "body", "created_at", "updated_at", "reasons"}
		for i := range got {
			if got[i] != exp[i] {
				t.Errorf("comment %s: %s = %q, want %q", w.src, fields[i], got[i], exp[i])
			}
		}
		if h, _ := render.Render(c.Body); c.BodyHTML != h {
			t.Errorf("comment %s: body_html %q is not the rendering of its body, %q", w.src, c.BodyHTML, h)
		}
		for _, s := range w.htmlHas {
			if !strings.Contains(c.BodyHTML, s) {
				t.Errorf("comment %s: body_html %q lacks %q", w.src, c.BodyHTML, s)
			}
		}
		for _, s := range w.htmlHasNot {
			if strings.Contains(strings.ToLower(c.BodyHTML), s) {
				t.Errorf("comment %s: body_html %q contains %q", w.src, c.BodyHTML, s)
			}
		}
	}
	if fmt.Sprint(doc.Pages) != fmt.Sprint(wantPages) {
		t.Errorf("pages = %+v\nwant %+v", doc.Pages, wantPages)
	}
}

// TestImportWordPress imports the sample WXR file into a site declared in
// the configuration, on SQLite and PostgreSQL, checks every field of every
// comment, and checks that importing the file again is refused without a
// write.
func TestImportWordPress(t *testing.T) {
	file := filepath.Join("testdata", "import", "wordpress.xml")
	for _, target := range importTargets {
		t.Run(target.name, func(t *testing.T) {
			db := target.db(t)
			cfg := importConfig(t, "blog")
			out, errOut, err := cliSplit(t, db, "import", "wordpress", file, "--site", "blog", "--config", cfg)
			if err != nil {
				t.Fatalf("import: %v\n%s", err, errOut)
			}
			for _, s := range []string{
				"3 pages, 16 comments (1 pending, 12 approved, 1 spam, 2 deleted)",
				"skipped 2 (1 pingback, 1 trackback)",
				"made top-level: 1",
				"attached to their deepest allowed ancestor: 2",
			} {
				if !strings.Contains(out, s) {
					t.Errorf("summary lacks %q:\n%s", s, out)
				}
			}
			doc, before := exportFull(t, db, "blog")
			if doc.Site.Name != "Site blog" || fmt.Sprint(doc.Site.Origins) != "[https://blog.example]" {
				t.Errorf("site = %+v", doc.Site)
			}
			checkImported(t, doc, "blog", "wordpress", wxrWant)
			checkNoNotifications(t, db)

			// The same file again: every id clashes; nothing is written.
			_, _, err = cliSplit(t, db, "import", "wordpress", file, "--site", "blog", "--config", cfg)
			if err == nil || !strings.Contains(err.Error(), "16 comments of the file are in the database already") {
				t.Errorf("second import: %v", err)
			}
			if _, after := exportFull(t, db, "blog"); after != before {
				t.Errorf("the refused import changed the site:\n--- before\n%s\n--- after\n%s", before, after)
			}
		})
	}
}

// TestImportWordPressRefusals: files and sites that cannot be imported are
// refused with a message that says why, and nothing is written.
func TestImportWordPressRefusals(t *testing.T) {
	sample, err := os.ReadFile(filepath.Join("testdata", "import", "wordpress.xml"))
	if err != nil {
		t.Fatal(err)
	}
	good := string(sample)
	cases := []struct {
		name, doc, site, want string
	}{
		{"unknown site", good, "nosuch", "site nosuch does not exist"},
		{"WXR 1.3", strings.Replace(good, "export/1.2/\"\n>", "export/1.3/\"\n>", 1), "blog", `wp namespace "http://wordpress.org/export/1.3/" is not one of WXR 1.0 to 1.2`},
		{"not WXR", `<?xml version="1.0"?><disqus></disqus>`, "blog", "not a WordPress export"},
		{"empty", "", "blog", "the file is empty"},
		{"truncated", good[:len(good)/2], "blog", "XML syntax error"},
		{"unknown status", strings.Replace(good, "<![CDATA[post-trashed]]>", "<![CDATA[maybe]]>", 1), "blog", `comment 109: unknown status "comment_approved maybe"`},
		{"duplicate id", strings.Replace(good, "<wp:comment_id>109</wp:comment_id>", "<wp:comment_id>101</wp:comment_id>", 1), "blog", "comment 101 appears twice"},
		{"bad date", strings.Replace(good, "2026-03-04 10:00:00]]></wp:comment_date_gmt>", "yesterday]]></wp:comment_date_gmt>", 1), "blog", `date "yesterday" is not YYYY-MM-DD HH:MM:SS`},
		{"DOCTYPE entity", strings.Replace(strings.Replace(good, "<rss ", `<!DOCTYPE rss [<!ENTITY lol "lollollollol">]>`+"\n<rss ", 1), "Harbour Notes", "&lol;", 1), "blog", "invalid character entity &lol;"},
		{"no items", wxrDoc(), "blog", "the file has no <item>"},
		{"items in another namespace", strings.ReplaceAll(good, "item>", "x:item>"), "blog", "the file has no <item>"},
		{"commentd id twice", wxrDoc(wxrItemXML("https://blog.example/a/", "<wp:status>publish</wp:status>",
			wxrCommentXML("1", "1", `<wp:commentmeta><wp:meta_key>commentd_id</wp:meta_key><wp:meta_value>x1</wp:meta_value></wp:commentmeta>`),
			wxrCommentXML("2", "1", `<wp:commentmeta><wp:meta_key>commentd_id</wp:meta_key><wp:meta_value>x1</wp:meta_value></wp:commentmeta>`))), "blog",
			"comments 1 and 2 have the same commentd id x1"},
	}
	db := filepath.Join(t.TempDir(), "refused.db")
	cfg := importConfig(t, "blog")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "wp.xml")
			if err := os.WriteFile(file, []byte(tc.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			_, errOut, err := cliSplit(t, db, "import", "wordpress", file, "--site", tc.site, "--config", cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("import: %v, want an error containing %q\n%s", err, tc.want, errOut)
			}
		})
	}
	// Nothing reached the database, not even the declared site.
	if _, _, err := cliSplit(t, db, "export", "json", "blog"); err == nil {
		t.Errorf("site blog exists after refused imports")
	}
	if _, _, err := cliSplit(t, db, "import", "wordpress", "--config", cfg); err == nil || !strings.Contains(err.Error(), "usage: commentd import wordpress") {
		t.Errorf("import without a file: %v", err)
	}
}

// roundTripDoc is a commentd site document with what WXR can carry and
// what WXR alone cannot: a rejected comment, microseconds, a user agent, a page
// without URL whose key is not a path, and Markdown that must not be read
// as HTML.
const roundTripDoc = `{"format":"commentd-site","version":1,"site":{"id":"src","name":"Source","origins":["https://blog.example"],"rate_limit":{"every":"15s","burst":3}},
"rules":{"updated_by":"","trusted_emails":[],"blocked_emails":[],"blocked_ips":[]},
"pages":[{"key":"article-42","url":"","title":"No URL <&> here"},{"key":"/2026/06/tides/","url":"https://blog.example/2026/06/tides/","title":"Tides"}],
"comments":[
{"id":"r1","parent_id":"","depth":1,"page":"article-42","author_name":"Rex <b>","author_email":"rex@example.org","author_website":"https://rex.example/?a=1&b=2","body":"*Markdown* <b>stays</b> & \\*escaped\\*\n\n> quoted ]]> end","body_html":"x","status":"rejected","ip":"192.0.2.50","user_agent":"Mozilla/5.0 (تجربة) 🧪","reasons":[{"rule":"hold_words","detail":"x"}],"created_at":"2026-06-01T10:00:00.123456Z","updated_at":"2026-06-01T10:00:00.123456Z"},
{"id":"r2","parent_id":"r1","depth":2,"page":"article-42","author_name":"Ann","author_email":"","author_website":"","body":"reply","body_html":"x","status":"pending","ip":"","user_agent":"","reasons":[],"created_at":"2026-06-01T11:00:00Z","updated_at":"2026-06-01T11:00:00Z"},
{"id":"r3","parent_id":"","depth":1,"page":"/2026/06/tides/","author_name":"Tia","author_email":"tia@example.org","author_website":"","body":"spam here","body_html":"x","status":"spam","ip":"2001:db8::50","user_agent":"","reasons":[],"created_at":"2026-06-02T11:00:00Z","updated_at":"2026-06-02T11:00:00Z"},
{"id":"r4","parent_id":"r3","depth":2,"page":"/2026/06/tides/","author_name":"Del","author_email":"del@example.org","author_website":"","body":"gone","body_html":"x","status":"deleted","ip":"","user_agent":"","reasons":[],"created_at":"2026-06-02T12:00:00Z","updated_at":"2026-06-02T12:00:00Z"}
]}`

// TestExportWordPressRoundTrip exports a site as WXR (to a file, with
// --out) and imports the file: into the same database it is refused, since
// the export keeps each comment's commentd id; into another database every
// comment comes back with its id, author, exact status (rejected too),
// parent, time (to the second) and Markdown body, and the file is WXR 1.2
// as WordPress reads it.
func TestExportWordPressRoundTrip(t *testing.T) {
	for _, target := range importTargets {
		t.Run(target.name, func(t *testing.T) {
			db := target.db(t)
			cfg := importConfig(t, "src", "copy")
			if out, err := importJSON(t, db, roundTripDoc); err != nil {
				t.Fatalf("import json: %v\n%s", err, out)
			}
			// Into a site with comments already.
			if _, errOut, err := cliSplit(t, db, "import", "wordpress", filepath.Join("testdata", "import", "wordpress.xml"), "--site", "src", "--config", cfg); err != nil {
				t.Fatalf("import wordpress: %v\n%s", err, errOut)
			}
			file := filepath.Join(t.TempDir(), "export.xml")
			stdout, errOut, err := cliSplit(t, db, "export", "wordpress", "src", "--config", cfg, "--out", file)
			if err != nil || stdout != "" {
				t.Fatalf("export wordpress: %v, stdout %q\n%s", err, stdout, errOut)
			}
			wxr, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			checkWXR(t, string(wxr))
			if !strings.Contains(string(wxr), "This file holds private data") {
				t.Errorf("the export does not warn that it holds private data")
			}

			srcBefore, srcRaw := exportFull(t, db, "src")
			for _, site := range []string{"src", "copy"} {
				_, _, err := cliSplit(t, db, "import", "wordpress", file, "--site", site, "--config", cfg)
				if err == nil || !strings.Contains(err.Error(), "20 comments of the file are in the database already") {
					t.Errorf("import of the export into %s of the same database: %v", site, err)
				}
			}
			if _, after := exportFull(t, db, "src"); after != srcRaw {
				t.Errorf("the refused imports changed site src")
			}
			if _, _, err := cliSplit(t, db, "export", "json", "copy"); err == nil {
				t.Errorf("site copy exists after a refused import")
			}

			other := target.db(t)
			out, errOut, err := cliSplit(t, other, "import", "wordpress", file, "--site", "copy", "--config", cfg)
			if err != nil {
				t.Fatalf("import of the export: %v\n%s", err, errOut)
			}
			if !strings.Contains(out, "5 pages, 20 comments (2 pending, 12 approved, 1 rejected, 2 spam, 3 deleted)") || !strings.Contains(out, "skipped 0") {
				t.Errorf("summary:\n%s", out)
			}
			render := markup.NewRenderer()
			src := srcBefore
			cp, _ := exportFull(t, other, "copy")
			if len(src.Comments) != 20 || len(cp.Comments) != len(src.Comments) {
				t.Fatalf("%d comments in the source, %d in the copy", len(src.Comments), len(cp.Comments))
			}
			if fmt.Sprint(src.Pages) != fmt.Sprint(cp.Pages) {
				t.Errorf("pages differ:\n%+v\n%+v", src.Pages, cp.Pages)
			}
			copies := make(map[string]commentRow)
			for _, c := range cp.Comments {
				copies[c.ID] = c
			}
			for _, s := range src.Comments {
				c, ok := copies[s.ID]
				if !ok {
					t.Errorf("comment %s (%s) is missing from the copy", s.ID, s.AuthorName)
					continue
				}
				got := []string{c.AuthorName, c.AuthorEmail, c.AuthorWebsite, c.IP, c.UserAgent, string(c.Status), c.Body, c.ParentID, c.Page, fmt.Sprint(c.Depth),
					c.CreatedAt.UTC().Format(time.RFC3339Nano)}
				exp := []string{s.AuthorName, s.AuthorEmail, s.AuthorWebsite, s.IP, s.UserAgent, string(s.Status), s.Body, s.ParentID, s.Page, fmt.Sprint(s.Depth),
					s.CreatedAt.UTC().Truncate(time.Second).Format(time.RFC3339Nano)}
				fields := []string{"name", "email", "website", "ip", "user agent", "status", "body", "parent", "page", "depth", "created_at"}
				for i := range got {
					if got[i] != exp[i] {
						t.Errorf("comment %s: %s = %q, want %q", s.ID, fields[i], got[i], exp[i])
					}
				}
				if h, _ := render.Render(s.Body); c.BodyHTML != h {
					t.Errorf("comment %s: body_html %q, want %q", s.ID, c.BodyHTML, h)
				}
				if s.ID == "r1" && !strings.Contains(c.BodyHTML, "<em>Markdown</em>") {
					t.Errorf("the Markdown body was read as HTML: %q", c.BodyHTML)
				}
			}
		})
	}
}

// checkWXR reads the export as WordPress's importer would and checks the
// parts it relies on.
func checkWXR(t *testing.T, doc string) {
	t.Helper()
	type wpComment struct {
		ID       int    `xml:"comment_id"`
		Parent   int    `xml:"comment_parent"`
		Approved string `xml:"comment_approved"`
		DateGMT  string `xml:"comment_date_gmt"`
		Date     string `xml:"comment_date"`
		Type     string `xml:"comment_type"`
	}
	var rss struct {
		XMLName xml.Name
		Version string `xml:"channel>wxr_version"`
		Items   []struct {
			Title    string      `xml:"title"`
			Link     string      `xml:"link"`
			PostID   int         `xml:"post_id"`
			PostName string      `xml:"post_name"`
			PostType string      `xml:"post_type"`
			Status   string      `xml:"status"`
			Comments []wpComment `xml:"comment"`
		} `xml:"channel>item"`
	}
	if err := xml.Unmarshal([]byte(doc), &rss); err != nil {
		t.Fatalf("the export is not XML: %v\n%s", err, doc)
	}
	if rss.XMLName.Local != "rss" || rss.Version != "1.2" || !strings.Contains(doc, `xmlns:wp="http://wordpress.org/export/1.2/"`) {
		t.Errorf("not a WXR 1.2 document: %s %q", rss.XMLName.Local, rss.Version)
	}
	if len(rss.Items) != 5 {
		t.Fatalf("%d items, want 5", len(rss.Items))
	}
	ids := make(map[int]bool)
	approved := make(map[string]int)
	for _, it := range rss.Items {
		if it.PostType != "post" || it.Status != "publish" || it.PostName == "" || it.PostID == 0 {
			t.Errorf("item %q: post_type %q, status %q, post_name %q, post_id %d", it.Title, it.PostType, it.Status, it.PostName, it.PostID)
		}
		for _, c := range it.Comments {
			if c.ID <= 0 || ids[c.ID] {
				t.Errorf("comment id %d is not a new positive number", c.ID)
			}
			ids[c.ID] = true
			if c.Parent != 0 && !ids[c.Parent] {
				t.Errorf("comment %d: parent %d is not an earlier comment of the item", c.ID, c.Parent)
			}
			if _, err := time.Parse(wxrTime, c.DateGMT); err != nil || c.Date != c.DateGMT || c.Type != "comment" {
				t.Errorf("comment %d: date %q, gmt %q, type %q", c.ID, c.Date, c.DateGMT, c.Type)
			}
			approved[c.Approved]++
		}
	}
	if fmt.Sprint(approved) != "map[0:2 1:12 spam:2 trash:4]" {
		t.Errorf("comment_approved values: %v", approved)
	}
	byTitle := make(map[string]string)
	for _, it := range rss.Items {
		byTitle[it.Title] = it.Link + " " + it.PostName
	}
	for title, want := range map[string]string{
		"No URL <&> here":                   "article-42 article-42",
		"The ferry timetable changes":       "https://blog.example/2026/03/ferry-timetable/ ferry-timetable",
		"Ünïcode — عنوان 📰":                 "https://blog.example/2026/05/%C3%BCn%C3%AFcode/ %c3%bcn%c3%afcode",
		"A long argument about lighthouses": "https://blog.example/2026/04/lighthouses/ lighthouses",
	} {
		if byTitle[title] != want {
			t.Errorf("item %q: link and post_name %q, want %q", title, byTitle[title], want)
		}
	}
}

// TestImportWordPressPagesAndOldVersions: a WXR 1.0 file whose posts have
// no pretty permalinks, no link at all, or a link off the site's origins.
func TestImportWordPressPagesAndOldVersions(t *testing.T) {
	item := func(link, postID, commentID, author, ip string) string {
		return `<item><title>Post ` + postID + `</title><link>` + link + `</link><wp:post_id>` + postID + `</wp:post_id>
<wp:comment><wp:comment_id>` + commentID + `</wp:comment_id><wp:comment_author>` + author + `</wp:comment_author>
<wp:comment_author_IP>` + ip + `</wp:comment_author_IP><wp:comment_date_gmt>2010-01-02 03:04:05</wp:comment_date_gmt>
<wp:comment_content>Old &amp; plain</wp:comment_content><wp:comment_approved>1</wp:comment_approved><wp:comment_parent>0</wp:comment_parent></wp:comment></item>`
	}
	doc := `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:wp="http://wordpress.org/export/1.0/"><channel>` +
		item("https://blog.example/?p=11", "11", "1", "", "not-an-ip") +
		item("https://blog.example/?p=12", "12", "2", "B", "192.0.2.1") +
		item("", "13", "3", "C", "") +
		item("https://elsewhere.example/x/", "14", "4", "D", "") +
		`</channel></rss>`
	file := filepath.Join(t.TempDir(), "old.xml")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "old.db")
	if _, errOut, err := cliSplit(t, db, "import", "wordpress", file, "--site", "blog", "--config", importConfig(t, "blog")); err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	got, _ := exportFull(t, db, "blog")
	want := []pageRow{
		{Key: "/?p=11", URL: "https://blog.example/?p=11", Title: "Post 11"},
		{Key: "/?p=12", URL: "https://blog.example/?p=12", Title: "Post 12"},
		{Key: "/?p=13", URL: "", Title: "Post 13"},
		{Key: "/x/", URL: "", Title: "Post 14"}, // not on the site's origins
	}
	if fmt.Sprint(got.Pages) != fmt.Sprint(want) {
		t.Errorf("pages = %+v\nwant %+v", got.Pages, want)
	}
	if len(got.Comments) != 4 {
		t.Fatalf("%d comments, want 4", len(got.Comments))
	}
	first := got.Comments[0]
	for _, c := range got.Comments {
		if c.Body != `Old \& plain` || c.BodyHTML != "<p>Old &amp; plain</p>" {
			t.Errorf("comment %s: body %q, html %q", c.AuthorName, c.Body, c.BodyHTML)
		}
		if c.AuthorName == "Anonymous" {
			first = c
		}
	}
	if first.AuthorName != "Anonymous" || first.IP != "" || first.Page != "/?p=11" {
		t.Errorf("comment without author and with a bad IP: %+v", first)
	}
}

// TestImportWordPressParentLoops: comments whose parents form a loop, or
// that name themselves, are imported; the loop is cut where it is found.
func TestImportWordPressParentLoops(t *testing.T) {
	c := func(id, parent, at string) string {
		return `<wp:comment><wp:comment_id>` + id + `</wp:comment_id><wp:comment_author>A` + id + `</wp:comment_author>
<wp:comment_date_gmt>2010-01-02 03:04:0` + at + `</wp:comment_date_gmt><wp:comment_content>c` + id + `</wp:comment_content>
<wp:comment_approved>1</wp:comment_approved><wp:comment_parent>` + parent + `</wp:comment_parent></wp:comment>`
	}
	doc := `<?xml version="1.0"?><rss version="2.0" xmlns:wp="http://wordpress.org/export/1.1/"><channel><item><title>T</title><link>https://blog.example/loop/</link>` +
		c("1", "2", "1") + c("2", "1", "2") + c("3", "3", "3") + `</item></channel></rss>`
	file := filepath.Join(t.TempDir(), "loop.xml")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "loop.db")
	out, errOut, err := cliSplit(t, db, "import", "wordpress", file, "--site", "blog", "--config", importConfig(t, "blog"))
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "made top-level: 2") {
		t.Errorf("summary:\n%s", out)
	}
	doc2, _ := exportFull(t, db, "blog")
	depth := make(map[string]int)
	parent := make(map[string]string)
	name := make(map[string]string)
	for _, c := range doc2.Comments {
		name[c.ID] = c.AuthorName
	}
	for _, c := range doc2.Comments {
		depth[c.AuthorName] = c.Depth
		parent[c.AuthorName] = name[c.ParentID]
	}
	// Comment 1 is resolved first: its parent 2 names 1, which is being
	// resolved, so 2 becomes top-level and 1 its reply.
	if fmt.Sprint(depth) != "map[A1:2 A2:1 A3:1]" || fmt.Sprint(parent) != "map[A1:A2 A2: A3:]" {
		t.Errorf("depths %v, parents %v", depth, parent)
	}
}

// wxrDoc is a WXR 1.2 document whose channel holds items.
func wxrDoc(items ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/"><channel>` + strings.Join(items, "\n") + `</channel></rss>`
}

// wxrItemXML is an item at link with the extra post elements and the
// comments.
func wxrItemXML(link, extra string, comments ...string) string {
	return `<item><title>T</title><link>` + link + `</link><wp:post_id>1</wp:post_id>` + extra + strings.Join(comments, "") + `</item>`
}

// wxrCommentXML is a wp:comment with the given id, approval and extra
// elements; its GMT date is 2020-01-01 00:00:ID unless extra gives dates.
func wxrCommentXML(id, approved, extra string) string {
	dates := `<wp:comment_date_gmt>2020-01-01 00:00:` + fmt.Sprintf("%02s", id) + `</wp:comment_date_gmt>`
	if strings.Contains(extra, "comment_date") {
		dates = ""
	}
	if !strings.Contains(extra, "comment_author>") {
		extra += `<wp:comment_author>A` + id + `</wp:comment_author>`
	}
	if !strings.Contains(extra, "comment_content") {
		extra += `<wp:comment_content>c` + id + `</wp:comment_content>`
	}
	return `<wp:comment><wp:comment_id>` + id + `</wp:comment_id>` + dates + extra +
		`<wp:comment_approved>` + approved + `</wp:comment_approved><wp:comment_parent>0</wp:comment_parent></wp:comment>`
}

// importWXR imports doc into a new SQLite database as site blog and
// returns the summary and the exported site.
func importWXR(t *testing.T, doc string) (string, fullDoc) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "wp.xml")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "wp.db")
	out, errOut, err := cliSplit(t, db, "import", "wordpress", file, "--site", "blog", "--config", importConfig(t, "blog"))
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	got, _ := exportFull(t, db, "blog")
	return out, got
}

// byAuthor maps the author names of doc's comments to the comments.
func byAuthor(doc fullDoc) map[string]commentRow {
	m := make(map[string]commentRow)
	for _, c := range doc.Comments {
		m[c.AuthorName] = c
	}
	return m
}

// TestImportWordPressUnpublishedPosts: approved comments of posts that are
// drafts, private, password-protected or of unknown status are held as
// pending, and counted; other statuses stay as they are.
func TestImportWordPressUnpublishedPosts(t *testing.T) {
	doc := wxrDoc(
		wxrItemXML("https://blog.example/public/", `<wp:status>publish</wp:status><wp:post_password></wp:post_password>`,
			wxrCommentXML("10", "1", ""), wxrCommentXML("11", "spam", "")),
		wxrItemXML("https://blog.example/draft/", `<wp:status>draft</wp:status>`, wxrCommentXML("20", "1", ""), wxrCommentXML("21", "0", "")),
		wxrItemXML("https://blog.example/private/", `<wp:status><![CDATA[private]]></wp:status>`, wxrCommentXML("30", "1", ""), wxrCommentXML("31", "trash", "")),
		wxrItemXML("https://blog.example/secret/", `<wp:status>publish</wp:status><wp:post_password>hunter2</wp:post_password>`, wxrCommentXML("40", "1", "")),
		wxrItemXML("https://blog.example/unknown/", ``, wxrCommentXML("50", "1", "")),
	)
	out, got := importWXR(t, doc)
	if !strings.Contains(out, "imported as pending: 4") || !strings.Contains(out, "(5 pending, 1 approved, 1 spam, 1 deleted)") {
		t.Errorf("summary:\n%s", out)
	}
	want := map[string]string{"A10": "approved", "A11": "spam", "A20": "pending", "A21": "pending", "A30": "pending", "A31": "deleted", "A40": "pending", "A50": "pending"}
	for name, c := range byAuthor(got) {
		if string(c.Status) != want[name] {
			t.Errorf("comment %s: status %s, want %s", name, c.Status, want[name])
		}
	}
}

// TestImportWordPressEncodingsAndDates: an ISO-8859-1 file, author names
// WordPress stored HTML-escaped, a default namespace on <rss>, and local
// dates without a GMT date: read at the offset of the nearest pair the
// item shows (its post date, or comments with both dates; summer time
// here), or, without any, as UTC and counted.
func TestImportWordPressEncodingsAndDates(t *testing.T) {
	doc := `<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="2.0" xmlns="http://backend.userland.com/rss2" xmlns:wp="http://wordpress.org/export/1.1/"><channel>` +
		wxrItemXML("https://blog.example/caf\xe9/", `<wp:status>publish</wp:status><wp:post_date>2026-01-10 10:00:00</wp:post_date><wp:post_date_gmt>2026-01-10 09:00:00</wp:post_date_gmt>`,
			wxrCommentXML("1", "1", `<wp:comment_author>Jos&#233; &amp;amp; Ren&eacute;e &amp;lt;3</wp:comment_author><wp:comment_content>Caf&#233; cr`+"\xe8"+`me</wp:comment_content>`+
				`<wp:comment_date>2026-01-10 12:00:00</wp:comment_date><wp:comment_date_gmt>0000-00-00 00:00:00</wp:comment_date_gmt>`),
			wxrCommentXML("2", "1", `<wp:comment_date>2026-07-01 12:00:00</wp:comment_date><wp:comment_date_gmt>2026-07-01 10:00:00</wp:comment_date_gmt>`),
			wxrCommentXML("3", "1", `<wp:comment_date>2026-07-02 12:00:00</wp:comment_date>`)) +
		wxrItemXML("https://blog.example/no-zone/", `<wp:status>publish</wp:status>`,
			wxrCommentXML("4", "1", `<wp:comment_date>2026-01-10 12:00:00</wp:comment_date><wp:comment_date_gmt>0000-00-00 00:00:00</wp:comment_date_gmt>`)) +
		`</channel></rss>`
	out, got := importWXR(t, doc)
	if !strings.Contains(out, "4 comments") || !strings.Contains(out, "assumed UTC: 1") {
		t.Errorf("summary:\n%s", out)
	}
	c := byAuthor(got)
	if len(c) != 4 {
		t.Fatalf("authors %v", c)
	}
	first, ok := c["José &amp; Renée &lt;3"]
	if ok {
		t.Errorf("the author name is still HTML-escaped: %q", first.AuthorName)
	}
	first, ok = c["José & Renée <3"]
	if !ok || first.Body != "Café crème" || first.Page != "/caf%C3%A9/" {
		t.Errorf("ISO-8859-1 comment: %+v (authors %v)", first, slices.Collect(maps.Keys(c)))
	}
	for name, want := range map[string]string{
		"José & Renée <3": "2026-01-10T11:00:00Z", // +01:00 from the post date, nearer than July's +02:00
		"A2":              "2026-07-01T10:00:00Z",
		"A3":              "2026-07-02T10:00:00Z", // +02:00 from comment 2
		"A4":              "2026-01-10T12:00:00Z", // no offset known: UTC
	} {
		if at := c[name].CreatedAt.UTC().Format(time.RFC3339); at != want {
			t.Errorf("comment %s: created_at %s, want %s", name, at, want)
		}
	}
}

// TestImportWordPressLimitsAndPages: fields over the API's limits are cut
// or dropped and counted, or refused with the comment's id; empty comments
// are skipped; a page takes the first of its comments' addresses on the
// site's origins, and the others are counted.
func TestImportWordPressLimitsAndPages(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	doc := wxrDoc(
		wxrItemXML("https://elsewhere.example/x/", "<wp:status>publish</wp:status>",
			wxrCommentXML("1", "1", `<wp:comment_author>`+long+`</wp:comment_author><wp:comment_author_url>https://a.example/`+strings.Repeat("p", 200)+`</wp:comment_author_url>`),
			wxrCommentXML("2", "1", `<wp:comment_content> <![CDATA[<p> </p>]]></wp:comment_content>`)),
		wxrItemXML("https://blog.example/x/", "<wp:status>publish</wp:status>", wxrCommentXML("3", "1", `<wp:comment_content>c3&#x9f;</wp:comment_content>`)),
	)
	out, got := importWXR(t, doc)
	for _, s := range []string{"1 pages, 2 comments", "skipped 1 (1 empty)", "websites longer than 200 bytes dropped: 1", "outside the site's origins (page address not kept): 1"} {
		if !strings.Contains(out, s) {
			t.Errorf("summary lacks %q:\n%s", s, out)
		}
	}
	if len(got.Pages) != 1 || got.Pages[0].URL != "https://blog.example/x/" {
		t.Errorf("pages %+v, want /x/ at https://blog.example/x/", got.Pages)
	}
	for _, c := range got.Comments {
		if err := importer.CheckLimits(c.ID, c.AuthorName, c.AuthorWebsite, c.Body); err != nil {
			t.Errorf("imported comment: %v", err)
		}
	}
	if c := got.Comments[0]; c.AuthorName != strings.Repeat("é", 122) || c.AuthorWebsite != "" {
		t.Errorf("comment 1: name of %d bytes, website %q", len(c.AuthorName), c.AuthorWebsite)
	}
	if c := got.Comments[1]; c.Body != "c3\uFFFD" {
		t.Errorf("comment 3: body %q", c.Body)
	}

	for name, tc := range map[string]struct{ doc, want string }{
		"long body": {wxrDoc(wxrItemXML("https://blog.example/y/", "<wp:status>publish</wp:status>",
			wxrCommentXML("7", "1", `<wp:comment_content>`+strings.Repeat("b", 65526)+`</wp:comment_content>`))), "comment 7: the body is longer than 65525 bytes"},
		"long page key": {wxrDoc(wxrItemXML("https://blog.example/"+strings.Repeat("k", 512), "<wp:status>publish</wp:status>", wxrCommentXML("8", "1", ""))),
			"comment 8: page key"},
	} {
		file := filepath.Join(t.TempDir(), "wp.xml")
		if err := os.WriteFile(file, []byte(tc.doc), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := cliSplit(t, filepath.Join(t.TempDir(), "x.db"), "import", "wordpress", file, "--site", "blog", "--config", importConfig(t, "blog"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
}
