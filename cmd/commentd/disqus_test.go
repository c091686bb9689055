package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// disqusWant is the sample Disqus file testdata/import/disqus.xml as
// imported: 7007 (parent 6999 absent) is top-level, 7106 and 7107 (levels
// 6 and 7) hang under 7104 at depth 5, 7006 (isApproved false) is pending.
var disqusWant = []wantComment{
	{src: "7001", depth: 1, page: "/2026/03/ferry-timetable/", name: "Alice Mørk 🚢", email: "alice@example.org", ip: "192.0.2.21",
		at: "2026-03-02T10:15:30Z", status: "approved",
		body:       "Finally! The *early* boat is **back** 🎉\nSee [the timetable](https://ferries.example/timetable).\n\n> From April the first ferry leaves at 06:40.\n\nIs that right?",
		htmlHas:    []string{"<em>early</em>", "<strong>back</strong>", `<a href="https://ferries.example/timetable" rel="nofollow ugc noopener">the timetable</a>`, "<blockquote>", "<br>"},
		htmlHasNot: []string{"target=", "title="}},
	{src: "7002", parent: "7001", depth: 2, page: "/2026/03/ferry-timetable/", name: "李雷", email: "li@example.org", ip: "2001:db8::12",
		at: "2026-03-02T11:00:00Z", status: "approved", body: "是的，六点四十分。谢谢！"},
	{src: "7003", parent: "7002", depth: 3, page: "/2026/03/ferry-timetable/", name: "דנה", ip: "192.0.2.23",
		at: "2026-03-02T11:30:00Z", status: "approved", body: "שלום! مرحبا بالعالم"},
	{src: "7004", depth: 1, page: "/2026/03/ferry-timetable/", name: "Cheap Pills", email: "bot@spam.example", ip: "203.0.113.5",
		at: "2026-03-03T08:00:00Z", status: "spam", body: "Buy now click", htmlHasNot: []string{"<script", "alert", "javascript", "<img", "onerror", "<a"}},
	{src: "7005", depth: 1, page: "/2026/03/ferry-timetable/", name: "Trashed Tom", email: "tom@example.org", ip: "192.0.2.26",
		at: "2026-03-03T09:00:00Z", status: "deleted", body: "Deleted by the author."},
	{src: "7006", depth: 1, page: "/2026/03/ferry-timetable/", name: "Pending Pat", email: "pat@example.org", ip: "192.0.2.24",
		at: "2026-03-03T10:00:00Z", status: "pending", body: "Waiting for a moderator."},
	{src: "7007", depth: 1, page: "/2026/03/ferry-timetable/", name: "Orphan Olga", email: "olga@example.org", ip: "192.0.2.28",
		at: "2026-03-04T09:00:00Z", status: "approved", body: "Replying to a comment that is gone."},
	{src: "7101", depth: 1, page: "/2026/04/lighthouses/", name: "Level One", email: "l1@example.org", ip: "192.0.2.31", at: "2026-04-01T10:00:01Z", status: "approved", body: "Level 1"},
	{src: "7102", parent: "7101", depth: 2, page: "/2026/04/lighthouses/", name: "Level Two", at: "2026-04-01T10:00:02Z", status: "approved", body: "Level 2"},
	{src: "7103", parent: "7102", depth: 3, page: "/2026/04/lighthouses/", name: "Level Three", at: "2026-04-01T10:00:03Z", status: "approved", body: "Level 3"},
	{src: "7104", parent: "7103", depth: 4, page: "/2026/04/lighthouses/", name: "Level Four", at: "2026-04-01T10:00:04Z", status: "approved", body: "Level 4"},
	{src: "7105", parent: "7104", depth: 5, page: "/2026/04/lighthouses/", name: "Level Five", at: "2026-04-01T10:00:05Z", status: "approved", body: "Level 5"},
	{src: "7106", parent: "7104", depth: 5, page: "/2026/04/lighthouses/", name: "Level Six", at: "2026-04-01T10:00:06Z", status: "approved", body: "Level 6"},
	{src: "7107", parent: "7104", depth: 5, page: "/2026/04/lighthouses/", name: "Level Seven", at: "2026-04-01T10:00:07Z", status: "approved", body: "Level 7, written in the file before its parent"},
	{src: "7201", depth: 1, page: "/2026/05/%C3%BCn%C3%AFcode/", name: "Zoë", email: "zoe@example.org", ip: "192.0.2.41", at: "2026-05-01T00:00:00Z", status: "approved",
		body: "First paragraph.\n\nSecond with **bold**, *italic* and ~~gone~~.", htmlHas: []string{"<p>First paragraph.</p>", "<strong>bold</strong>", "<em>italic</em>", "<del>gone</del>"}},
}

