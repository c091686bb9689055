package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/testenv"
)

// rulesDoc is the part of a rule set the tests look at or change.
type rulesDoc map[string]any

func (in *instance) rules(t *testing.T, site string) rulesDoc {
	t.Helper()
	r := in.call(t, "GET", "/api/v1/sites/"+site+"/rules", nil, map[string]string{"Authorization": "Bearer " + in.token})
	if r.status != 200 {
		t.Fatalf("get rules: %d %s", r.status, r.body)
	}
	var doc rulesDoc
	r.decode(t, &doc)
	return doc
}

func (in *instance) putRules(t *testing.T, site string, doc rulesDoc) result {
	t.Helper()
	b, _ := json.Marshal(doc)
	return in.call(t, "PUT", "/api/v1/sites/"+site+"/rules", bytes.NewReader(b), map[string]string{"Authorization": "Bearer " + in.token, "Content-Type": "application/json"})
}

// TestRulesDecideStatus sets rules through the API and watches submissions
// land in the right status with the right reasons, on both stores.
func TestRulesDecideStatus(t *testing.T) {
	for _, st := range databases() {
		t.Run(st.name, func(t *testing.T) {
			site := testenv.UniqueName("s")
			in := start(t, setup{yaml: strings.Replace(siteYAML(site, ""), "burst: 3", "burst: 100", 1), env: map[string]string{
				"COMMENTD_DATABASE_URL": st.db(t), "COMMENTD_ADMIN_TOKEN": "rules-test-admin-token", "COMMENTD_TRUSTED_PROXIES": "127.0.0.1/32",
			}})
			doc := in.rules(t, site)
			if doc["mode"] != "hold_all" || doc["version"] != float64(0) {
				t.Fatalf("default rules: mode %v version %v", doc["mode"], doc["version"])
			}
			doc["mode"] = "hold_on_hits"
			doc["min_submit_seconds"] = 0
			doc["hold_words"] = []string{"viagra", "/cas+ino/"}
			doc["block_words"] = []string{"buy followers"}
			doc["blocked_ips"] = []string{"203.0.113.0/24", "2001:db8:bad::/48"}
			doc["blocked_emails"] = []string{"spam.example"}
			doc["trusted_emails"] = []string{"friend@example.org"}
			actions := doc["actions"].(map[string]any)
			actions["form_token_missing"] = "spam"
			r := in.putRules(t, site, doc)
			if r.status != 200 {
				t.Fatalf("put rules: %d %s", r.status, r.body)
			}
			stale := in.putRules(t, site, doc) // still version 0
			if stale.status != http.StatusConflict {
				t.Errorf("stale version: status %d, want 409", stale.status)
			}
			bad := in.rules(t, site)
			bad["blocked_ips"] = []string{"300.1.1.1/8"}
			bad["hold_words"] = []string{"/(unclosed/"}
			bad["actions"].(map[string]any)["honeypot"] = "explode"
			r = in.putRules(t, site, bad)
			if r.status != 422 || !strings.Contains(string(r.body), `"blocked_ips[0]"`) || !strings.Contains(string(r.body), `"hold_words[0]"`) || !strings.Contains(string(r.body), `"actions.honeypot"`) {
				t.Errorf("invalid rules: %d %s", r.status, r.body)
			}

			tokenFor := func(page string) string {
				var tok struct{ Token string }
				in.call(t, "GET", "/api/v1/sites/"+site+"/form-token?page="+page, nil, nil).decode(t, &tok)
				return tok.Token
			}
			type sub struct {
				name       string
				fields     map[string]any
				ip         string
				wantHTTP   int
				wantStatus string   // the stored status, seen by the moderator
				wantRules  []string // rules among the stored reasons
			}
			n := 0
			post := func(s sub) result {
				n++
				f := map[string]any{"page": "/p", "name": "Reader", "email": fmt.Sprintf("r%d@example.org", n), "body": fmt.Sprintf("Comment number %d.", n), "form_token": tokenFor("/p")}
				for k, v := range s.fields {
					f[k] = v
				}
				ip := s.ip
				if ip == "" {
					ip = fmt.Sprintf("198.51.100.%d", n)
				}
				return in.post(t, site, f, map[string]string{"X-Forwarded-For": ip})
			}
			subs := []sub{
				{name: "clean", wantHTTP: 201, wantStatus: "approved"},
				{name: "hold word, leet and homoglyph", fields: map[string]any{"body": "Cheap Ⅴ1аgra here"}, wantHTTP: 201, wantStatus: "pending", wantRules: []string{"hold_words"}},
				{name: "regex word", fields: map[string]any{"name": "Cassssino Royale"}, wantHTTP: 201, wantStatus: "pending", wantRules: []string{"hold_words"}},
				{name: "two links", fields: map[string]any{"body": "See https://a.example and [this](http://b.example)"}, wantHTTP: 201, wantStatus: "pending", wantRules: []string{"max_links"}},
				{name: "links hidden from the source", fields: map[string]any{"body": "[a](&#104;ttps://s1.example) and [b](https\\://s2.example)"}, wantHTTP: 201, wantStatus: "pending", wantRules: []string{"max_links"}},
				{name: "word hidden by Markdown", fields: map[string]any{"body": "cheap v*i*agra today"}, wantHTTP: 201, wantStatus: "pending", wantRules: []string{"hold_words"}},
				{name: "word hidden by an entity", fields: map[string]any{"body": "cheap &#118;iagra today"}, wantHTTP: 201, wantStatus: "pending", wantRules: []string{"hold_words"}},
				{name: "no token is spam here", fields: map[string]any{"form_token": ""}, wantHTTP: 201, wantStatus: "spam", wantRules: []string{"form_token_missing"}},
				{name: "honeypot", fields: map[string]any{"url": "http://bot.example"}, wantHTTP: 201, wantStatus: "spam", wantRules: []string{"honeypot"}},
				{name: "blocked range", ip: "203.0.113.77", wantHTTP: 403},
				{name: "blocked IPv6 range", ip: "2001:db8:bad:1::5", wantHTTP: 403},
				{name: "blocked domain", fields: map[string]any{"email": "x@mail.spam.example"}, wantHTTP: 403},
				{name: "block word", fields: map[string]any{"body": "We sell BUY FOLLOWERS packs"}, wantHTTP: 403},
				{name: "trusted skips hold", fields: map[string]any{"email": "friend@example.org", "body": "viagra jokes aside"}, wantHTTP: 201, wantStatus: "approved", wantRules: []string{"hold_words", "trusted_author"}},
				{name: "trusted never skips a block", fields: map[string]any{"email": "friend@example.org"}, ip: "203.0.113.9", wantHTTP: 403},
			}
			for _, s := range subs {
				t.Run(s.name, func(t *testing.T) {
					r := post(s)
					if r.status != s.wantHTTP {
						t.Fatalf("status %d, want %d: %s", r.status, s.wantHTTP, r.body)
					}
					if r.status == 403 {
						if strings.Contains(strings.ToLower(string(r.body)), "block") {
							t.Errorf("refusal names the rule: %s", r.body)
						}
						return
					}
					var got struct {
						Comment struct{ ID string } `json:"comment"`
						Status  string              `json:"status"`
					}
					r.decode(t, &got)
					if s.wantStatus == "spam" && got.Status != "pending" {
						t.Errorf("a spam verdict was revealed to the submitter: %q", got.Status)
					}
					var full struct {
						Comment struct {
							Status  string `json:"status"`
							Reasons []struct{ Rule, Detail string }
						} `json:"comment"`
					}
					in.mod(t, "GET", "/comments/"+got.Comment.ID).decode(t, &full)
					if full.Comment.Status != s.wantStatus {
						t.Errorf("stored status %q, want %q (reasons %+v)", full.Comment.Status, s.wantStatus, full.Comment.Reasons)
					}
					for _, want := range s.wantRules {
						found := false
						for _, r := range full.Comment.Reasons {
							found = found || (r.Rule == want && r.Detail != "")
						}
						if !found {
							t.Errorf("reasons %+v lack %s", full.Comment.Reasons, want)
						}
					}
				})
			}

			dup := map[string]any{"page": "/p", "name": "Dee", "email": "dee@example.org", "body": "Only once, please.", "form_token": tokenFor("/p")}
			if r := in.post(t, site, dup, nil); r.status != 201 {
				t.Fatalf("first: %d %s", r.status, r.body)
			}
			if r := in.post(t, site, dup, nil); r.status != http.StatusConflict || !strings.Contains(string(r.body), "already posted") {
				t.Errorf("duplicate: %d %s", r.status, r.body)
			}

			var hits struct{ Hits map[string]int }
			in.call(t, "GET", "/api/v1/sites/"+site+"/rules/hits", nil, map[string]string{"Authorization": "Bearer " + in.token}).decode(t, &hits)
			if hits.Hits["blocked_ip"] != 3 || hits.Hits["hold_words"] < 3 || hits.Hits["honeypot"] != 1 {
				t.Errorf("hit counts = %v", hits.Hits)
			}

			dry := map[string]any{"comment": map[string]any{"name": "Tester", "email": "t@example.org", "body": "free casino chips", "ip": "192.0.2.1"}}
			b, _ := json.Marshal(dry)
			r = in.call(t, "POST", "/api/v1/sites/"+site+"/rules/test", bytes.NewReader(b), map[string]string{"Authorization": "Bearer " + in.token, "Content-Type": "application/json"})
			var verdict struct {
				Verdict string
				Reasons []struct{ Rule, Matched string }
			}
			r.decode(t, &verdict)
			if verdict.Verdict != "spam" || len(verdict.Reasons) < 2 {
				t.Errorf("dry run = %d %+v, want spam (no token) with the casino hold word too", r.status, verdict)
			}
			var q struct{ Comments []struct{ ID string } }
			in.mod(t, "GET", "/comments?site="+site+"&q=chips&status=pending").decode(t, &q)
			if len(q.Comments) != 0 {
				t.Errorf("the dry run stored a comment")
			}
		})
	}
}

