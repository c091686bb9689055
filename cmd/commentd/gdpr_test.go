package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/store/sqlite"
	"github.com/commentd/commentd/internal/testenv"
)

// gdprExport runs "gdpr export" against db and decodes its output.
func gdprExport(t *testing.T, db, email string) comment.PersonalData {
	t.Helper()
	env := map[string]string{"COMMENTD_DATABASE_URL": db, "COMMENTD_REDIS_URL": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var out, errb strings.Builder
	if err := run(t.Context(), []string{"gdpr", "export", "--email", email}, lookup, strings.NewReader(""), &out, &errb); err != nil {
		t.Fatalf("gdpr export: %v\n%s", err, errb.String())
	}
	if strings.Contains(strings.ToLower(errb.String()), strings.ToLower(strings.TrimSpace(email))) {
		t.Errorf("gdpr export logged the email:\n%s", errb.String())
	}
	var d comment.PersonalData
	if err := json.Unmarshal([]byte(out.String()), &d); err != nil {
		t.Fatalf("decode export %q: %v", out.String(), err)
	}
	return d
}

func TestGDPRCommands(t *testing.T) {
	site := testenv.UniqueName("s")
	db := filepath.Join(t.TempDir(), "commentd.db")
	in := start(t, setup{yaml: siteYAML(site, ""), env: map[string]string{"COMMENTD_DATABASE_URL": db}})
	var mine []string
	for _, p := range []map[string]any{
		{"page": "/a", "name": "Ann", "email": "ann@example.org", "body": "First."},
		{"page": "/b", "name": "Ann", "email": "ANN@Example.org", "body": "Second."},
		{"page": "/a", "name": "Bo", "email": "bo@example.org", "body": "Other."},
	} {
		r := in.post(t, site, p, nil)
		if r.status != 201 {
			t.Fatalf("post: status %d, body %s", r.status, r.body)
		}
		var created struct {
			Comment struct{ ID string } `json:"comment"`
		}
		r.decode(t, &created)
		if p["name"] == "Ann" {
			mine = append(mine, created.Comment.ID)
		}
	}

	d := gdprExport(t, db, " Ann@EXAMPLE.org ")
	got := make([]string, len(d.Comments))
	for i, c := range d.Comments {
		got[i] = c.ID
		if c.SiteID != site || c.IP == "" || c.AuthorEmail == "" {
			t.Errorf("exported comment %+v lacks site, IP or email", c)
		}
	}
	if !slices.Equal(got, mine) || d.Email != "ann@example.org" {
		t.Fatalf("export = %s %v, want ann@example.org %v", d.Email, got, mine)
	}

	out, err := cli(t, db, "", "gdpr", "erase", "--email", "ann@example.org")
	if err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("erase without --yes on a non-terminal: %v\n%s", err, out)
	}
	if d := gdprExport(t, db, "ann@example.org"); len(d.Comments) != 2 {
		t.Fatalf("refused erase changed data: %d comments left", len(d.Comments))
	}
	out, err = cli(t, db, "", "gdpr", "erase", "--email", "ann@example.org", "--comments", "keep", "--yes")
	if err != nil {
		t.Fatalf("erase: %v\n%s", err, out)
	}
	if !strings.Contains(out, "erased: 2 comments kept") || strings.Contains(out, "ann@example.org") {
		t.Errorf("erase printed:\n%s", out)
	}
	if d := gdprExport(t, db, "ann@example.org"); len(d.Comments) != 0 || len(d.ListEntries) != 0 {
		t.Errorf("export after erase = %+v, want empty", d)
	}
	if d := gdprExport(t, db, "bo@example.org"); len(d.Comments) != 1 {
		t.Errorf("other author's comments = %d, want 1", len(d.Comments))
	}
	checkCLIAudit(t, db)
	if out, err := cli(t, db, "", "gdpr", "erase", "--email", "ann@example.org", "--comments", "shred", "--yes"); err == nil {
		t.Errorf("erase --comments shred succeeded:\n%s", out)
	}
	if out, err := cli(t, db, "", "gdpr", "export"); err == nil {
		t.Errorf("export without --email succeeded:\n%s", out)
	}
}