// TestImportDisqus imports the sample Disqus export on SQLite and
// PostgreSQL, checks every field of every comment, checks that importing it
// again is refused without a write, and imports it into a second site that
// already has comments on the same pages (the WordPress sample).
func TestImportDisqus(t *testing.T) {
	file := filepath.Join("testdata", "import", "disqus.xml")
	for _, target := range importTargets {
		t.Run(target.name, func(t *testing.T) {
			db := target.db(t)
			cfg := importConfig(t, "blog", "other")
			if _, errOut, err := cliSplit(t, db, "import", "wordpress", filepath.Join("testdata", "import", "wordpress.xml"), "--site", "other", "--config", cfg); err != nil {
				t.Fatalf("import wordpress: %v\n%s", err, errOut)
			}
			out, errOut, err := cliSplit(t, db, "import", "disqus", file, "--site", "blog", "--config", cfg)
			if err != nil {
				t.Fatalf("import: %v\n%s", err, errOut)
			}
			for _, s := range []string{
				"3 pages, 15 comments (1 pending, 12 approved, 1 spam, 1 deleted)",
				"skipped 0",
				"made top-level: 1",
				"attached to their deepest allowed ancestor: 2",
			} {
				if !strings.Contains(out, s) {
					t.Errorf("summary lacks %q:\n%s", s, out)
				}
			}
			doc, before := exportFull(t, db, "blog")
			checkImported(t, doc, "blog", "disqus", disqusWant)
			checkNoNotifications(t, db)

			_, _, err = cliSplit(t, db, "import", "disqus", file, "--site", "blog", "--config", cfg)
			if err == nil || !strings.Contains(err.Error(), "15 comments of the file are in the database already") {
				t.Errorf("second import: %v", err)
			}
			if _, after := exportFull(t, db, "blog"); after != before {
				t.Errorf("the refused import changed the site")
			}
			// The same file into another site gets other ids: no clash.
			if _, errOut, err := cliSplit(t, db, "import", "disqus", file, "--site", "other", "--config", cfg); err != nil {
				t.Fatalf("import into another site: %v\n%s", err, errOut)
			}
			other, _ := exportFull(t, db, "other")
			if len(other.Comments) != 16+15 {
				t.Errorf("site other has %d comments, want 31", len(other.Comments))
			}
			checkNoNotifications(t, db)
		})
	}
}

// TestImportDisqusRefusals: malformed Disqus files are refused with a
// message that says why, and nothing is written.
func TestImportDisqusRefusals(t *testing.T) {
	sample, err := os.ReadFile(filepath.Join("testdata", "import", "disqus.xml"))
	if err != nil {
		t.Fatal(err)
	}
	good := string(sample)
	cases := []struct{ name, doc, want string }{
		{"not Disqus", `<?xml version="1.0"?><rss></rss>`, "not a Disqus export"},
		{"unknown thread", strings.Replace(good, `<thread dsq:id="5003"/>`, `<thread dsq:id="5999"/>`, 1), `post 7201: thread "5999" is not declared before it`},
		{"bad flag", strings.Replace(good, "<isSpam>true</isSpam>", "<isSpam>perhaps</isSpam>", 1), `post 7004: isSpam: "perhaps" is neither true nor false`},
		{"bad date", strings.Replace(good, "2026-03-04T09:00:00Z", "last week", 1), `post 7007: createdAt "last week" is not a date`},
		{"no post id", strings.Replace(good, `<post dsq:id="7005">`, `<post>`, 1), "the post has no dsq:id"},
		{"duplicate id", strings.Replace(good, `<post dsq:id="7005">`, `<post dsq:id="7001">`, 1), "comment 7001 appears twice"},
		{"truncated", good[:len(good)-200], "XML syntax error"},
	}
	db := filepath.Join(t.TempDir(), "refused.db")
	cfg := importConfig(t, "blog")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "disqus.xml")
			if err := os.WriteFile(file, []byte(tc.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			_, errOut, err := cliSplit(t, db, "import", "disqus", file, "--site", "blog", "--config", cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("import: %v, want an error containing %q\n%s", err, tc.want, errOut)
			}
		})
	}
	if _, _, err := cliSplit(t, db, "export", "json", "blog"); err == nil {
		t.Errorf("site blog exists after refused imports")
	}
}

// TestImportDisqusEncodingAndEmptyPosts: an ISO-8859-1 export is read in
// its encoding, and a deleted post with an empty message (as Disqus
// exports them) is skipped and counted rather than stored with an empty
// body no moderator could save.
func TestImportDisqusEncodingAndEmptyPosts(t *testing.T) {
	post := func(id, message, deleted string) string {
		return `<post dsq:id="` + id + `"><message>` + message + `</message><createdAt>2026-01-0` + id + `T10:00:00Z</createdAt>` +
			`<isDeleted>` + deleted + `</isDeleted><isSpam>false</isSpam><author><name>Ren` + "\xe9" + `e</name></author><thread dsq:id="1"/></post>`
	}
	doc := `<?xml version="1.0" encoding="ISO-8859-1"?>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
<thread dsq:id="1"><id>t</id><link>https://blog.example/caf` + "\xe9" + `/</link><title>Caf` + "\xe9" + `</title></thread>` +
		post("1", "<![CDATA[<p>Cr\xe8me br\xfbl\xe9e</p>]]>", "false") + post("2", "", "true") + `</disqus>`
	file := filepath.Join(t.TempDir(), "disqus.xml")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "disqus.db")
	out, errOut, err := cliSplit(t, db, "import", "disqus", file, "--site", "blog", "--config", importConfig(t, "blog"))
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "1 pages, 1 comments (1 approved)") || !strings.Contains(out, "skipped 1 (1 empty)") {
		t.Errorf("summary:\n%s", out)
	}
	got, _ := exportFull(t, db, "blog")
	if len(got.Comments) != 1 || len(got.Pages) != 1 {
		t.Fatalf("comments %+v, pages %+v", got.Comments, got.Pages)
	}
	c, p := got.Comments[0], got.Pages[0]
	if c.AuthorName != "Renée" || c.Body != "Crème brûlée" || p.Title != "Café" || p.Key != "/caf%C3%A9/" {
		t.Errorf("comment %q %q on page %q %q", c.AuthorName, c.Body, p.Key, p.Title)
	}
}
