package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNotifyDefaults(t *testing.T) {
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatalf("Load default: %v", err)
	}
	want := Notify{From: "commentd <commentd@localhost>", Poll: 2 * time.Second, MaxAttempts: 8, RetryBase: 30 * time.Second, WebhookTimeout: 10 * time.Second, Keep: 168 * time.Hour}
	if c.Notify != want {
		t.Errorf("notify = %+v, want %+v", c.Notify, want)
	}
	if c.OffersReplies("demo") {
		t.Error("OffersReplies(demo) = true without smtp_url")
	}
}

func TestNotifyFileAndEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	yaml := `notify:
  smtp_url: smtp://mail.example.org:587
  poll: 500ms
sites:
  - id: a
    name: A
    notify:
      emails: [mod@example.org, other@example.org]
      digest: 1h
      webhook_url: https://hooks.example.org/x
      webhook_secret: s3cret
  - id: b
    name: B
    notify:
      replies: false
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, env(map[string]string{
		"COMMENTD_SMTP_URL":  "smtps://user:pw@smtp.example.org:465",
		"COMMENTD_SMTP_FROM": "Blog <blog@example.org>",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := c.Notify.SMTPURL, "smtps://user:pw@smtp.example.org:465"; got != want {
		t.Errorf("smtp_url = %q, want %q", got, want)
	}
	if got, want := c.Notify.From, "Blog <blog@example.org>"; got != want {
		t.Errorf("from = %q, want %q", got, want)
	}
	if got, want := c.Notify.Poll, 500*time.Millisecond; got != want {
		t.Errorf("poll = %v, want %v", got, want)
	}
	a := c.Sites[0].Notify
	if len(a.Emails) != 2 || a.Digest != time.Hour || a.WebhookURL != "https://hooks.example.org/x" || a.WebhookSecret != "s3cret" || a.Replies != nil {
		t.Errorf("site a notify = %+v", a)
	}
	if !c.OffersReplies("a") {
		t.Error("OffersReplies(a) = false, want true (replies unset, smtp_url set)")
	}
	if c.OffersReplies("b") {
		t.Error("OffersReplies(b) = true, want false (replies: false)")
	}
	// A site not in the configuration (created through the admin API) is
	// not told of by the worker: its box would promise mail never sent.
	if c.OffersReplies("not-configured") {
		t.Error("OffersReplies(not-configured) = true, want false (no such site in the config)")
	}
}

func TestNotifyInvalid(t *testing.T) {
	site := func(notify string) string {
		return "sites:\n  - id: a\n    name: A\n    notify:\n" + notify
	}
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		wantErr string
	}{
		{"moderator address", site("      emails: [not-an-address]\n"), nil, "emails"},
		{"webhook scheme", site("      webhook_url: ftp://x.example.org/\n      webhook_secret: s\n"), nil, "webhook_url"},
		{"webhook without secret", site("      webhook_url: https://x.example.org/\n"), nil, "webhook_secret is required"},
		{"webhook with credentials", site("      webhook_url: https://u:p@x.example.org/\n      webhook_secret: s\n"), nil, "must not hold a user"},
		{"negative digest", site("      digest: -1h\n"), nil, "digest"},
		{"smtp scheme", "", map[string]string{"COMMENTD_SMTP_URL": "http://u:hunter2@mail.example.org"}, "unknown scheme"},
		{"smtp not a URL", "", map[string]string{"COMMENTD_SMTP_URL": "smtp://u:hunter2@mail example.org:%zz"}, "smtp_url"},
		{"smtp bad port", "", map[string]string{"COMMENTD_SMTP_URL": "smtp://u:hunter2@mail.example.org:99999"}, "bad port"},
		{"smtp unknown tls", "", map[string]string{"COMMENTD_SMTP_URL": "smtp://u:hunter2@mail.example.org?tls=maybe"}, "tls must be"},
		{"smtps with tls=none", "", map[string]string{"COMMENTD_SMTP_URL": "smtps://u:hunter2@mail.example.org?tls=none"}, "tls must be"},
		{"smtps with tls=starttls", "", map[string]string{"COMMENTD_SMTP_URL": "smtps://u:hunter2@mail.example.org?tls=starttls"}, "tls must be"},
		{"password without TLS", "", map[string]string{"COMMENTD_SMTP_URL": "smtp://u:hunter2@mail.example.org:25?tls=none"}, "need TLS"},
		{"from", "", map[string]string{"COMMENTD_SMTP_FROM": "nobody"}, "notify.from"},
		{"zero poll", "notify:\n  poll: 0s\n", nil, "notify.poll"},
		{"zero attempts", "notify:\n  max_attempts: 0\n", nil, "notify.max_attempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = filepath.Join(t.TempDir(), "c.yaml")
				if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(path, env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error repeats the password: %v", err)
			}
		})
	}
}
