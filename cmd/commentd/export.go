package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/config"
	"github.com/commentd/commentd/internal/importer"
	"github.com/commentd/commentd/internal/markup"
)

// siteFormat and siteFormatVersion name the document "export json" writes
// and "import json" reads.
const (
	siteFormat        = "commentd-site"
	siteFormatVersion = 1
)

// exportPageSize is how many comments of one status a query of the export
// reads at a time.
const exportPageSize = 500

// exportStatuses are the statuses whose comments an export holds: all.
var exportStatuses = []comment.Status{
	comment.StatusPending, comment.StatusApproved, comment.StatusRejected, comment.StatusSpam, comment.StatusDeleted,
}

// siteHead is everything of a site document but its comments.
type siteHead struct {
	Format  string     `json:"format"`
	Version int        `json:"version"`
	Site    siteRecord `json:"site"`
	Rules   rulesEntry `json:"rules"`
	Pages   []pageRow  `json:"pages"`
}

type siteRecord struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Origins   []string   `json:"origins"`
	RateLimit rateRecord `json:"rate_limit"`
}

type rateRecord struct {
	Every string `json:"every"` // a Go duration, "15s"
	Burst int    `json:"burst"`
}

// rulesEntry is the site's rules as stored, without their version, which
// counts changes and so differs between two databases holding the same
// rules.
type rulesEntry struct {
	Settings      json.RawMessage `json:"settings,omitempty"`
	UpdatedBy     string          `json:"updated_by"`
	UpdatedAt     *time.Time      `json:"updated_at,omitempty"`
	TrustedEmails []string        `json:"trusted_emails"`
	BlockedEmails []string        `json:"blocked_emails"`
	BlockedIPs    []string        `json:"blocked_ips"`
}

type pageRow struct {
	Key   string `json:"key"`
	URL   string `json:"url"`
	Title string `json:"title"`
}