// checkCLIAudit checks that the exports and the erasure of ann@example.org
// were audited as the command line's, under the email's hash only.
func checkCLIAudit(t *testing.T, db string) {
	t.Helper()
	s, err := sqlite.Open(t.Context(), db, sqlite.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	entries, err := s.AuditEntries(t.Context(), 100)
	if err != nil {
		t.Fatalf("AuditEntries: %v", err)
	}
	key, err := s.Secret(t.Context(), "server", func() ([]byte, error) { return nil, errors.New("no server secret stored") })
	if err != nil {
		t.Fatalf("server secret: %v", err)
	}
	subject := comment.EmailSubject(key, "ann@example.org")
	var actions []string
	for _, e := range entries {
		if e.Subject == subject && e.Actor == comment.AuditActorCLI {
			actions = append(actions, e.Action)
		}
		if strings.Contains(e.Subject, "example") {
			t.Errorf("audit subject %q holds the email", e.Subject)
		}
	}
	// Newest first: the export after the erase, the erase, and the two
	// exports before it (the refused erase wrote nothing).
	want := []string{comment.AuditGDPRExport, comment.AuditGDPRErase, comment.AuditGDPRExport, comment.AuditGDPRExport}
	if !slices.Equal(actions, want) {
		t.Errorf("audited actions = %v, want %v", actions, want)
	}
}

func TestGDPRAdminAPI(t *testing.T) {
	site := testenv.UniqueName("s")
	db := filepath.Join(t.TempDir(), "commentd.db")
	in := start(t, setup{yaml: siteYAML(site, ""), env: map[string]string{"COMMENTD_DATABASE_URL": db}})
	for _, p := range []map[string]any{
		{"page": "/a", "name": "Cy", "email": "cy@example.org", "body": "Mine."},
		{"page": "/a", "name": "Di", "email": "di@example.org", "body": "Not mine."},
	} {
		r := in.post(t, site, p, nil)
		if r.status != 201 {
			t.Fatalf("post: status %d, body %s", r.status, r.body)
		}
		var created struct {
			Comment struct{ ID string } `json:"comment"`
		}
		r.decode(t, &created)
		if a := in.mod(t, "POST", "/comments/"+created.Comment.ID+"/approve"); a.status != 200 {
			t.Fatalf("approve: status %d, body %s", a.status, a.body)
		}
	}
	thread := func() threadBody {
		var th threadBody
		in.call(t, "GET", "/api/v1/sites/"+site+"/comments?page=/a", nil, nil).decode(t, &th)
		return th
	}
	if th := thread(); th.Total != 2 { // read twice: the second may come from the cache
		t.Fatalf("thread total = %d, want 2", th.Total)
	}
	thread()
	// A moderator of the site, with an API token, is not an administrator.
	if out, err := cli(t, db, "", "user", "create", "--email", "mod@example.org"); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	if out, err := cli(t, db, "", "user", "grant", "--email", "mod@example.org", "--site", site, "--role", "owner"); err != nil {
		t.Fatalf("user grant: %v\n%s", err, out)
	}
	out, err := cli(t, db, "", "token", "create", "--email", "mod@example.org", "--name", "t")
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	modToken := regexp.MustCompile(`cmtd_\S+`).FindString(out)

	exportPath := "/api/v1/admin/gdpr/export"
	exportBody := func() *bytes.Reader { return bytes.NewReader([]byte(`{"email": "CY@example.org"}`)) }
	eraseBody := func() *bytes.Reader {
		return bytes.NewReader([]byte(`{"email": "cy@example.org", "comments": "delete"}`))
	}
	bearer := func(tok string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
	}
	for _, tt := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"no token", map[string]string{"Content-Type": "application/json"}, http.StatusUnauthorized},
		{"site owner", bearer(modToken), http.StatusForbidden},
	} {
		if r := in.call(t, "POST", exportPath, exportBody(), tt.header); r.status != tt.want {
			t.Errorf("%s: export status %d, want %d (%s)", tt.name, r.status, tt.want, r.body)
		}
		if r := in.call(t, "POST", "/api/v1/admin/gdpr/erase", eraseBody(), tt.header); r.status != tt.want {
			t.Errorf("%s: erase status %d, want %d (%s)", tt.name, r.status, tt.want, r.body)
		}
	}

	r := in.call(t, "POST", exportPath, exportBody(), bearer(in.token))
	if r.status != http.StatusOK {
		t.Fatalf("admin export: status %d, body %s", r.status, r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("admin export Cache-Control = %q, want no-store", cc)
	}
	var d comment.PersonalData
	r.decode(t, &d)
	if len(d.Comments) != 1 || d.Comments[0].Body != "Mine." || d.Comments[0].IP == "" {
		t.Fatalf("admin export = %s, want the one comment by cy", r.body)
	}
	r = in.call(t, "POST", "/api/v1/admin/gdpr/erase", eraseBody(), bearer(in.token))
	if r.status != http.StatusOK {
		t.Fatalf("admin erase: status %d, body %s", r.status, r.body)
	}
	var sum comment.EraseSummary
	r.decode(t, &sum)
	if sum.Deleted != 1 || sum.Scrubbed != 0 || !slices.Equal(sum.Sites, []string{site}) {
		t.Errorf("erase summary = %s, want 1 deleted on %s", r.body, site)
	}
	if bytes.Contains(r.body, []byte("cy@example.org")) {
		t.Errorf("erase response names the email: %s", r.body)
	}
	if d := gdprExport(t, db, "cy@example.org"); len(d.Comments) != 0 {
		t.Errorf("after erase %d comments are left", len(d.Comments))
	}
	if th := thread(); th.Total != 1 {
		t.Errorf("thread after erase has %d comments, want 1 (the cached thread was dropped)", th.Total)
	}
	if d := gdprExport(t, db, "di@example.org"); len(d.Comments) != 1 {
		t.Errorf("other author's comments = %d, want 1", len(d.Comments))
	}
	if r := in.call(t, "POST", "/api/v1/admin/gdpr/erase", bytes.NewReader([]byte(`{"email": " "}`)), bearer(in.token)); r.status != http.StatusUnprocessableEntity {
		t.Errorf("erase of a blank email: status %d, want 422 (%s)", r.status, r.body)
	}
	if strings.Contains(in.stdout.String()+in.stderr.String(), "cy@example.org") {
		t.Errorf("the server logged the email")
	}
}