// TestRulesExportImport: rules round-trip through YAML with the command line,
// and a running instance that has the old rules cached applies imported ones
// within its one-second recheck (the command line is another process, with
// no event bus).
func TestRulesExportImport(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	in := start(t, setup{env: map[string]string{"COMMENTD_DATABASE_URL": db, "COMMENTD_ADMIN_TOKEN": "rules-test-admin-token", "COMMENTD_TRUSTED_PROXIES": "127.0.0.1/32"}})
	n := 0
	// A form token fetched just before posting is "too fast" (spam) under
	// the default rules; with min_submit_seconds 0 it is fine.
	status := func(withToken bool) string {
		n++
		var tok struct{ Token string }
		if withToken {
			in.call(t, "GET", "/api/v1/sites/demo/form-token?page=/demo/", nil, nil).decode(t, &tok)
		}
		r := in.post(t, "demo", map[string]any{"page": "/demo/", "name": "N", "email": fmt.Sprintf("n%d@example.org", n), "body": fmt.Sprint("hello ", n), "form_token": tok.Token},
			map[string]string{"X-Forwarded-For": fmt.Sprintf("192.0.2.%d", n)})
		var got struct{ Comment struct{ ID string } }
		r.decode(t, &got)
		var full struct{ Comment struct{ Status string } }
		in.mod(t, "GET", "/comments/"+got.Comment.ID).decode(t, &full)
		return full.Comment.Status
	}
	if st := status(false); st != "pending" { // the server now has the default rules cached
		t.Fatalf("before the import: %s", st)
	}
	out, err := cli(t, db, "", "rules", "export", "demo")
	if err != nil || !strings.Contains(out, "mode: hold_all") {
		t.Fatalf("export: %v\n%s", err, out)
	}
	edited := strings.Replace(out, "mode: hold_all", "mode: hold_on_hits", 1)
	edited = strings.Replace(edited, "min_submit_seconds: 3", "min_submit_seconds: 0", 1)
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(t, db, "", "rules", "import", "demo", file); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	again, err := cli(t, db, "", "rules", "export", "demo")
	if err != nil || !strings.Contains(again, "mode: hold_on_hits") {
		t.Fatalf("export after import: %v\n%s", err, again)
	}
	if err := os.WriteFile(file, []byte("mode: sometimes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(t, db, "", "rules", "import", "demo", file); err == nil || !strings.Contains(err.Error(), "mode") {
		t.Errorf("invalid import: %v\n%s", err, out)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		st := status(true)
		if st == "approved" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the imported rules did not apply (status %s)", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRuleChangeReachesOtherInstances: a rule change saved on one instance
// applies on another that has the old rules cached, through the event bus,
// well before the cache's own recheck interval (5 s) would notice.
func TestRuleChangeReachesOtherInstances(t *testing.T) {
	site := testenv.UniqueName("s")
	env := map[string]string{"COMMENTD_DATABASE_URL": pgSchemaURL(t), "COMMENTD_REDIS_URL": testenv.RedisURL(t),
		"COMMENTD_ADMIN_TOKEN": "rules-test-admin-token", "COMMENTD_TRUSTED_PROXIES": "127.0.0.1/32"}
	yaml := strings.Replace(siteYAML(site, ""), "burst: 3", "burst: 100", 1)
	a := start(t, setup{yaml: yaml, env: env})
	b := start(t, setup{yaml: yaml, env: env})
	n := 0
	statusOn := func(in *instance) string {
		n++
		r := in.post(t, site, map[string]any{"page": "/p", "name": "N", "email": fmt.Sprintf("m%d@example.org", n), "body": fmt.Sprint("note ", n)},
			map[string]string{"X-Forwarded-For": fmt.Sprintf("192.0.2.%d", n)})
		var got struct{ Comment struct{ ID string } }
		r.decode(t, &got)
		var full struct{ Comment struct{ Status string } }
		in.mod(t, "GET", "/comments/"+got.Comment.ID).decode(t, &full)
		return full.Comment.Status
	}
	if st := statusOn(b); st != "pending" { // b now has the default rules cached
		t.Fatalf("before the change: %s", st)
	}
	doc := a.rules(t, site)
	doc["mode"] = "hold_on_hits"
	doc["actions"].(map[string]any)["form_token_missing"] = "spam"
	if r := a.putRules(t, site, doc); r.status != 200 {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		st := statusOn(b)
		if st == "spam" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance b still judges with the old rules (%s)", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
