// Package web holds the HTML templates and static assets commentd serves:
// the no-JavaScript reply form pages, the demo article page and the
// moderator web UI (admin_*.html, admin.css, admin.js).
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
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
		"trusted": func(s string) template.HTML { return template.HTML(s) },
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
}

// Form is the data of the "reply_form" template.
type Form struct {
	Action string // where the form posts
	Values FormValues
	Errors map[string]string // message per field name
}