// commentRow is every field of a stored comment.Comment but its site.
type commentRow struct {
	ID            string           `json:"id"`
	ParentID      string           `json:"parent_id"`
	Depth         int              `json:"depth"`
	Page          string           `json:"page"`
	AuthorName    string           `json:"author_name"`
	AuthorEmail   string           `json:"author_email"`
	AuthorWebsite string           `json:"author_website"`
	Body          string           `json:"body"`
	BodyHTML      string           `json:"body_html"`
	Status        comment.Status   `json:"status"`
	IP            string           `json:"ip"`
	UserAgent     string           `json:"user_agent"`
	Reasons       []comment.Reason `json:"reasons"`
	// NotifyReplies is left out when false, so that documents written
	// before the field existed read the same.
	NotifyReplies bool      `json:"notify_replies,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func rowOf(c comment.Comment) commentRow {
	reasons := c.Reasons
	if reasons == nil {
		reasons = []comment.Reason{}
	}
	return commentRow{
		ID: c.ID, ParentID: c.ParentID, Depth: c.Depth, Page: c.PageKey,
		AuthorName: c.AuthorName, AuthorEmail: c.AuthorEmail, AuthorWebsite: c.AuthorWebsite,
		Body: c.Body, BodyHTML: c.BodyHTML, Status: c.Status, IP: c.IP, UserAgent: c.UserAgent,
		Reasons: reasons, NotifyReplies: c.NotifyReplies, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}
}

// comment returns the row as a comment of siteID. The file's body_html is
// never used: the body is rendered again with render, as a submission's
// is, and an author website that is not an absolute http(s) URL is
// dropped.
func (r commentRow) comment(siteID string, render *markup.Renderer) (comment.Comment, error) {
	h, err := render.Render(r.Body)
	if err != nil {
		return comment.Comment{}, fmt.Errorf("comment %s: the body does not render: %w", r.ID, err)
	}
	return comment.Comment{
		ID: r.ID, SiteID: siteID, PageKey: r.Page, ParentID: r.ParentID, Depth: r.Depth,
		AuthorName: r.AuthorName, AuthorEmail: r.AuthorEmail, AuthorWebsite: importer.WebURL(r.AuthorWebsite),
		Body: r.Body, BodyHTML: h, Status: r.Status, IP: r.IP, UserAgent: r.UserAgent,
		Reasons: r.Reasons, NotifyReplies: r.NotifyReplies, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}, nil
}

// siteCommand runs "export json SITE" and "import json FILE".
func siteCommand(ctx context.Context, cmd string, args []string, e env) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	configPath := configFlag(fs, e)
	newID, out := new(string), new(string)
	if cmd == "import json" {
		newID = fs.String("site", "", "load the site under this id instead of the one in the file")
	} else {
		out = outFlag(fs)
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		if cmd == "export json" {
			return errors.New("usage: commentd export json SITE [--out FILE] [--config FILE]: " + exportPrivacyNote)
		}
		return errors.New("usage: commentd import json FILE [--config FILE] [--site NEWID]")
	}
	cfg, err := config.Load(*configPath, e.lookup)
	if err != nil {
		return err
	}
	if cmd == "import json" {
		// The whole file is checked before the database is opened, so that
		// a malformed file changes nothing.
		render := markup.NewRenderer()
		head, ids, err := checkSiteFile(rest[0], render)
		if err != nil {
			return fmt.Errorf("import json %s: %w", rest[0], err)
		}
		if *newID != "" {
			head.Site.ID = *newID
		}
		store, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer store.Close()
		if err := importSite(ctx, store, rest[0], head, ids, render); err != nil {
			return fmt.Errorf("import json %s: %w", rest[0], err)
		}
		fmt.Fprintf(e.stdout, "imported site %s: %d pages, %d comments\n", head.Site.ID, len(head.Pages), len(ids))
		return nil
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	err = writeOutput(*out, e.stdout, func(w io.Writer) error { return exportSite(ctx, store, rest[0], w) })
	if err != nil {
		return fmt.Errorf("export json %s: %w", rest[0], err)
	}
	return nil
}

// exportPrivacyNote is the warning the usage of the export commands gives.
const exportPrivacyNote = "the file holds the private fields of every comment (email addresses, IP addresses, user agents); keep it as private as the database"

// outFlag declares --out on fs.
func outFlag(fs *flag.FlagSet) *string {
	return fs.String("out", "", "write to this file instead of standard output; it is replaced only when the export succeeds; "+exportPrivacyNote)
}

// writeOutput runs write on a buffered writer to stdout, or, when path is
// not "", to a new temporary file in path's directory that replaces path
// only when write and every write to the file succeed; on failure the
// temporary file is removed and path is left as it was. The file is
// readable by its owner only.
func writeOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "" {
		w := bufio.NewWriterSize(stdout, 64<<10)
		if err := write(w); err != nil {
			return err
		}
		return w.Flush()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 64<<10)
	if err := write(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	done = true
	return nil
}

// exportSite writes the site document of siteID to w, comments last and
// one a line, oldest first by (CreatedAt, ID) across all statuses. It reads
// the comments twice, a page of one status at a time: first to learn their
// pages, which come before them in the document.
func exportSite(ctx context.Context, store comment.Store, siteID string, w io.Writer) error {
	site, err := store.Site(ctx, siteID)
	if err != nil {
		return err
	}
	doc, lists, err := store.Rules(ctx, siteID)
	if err != nil {
		return err
	}
	head := siteHead{
		Format: siteFormat, Version: siteFormatVersion,
		Site: siteRecord{
			ID: site.ID, Name: site.Name, Origins: nonNil(site.Origins),
			RateLimit: rateRecord{Every: site.RateLimit.Every.String(), Burst: site.RateLimit.Burst},
		},
		Rules: rulesEntry{
			UpdatedBy:     doc.UpdatedBy,
			TrustedEmails: sorted(lists.TrustedEmails),
			BlockedEmails: sorted(lists.BlockedEmails),
			BlockedIPs:    sorted(lists.BlockedIPs),
		},
		Pages: []pageRow{},
	}
	if len(doc.Settings) > 0 {
		head.Rules.Settings = doc.Settings
	}
	if !doc.UpdatedAt.IsZero() {
		at := doc.UpdatedAt.UTC()
		head.Rules.UpdatedAt = &at
	}

	var refs []comment.PageRef
	seen := make(map[string]bool)
	for c, err := range siteComments(ctx, store, comment.ListFilter{SiteIDs: []string{siteID}}) {
		if err != nil {
			return err
		}
		if !seen[c.PageKey] {
			seen[c.PageKey] = true
			refs = append(refs, comment.PageRef{SiteID: siteID, Key: c.PageKey})
		}
	}
	pages, err := store.PagesByRef(ctx, refs)
	if err != nil {
		return err
	}
	slices.SortFunc(refs, func(a, b comment.PageRef) int { return strings.Compare(a.Key, b.Key) })
	for _, ref := range refs {
		p, ok := pages[ref]
		if !ok {
			p = comment.Page{Key: ref.Key}
		}
		head.Pages = append(head.Pages, pageRow{Key: p.Key, URL: p.URL, Title: p.Title})
	}

	b, err := encodeJSON(head)
	if err != nil {
		return err
	}
	// The head is an object: it goes out without its closing brace, which
	// follows the comments.
	if _, err := w.Write(append(b[:len(b)-1], `,"comments":[`...)); err != nil {
		return err
	}
	sep := "\n"
	for c, err := range siteComments(ctx, store, comment.ListFilter{SiteIDs: []string{siteID}}) {
		if err != nil {
			return err
		}
		if !seen[c.PageKey] {
			// Written since the first pass: its page is not in the head.
			return errors.New("the site changed during the export; run it again")
		}
		b, err := encodeJSON(rowOf(c))
		if err != nil {
			return fmt.Errorf("encode comment %s: %w", c.ID, err)
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		sep = ",\n"
	}
	_, err = io.WriteString(w, "\n]}\n")
	return err
}

// encodeJSON is json.Marshal without the escaping of <, > and &, which
// would make comment bodies hard to read in the file.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// siteComments yields every comment that base selects (its sites, and its
// page when set), in every status, ordered by (CreatedAt, ID): it merges
// the moderation queues of all statuses, each read a page at a time in that
// order.
func siteComments(ctx context.Context, store comment.Store, base comment.ListFilter) iter.Seq2[comment.Comment, error] {
	return func(yield func(comment.Comment, error) bool) {
		type queue struct {
			status comment.Status
			buf    []comment.Comment
			after  *comment.Cursor
			done   bool
		}
		queues := make([]*queue, len(exportStatuses))
		for i, st := range exportStatuses {
			queues[i] = &queue{status: st}
		}
		fill := func(q *queue) error {
			if len(q.buf) > 0 || q.done {
				return nil
			}
			f := base
			f.Status, f.After, f.Limit = q.status, q.after, exportPageSize
			cs, err := store.List(ctx, f)
			if err != nil {
				return fmt.Errorf("read %s comments: %w", q.status, err)
			}
			q.buf, q.done = cs, len(cs) < exportPageSize
			if len(cs) > 0 {
				last := cs[len(cs)-1]
				q.after = &comment.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
			}
			return nil
		}
		for {
			var next *queue
			for _, q := range queues {
				if err := fill(q); err != nil {
					yield(comment.Comment{}, err)
					return
				}
				if len(q.buf) == 0 {
					continue
				}
				if next == nil || before(q.buf[0], next.buf[0]) {
					next = q
				}
			}
			if next == nil {
				return
			}
			c := next.buf[0]
			next.buf = next.buf[1:]
			if !yield(c, nil) {
				return
			}
		}
	}
}

func before(a, b comment.Comment) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.ID < b.ID
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sorted(s []string) []string {
	s = slices.Clone(nonNil(s))
	slices.Sort(s)
	return s
}

// readSiteFile reads a site document from r: onHead gets everything before
// the comments (once, also when there are none), then onComment each
// comment in file order. The comments must come last in the document.
func readSiteFile(r io.Reader, onHead func(siteHead) error, onComment func(commentRow) error) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	fail := func(err error) error {
		return fmt.Errorf("malformed document near byte %d: %w", dec.InputOffset(), err)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return fail(err)
	}
	var head siteHead
	headDone := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		key, _ := tok.(string)
		if headDone {
			return fail(fmt.Errorf("%q after the comments: the comments must come last", key))
		}
		var dst any
		switch key {
		case "format":
			dst = &head.Format
		case "version":
			dst = &head.Version
		case "site":
			dst = &head.Site
		case "rules":
			dst = &head.Rules
		case "pages":
			dst = &head.Pages
		case "comments":
			headDone = true
			if err := onHead(head); err != nil {
				return err
			}
			if err := expectDelim(dec, '['); err != nil {
				return fail(fmt.Errorf("comments: %w", err))
			}
			for i := 0; dec.More(); i++ {
				var c commentRow
				if err := dec.Decode(&c); err != nil {
					return fail(fmt.Errorf("comment %d: %w", i+1, err))
				}
				if err := onComment(c); err != nil {
					return err
				}
			}
			if err := expectDelim(dec, ']'); err != nil {
				return fail(err)
			}
			continue
		default:
			return fail(fmt.Errorf("unknown field %q", key))
		}
		if err := dec.Decode(dst); err != nil {
			return fail(fmt.Errorf("%s: %w", key, err))
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return fail(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fail(errors.New("more data after the document"))
	}
	if !headDone {
		return onHead(head)
	}
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("found %v where %q belongs", tok, string(want))
	}
	return nil
}

// checkSiteFile reads the whole file at path and checks it: the format,
// the site, each comment's status, page, parent (in the file, on the same
// page, one level up), that its body renders with render, and the limits
// of importer.CheckLimits. It returns the head and the ids of the
// comments; the comments themselves are not kept.
func checkSiteFile(path string, render *markup.Renderer) (siteHead, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return siteHead{}, nil, err
	}
	defer f.Close()
	var head siteHead
	pages := make(map[string]bool)
	depths := make(map[string]int)
	pageOf := make(map[string]string)
	type reply struct{ id, parent string }
	var replies []reply
	var ids []string
	onHead := func(h siteHead) error {
		switch {
		case h.Format != siteFormat:
			return fmt.Errorf("format is %q, not %q: not a commentd site document", h.Format, siteFormat)
		case h.Version != siteFormatVersion:
			return fmt.Errorf("version %d is not supported (only %d)", h.Version, siteFormatVersion)
		case h.Site.ID == "":
			return errors.New("the site has no id")
		}
		if h.Site.RateLimit.Every != "" {
			if _, err := time.ParseDuration(h.Site.RateLimit.Every); err != nil {
				return fmt.Errorf("site rate_limit.every: %w", err)
			}
		}
		for _, p := range h.Pages {
			if p.Key == "" {
				return errors.New("a page has no key")
			}
			if err := importer.CheckPage(p.Key, p.Title); err != nil {
				return err
			}
			pages[p.Key] = true
		}
		head = h
		return nil
	}
	onComment := func(c commentRow) error {
		switch {
		case c.ID == "":
			return fmt.Errorf("comment %d has no id", len(depths)+1)
		case depths[c.ID] != 0:
			return fmt.Errorf("comment %s appears twice", c.ID)
		case !c.Status.Valid():
			return fmt.Errorf("comment %s: unknown status %q", c.ID, c.Status)
		case !pages[c.Page]:
			return fmt.Errorf("comment %s: page %q is not among the pages", c.ID, c.Page)
		case c.Depth < 1 || c.Depth > comment.MaxDepth:
			return fmt.Errorf("comment %s: depth %d is not between 1 and %d", c.ID, c.Depth, comment.MaxDepth)
		case (c.ParentID == "") != (c.Depth == 1):
			return fmt.Errorf("comment %s: depth %d does not fit parent %q", c.ID, c.Depth, c.ParentID)
		case c.CreatedAt.IsZero():
			return fmt.Errorf("comment %s has no created_at", c.ID)
		}
		if err := importer.CheckLimits(c.ID, c.AuthorName, c.AuthorWebsite, c.Body); err != nil {
			return err
		}
		if _, err := render.Render(c.Body); err != nil {
			return fmt.Errorf("comment %s: the body does not render: %w", c.ID, err)
		}
		depths[c.ID] = c.Depth
		pageOf[c.ID] = c.Page
		ids = append(ids, c.ID)
		if c.ParentID != "" {
			replies = append(replies, reply{c.ID, c.ParentID})
		}
		return nil
	}
	if err := readSiteFile(f, onHead, onComment); err != nil {
		return siteHead{}, nil, err
	}
	for _, r := range replies {
		d, ok := depths[r.parent]
		if !ok {
			return siteHead{}, nil, fmt.Errorf("comment %s: parent %s is not in the file", r.id, r.parent)
		}
		if depths[r.id] != d+1 {
			return siteHead{}, nil, fmt.Errorf("comment %s: depth %d under a parent of depth %d", r.id, depths[r.id], d)
		}
		if pageOf[r.id] != pageOf[r.parent] {
			return siteHead{}, nil, fmt.Errorf("comment %s: on page %q, its parent %s on page %q", r.id, pageOf[r.id], r.parent, pageOf[r.parent])
		}
	}
	return head, ids, nil
}

// importSite loads the checked document at path, whose comments have the
// given ids, as site head.Site.ID. Before it writes anything it checks that
// the site has no comments yet and that no comment id of the file is in the
// database (ids are unique across sites). Then it creates or updates the
// site, replaces its rules and bulk loads its pages and comments, each reply
// after its parent. Each body is rendered with render (the file's
// body_html is ignored), an author website that is not an absolute http(s)
// URL is dropped, and a page URL is kept only when it lies on one of the
// site's origins.
//
// The checks and the writes are not one transaction, and BulkLoad may
// commit a large file in several: a comment with one of the file's ids
// written by another process between the checks and the load, or a
// database error during the load, leaves the site, its rules and the
// comments loaded so far in place.
func importSite(ctx context.Context, store comment.Store, path string, head siteHead, ids []string, render *markup.Renderer) error {
	loader, ok := store.(comment.BulkLoader)
	if !ok {
		return errors.New("this store cannot bulk load")
	}
	siteID := head.Site.ID
	if _, err := store.Site(ctx, siteID); err == nil {
		for _, st := range exportStatuses {
			cs, err := store.List(ctx, comment.ListFilter{SiteIDs: []string{siteID}, Status: st, Limit: 1})
			if err != nil {
				return err
			}
			if len(cs) > 0 {
				return fmt.Errorf("site %s already has comments: import only into a site without any", siteID)
			}
		}
	} else if !errors.Is(err, comment.ErrNotFound) {
		return err
	}
	if n, err := storedCount(ctx, store, ids); err != nil {
		return err
	} else if n > 0 {
		// Comment ids are unique across the sites of a database.
		return fmt.Errorf("%d comments of the file are in this database already, perhaps under another site; nothing was imported: %w", n, comment.ErrConflict)
	}
	var every time.Duration
	if head.Site.RateLimit.Every != "" {
		every, _ = time.ParseDuration(head.Site.RateLimit.Every) // checked by checkSiteFile
	}
	site := comment.Site{ID: siteID, Name: head.Site.Name, Origins: head.Site.Origins,
		RateLimit: comment.RateLimit{Every: every, Burst: head.Site.RateLimit.Burst}}
	if err := store.UpsertSite(ctx, site); err != nil {
		return fmt.Errorf("create site %s: %w", siteID, err)
	}
	if err := importRules(ctx, store, siteID, head.Rules); err != nil {
		return fmt.Errorf("rules: %w", err)
	}

	pages := make([]comment.Page, len(head.Pages))
	for i, p := range head.Pages {
		pages[i] = comment.Page{SiteID: siteID, Key: p.Key, URL: site.ReturnURL(p.URL), Title: p.Title}
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	err = loadParentsFirst(ctx, loader, pages, func(put func(comment.Comment) error) error {
		return readSiteFile(f, func(siteHead) error { return nil }, func(r commentRow) error {
			c, err := r.comment(siteID, render)
			if err != nil {
				return err
			}
			return put(c)
		})
	})
	if errors.Is(err, comment.ErrConflict) {
		// Comment ids are unique across the sites of a database.
		return fmt.Errorf("some comments of the file are in this database already, perhaps under another site: %w", err)
	}
	return err
}

// errFileChanged is the error of an import whose file no longer holds
// what its first reading found.
var errFileChanged = errors.New("the file changed during the import")

// loadParentsFirst bulk loads pages and the comments that read passes to
// put, in that order except that a reply read before its parent waits
// for it. When read fails, or leaves replies whose parent never came, the
// load's context is cancelled with that error, so that the transaction
// BulkLoad has open rolls back, and the error is returned. (A store that
// commits a long load in several transactions keeps those committed
// before.)
func loadParentsFirst(ctx context.Context, loader comment.BulkLoader, pages []comment.Page, read func(put func(comment.Comment) error) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var readErr error
	comments := func(yield func(comment.Comment) bool) {
		loaded := make(map[string]bool)
		waiting := make(map[string][]comment.Comment)
		stopped := errors.New("stopped")
		var emit func(c comment.Comment) bool
		emit = func(c comment.Comment) bool {
			if !yield(c) {
				return false
			}
			loaded[c.ID] = true
			kids := waiting[c.ID]
			delete(waiting, c.ID)
			for _, k := range kids {
				if !emit(k) {
					return false
				}
			}
			return true
		}
		err := read(func(c comment.Comment) error {
			if c.ParentID != "" && !loaded[c.ParentID] {
				waiting[c.ParentID] = append(waiting[c.ParentID], c)
				return nil
			}
			if !emit(c) {
				return stopped
			}
			return nil
		})
		switch {
		case errors.Is(err, stopped):
			return
		case err != nil:
			readErr = err
		case len(waiting) > 0:
			readErr = fmt.Errorf("%w: replies to comments that are not in it", errFileChanged)
		default:
			return
		}
		cancel(readErr)
	}
	err := loader.BulkLoad(ctx, pages, comments)
	if readErr != nil {
		return fmt.Errorf("%w (nothing of the open transaction was kept)", readErr)
	}
	return err
}

// importRules saves the rules of the file as the site's, unless the file
// has none (never saved, empty lists).
func importRules(ctx context.Context, store comment.Store, siteID string, r rulesEntry) error {
	if len(r.Settings) == 0 && len(r.TrustedEmails)+len(r.BlockedEmails)+len(r.BlockedIPs) == 0 {
		return nil
	}
	version, err := store.RulesVersion(ctx, siteID)
	if err != nil {
		return err
	}
	doc := comment.RulesDoc{SiteID: siteID, Settings: r.Settings, UpdatedBy: r.UpdatedBy}
	if r.UpdatedAt != nil {
		doc.UpdatedAt = r.UpdatedAt.UTC()
	}
	lists := comment.SiteLists{TrustedEmails: r.TrustedEmails, BlockedEmails: r.BlockedEmails, BlockedIPs: r.BlockedIPs}
	_, err = store.SaveRules(ctx, doc, lists, version)
	return err
}
