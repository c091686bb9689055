// Package web holds the HTML templates and static assets commentd serves:
// the comment section embedded on article pages (thread.html, reply_form.html,
// embed.js, embed.css), the no-JavaScript reply form pages, the demo article
// page and the moderator web UI (admin_*.html, admin.css, admin.js).
package web

import (
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"strconv"
	"time"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Templates parses every page template. Each page is executed by its file
// name, e.g. "form.html".
func Templates() (*template.Template, error) {
	assets, err := assetURLs()
	if err != nil {
		return nil, err
	}
	t, err := template.New("").Funcs(template.FuncMap{
		"field": newField,
		// asset is the URL of a static file with a version of its content,
		// so that a new release is not served from a browser's cache.
		"asset": func(name string) (string, error) {
			u, ok := assets[name]
			if !ok {
				return "", fmt.Errorf("no static file %q", name)
			}
			return u, nil
		},
		// trusted marks HTML that commentd rendered and sanitised itself
		// (comment bodies); never use it on anything a client sent.
		"trusted":   func(s string) template.HTML { return template.HTML(s) },
		"responses": Responses,
	}).ParseFS(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	return t, nil
}

// assetURLs maps each static file's name to its URL under /static/ with a
// short hash of its content as the query.
func assetURLs() (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(Static(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Static(), name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[name] = "/static/" + name + "?v=" + hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hash static files: %w", err)
	}
	return out, nil
}

// Static returns the static assets (stylesheets, the UI script), rooted at
// their directory.
func Static() fs.FS {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the directory is embedded above, so this cannot happen
	}
	return sub
}

// Field is what the form templates need to draw one input.
type Field struct {
	Name     string
	Label    string
	Required bool
	Value    string
	Error    string
}

func newField(name, label string, required bool, value string, errs map[string]string) Field {
	return Field{Name: name, Label: label, Required: required, Value: value, Error: errs[name]}
}

// FormValues are the reader's entries, redrawn when the form comes back with
// errors.
type FormValues struct {
	Page      string
	PageURL   string
	PageTitle string
	ParentID  string
	Name      string
	Email     string
	Website   string
	Body      string
	FormToken string
	// NotifyReplies: the "Notify me of replies by email" box is ticked.
	NotifyReplies bool
}

// Form is the data of the "reply_form" template.
type Form struct {
	Action string // where the form posts
	Values FormValues
	Errors map[string]string // message per field name
	// Embedded draws the parts of the form that only the comment section
	// of an article page has: the reply-to line with its cancel link, the
	// save-my-details checkbox (shown by embed.js, which alone can keep
	// the details) and the status region the script announces through.
	Embedded bool
	// ReplyTo is the name of the author replied to, when Values.ParentID
	// is set, and CancelURL the address that drops the reply.
	ReplyTo   string
	CancelURL string
	// OffersReplies draws the "Notify me of replies by email" checkbox,
	// unticked unless Values.NotifyReplies: the site offers reply
	// notifications.
	OffersReplies bool
}

// Thread is the data of the "thread" template: the comment section of an
// article page (count heading, approved comments, reply form), as embedded
// on the page or included in it by the site's server.
type Thread struct {
	Base     string // absolute URL of commentd ("" on its own pages)
	Site     string
	Page     string
	Total    int
	Comments []Comment
	Form     Form
	// Pending is the empty comment that embed.js clones to show a reader's
	// own comment while it awaits moderation, so that the markup of a
	// comment is written once, here.
	Pending Comment
}

// Comment is one approved comment as the thread template draws it. Build it
// only from a public view of a comment.
type Comment struct {
	ID      string
	Name    string
	Website string // an http(s) URL or empty: nothing else may become a link
	// BodyHTML is rendered and sanitised by commentd; the template inserts
	// it as HTML.
	BodyHTML  string
	CreatedAt time.Time
	ReplyURL  string // the no-JavaScript "Reply" link; empty: no replies here
	Pending   bool   // the reader's own comment, not yet approved
	Replies   []Comment
}

// Responses words a comment count as the heading of a thread does: "No
// Responses yet", "1 Response", "2 Responses".
func Responses(n int) string {
	switch n {
	case 0:
		return "No Responses yet"
	case 1:
		return "1 Response"
	}
	return strconv.Itoa(n) + " Responses"
}

// Script is the embed script with the names it is served under.
type Script struct {
	Body []byte
	// File is a name that changes with the content ("embed.<hash>.js"),
	// so that it can be cached for good.
	File string
	// Integrity is the Subresource Integrity value of Body
	// ("sha384-<base64>").
	Integrity string
	// ETag is a strong validator of Body, quoted.
	ETag string
}

// EmbedScript returns static/embed.js with its content-addressed name and
// integrity value.
func EmbedScript() (Script, error) {
	b, err := fs.ReadFile(Static(), "embed.js")
	if err != nil {
		return Script{}, fmt.Errorf("read embed.js: %w", err)
	}
	sum := sha512.Sum384(b)
	short := hex.EncodeToString(sum[:6])
	return Script{
		Body:      b,
		File:      "embed." + short + ".js",
		Integrity: "sha384-" + base64.StdEncoding.EncodeToString(sum[:]),
		ETag:      `"` + short + `"`,
	}, nil
}
