package main

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/html/charset"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/config"
	"github.com/commentd/commentd/internal/importer"
	"github.com/commentd/commentd/internal/markup"
)

// foreignComment is one comment as another comment system's export holds
// it, before it becomes a commentd comment.
type foreignComment struct {
	ID       string // the source's id, unique in the file
	ParentID string // the source's id of the parent; "" for a top-level comment
	// Page is the page the comment belongs to (no site): Key, URL, Title.
	Page          comment.Page
	AuthorName    string
	AuthorEmail   string
	AuthorWebsite string
	IP            string
	UserAgent     string
	CreatedAt     time.Time
	Content       string
	Markdown      bool // Content is commentd Markdown (commentd's own WordPress export), not HTML
	Status        comment.Status
	Skip          string // when not "", the comment is not imported: what it is ("pingback")
	// KeepID is the commentd id the comment had, recorded by commentd's own
	// WordPress export; "" for other files. It is imported as the id.
	KeepID string
	// AssumedUTC: the file gives only a local time and no way to learn its
	// offset, so CreatedAt is that local time read as UTC.
	AssumedUTC bool
	// Unpublished: the file says approved, but the post is not public
	// (draft, private, password-protected); Status is pending instead.
	Unpublished bool
}

// foreignSource is an export format of another comment system.
type foreignSource struct {
	name  string // "wordpress": part of the derived comment ids, never change it
	usage string
	ws    importer.Whitespace
	// read calls fn for each comment of the file in file order. It returns
	// fn's error, or one saying where the file is malformed.
	read func(r io.Reader, fn func(foreignComment) error) error
}

var wordpressSource = foreignSource{
	name:  "wordpress",
	usage: "usage: commentd import wordpress FILE.xml --site SITE [--config FILE]",
	ws:    importer.KeepNewlines,
	read:  readWXR,
}

// parseArgs parses fs over args, where flags may come before or after the
// positional arguments, which it returns.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest, args = append(rest, fs.Arg(0)), fs.Args()[1:]
	}
}

// importSummary counts what an import did.
type importSummary struct {
	pages       int
	byStatus    map[comment.Status]int
	skipped     map[string]int
	orphans     int // replies whose parent is not in the file, made top-level
	reparented  int // replies deeper than comment.MaxDepth, attached higher up
	unpublished int // approved comments of posts that are not public, imported as pending
	assumedUTC  int // comments whose local time was read as UTC
	shortened   int // comments with an author name cut to its limit or a too long website dropped
	offOrigin   int // comments on pages whose address is not on the site's origins
}

func (s importSummary) String() string {
	total := 0
	var parts []string
	for _, st := range exportStatuses {
		total += s.byStatus[st]
		if n := s.byStatus[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	out := fmt.Sprintf("%d pages, %d comments", s.pages, total)
	if len(parts) > 0 {
		out += " (" + strings.Join(parts, ", ") + ")"
	}
	out += "\n"
	skipped := 0
	var kinds []string
	for k, n := range s.skipped {
		skipped += n
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	slices.Sort(kinds)
	if skipped > 0 {
		out += fmt.Sprintf("skipped %d (%s)\n", skipped, strings.Join(kinds, ", "))
	} else {
		out += "skipped 0\n"
	}
	out += fmt.Sprintf("replies whose parent is not imported, made top-level: %d\n", s.orphans)
	out += fmt.Sprintf("replies nested deeper than %d, attached to their deepest allowed ancestor: %d\n", comment.MaxDepth, s.reparented)
	out += fmt.Sprintf("approved comments of unpublished or password-protected posts, imported as pending: %d\n", s.unpublished)
	out += fmt.Sprintf("times given only in the blog's time zone, which the file does not tell, assumed UTC: %d\n", s.assumedUTC)
	out += fmt.Sprintf("author names cut to %d bytes or websites longer than %d bytes dropped: %d\n", comment.MaxNameBytes, comment.MaxWebsiteBytes, s.shortened)
	out += fmt.Sprintf("comments on pages outside the site's origins (page address not kept): %d\n", s.offOrigin)
	return out
}

// foreignNode is what the first pass keeps of each imported comment.
type foreignNode struct {
	keep     string // the commentd id the file records, or ""
	parent   string // the source's parent id as declared
	page     string
	at       time.Time
	id       string // commentd id
	eff      string // the source id of the parent it gets, "" for top-level
	depth    int
	visiting bool
}

// foreignPlan is the checked content of a file: everything but the
// comments' text.
type foreignPlan struct {
	nodes   map[string]*foreignNode
	order   []string // source ids of imported comments, in file order
	pages   map[string]*foreignPage
	summary importSummary
}

// foreignPage is a page as the comments of a file name it: the title
// first given, and each distinct address given, in file order, with how
// many comments gave it.
type foreignPage struct {
	title  string
	urls   []string
	counts []int
}

// importForeignCommand runs "import wordpress" and "import disqus".
func importForeignCommand(ctx context.Context, src foreignSource, args []string, e env) error {
	fs := flag.NewFlagSet("import "+src.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	configPath := configFlag(fs, e)
	siteID := fs.String("site", "", "the site to import into (it must exist or be declared in the configuration)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 || *siteID == "" {
		return errors.New(src.usage)
	}
	path := rest[0]
	cfg, err := config.Load(*configPath, e.lookup)
	if err != nil {
		return err
	}
	render := markup.NewRenderer()
	// The whole file is read and checked before the database is opened.
	plan, err := planForeign(path, src)
	if err != nil {
		return fmt.Errorf("import %s %s: %w", src.name, path, err)
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := loadForeign(ctx, store, cfg, *siteID, path, src, render, plan); err != nil {
		return fmt.Errorf("import %s %s: %w", src.name, path, err)
	}
	fmt.Fprintf(e.stdout, "imported into site %s from %s: %s", *siteID, path, plan.summary)
	return nil
}

// planForeign reads the file at path once and checks it: each comment has
// an id, not seen before, a time, a known status, and fits the limits (see
// fitForeign). It decides where each reply goes (see foreignPlan.resolve).
// Bodies are converted but not rendered, which only the load does.
func planForeign(path string, src foreignSource) (*foreignPlan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p := &foreignPlan{
		nodes:   make(map[string]*foreignNode),
		pages:   make(map[string]*foreignPage),
		summary: importSummary{byStatus: make(map[comment.Status]int), skipped: make(map[string]int)},
	}
	seen := make(map[string]bool)
	kept := make(map[string]string)
	err = src.read(bufio.NewReaderSize(f, 64<<10), func(c foreignComment) error {
		switch {
		case c.ID == "":
			return fmt.Errorf("comment %d has no id", len(seen)+1)
		case seen[c.ID]:
			return fmt.Errorf("comment %s appears twice", c.ID)
		case c.Page.Key == "":
			return fmt.Errorf("comment %s has no page", c.ID)
		case c.CreatedAt.IsZero():
			return fmt.Errorf("comment %s has no date", c.ID)
		}
		seen[c.ID] = true
		if c.Skip != "" {
			p.summary.skipped[c.Skip]++
			return nil
		}
		if !c.Status.Valid() {
			return fmt.Errorf("comment %s: unknown status %q", c.ID, c.Status)
		}
		if c.KeepID != "" {
			if other, ok := kept[c.KeepID]; ok {
				return fmt.Errorf("comments %s and %s have the same commentd id %s", other, c.ID, c.KeepID)
			}
			kept[c.KeepID] = c.ID
		}
		fc, shortened, err := fitForeign(c, foreignBody(c, src.ws))
		if err != nil {
			return err
		}
		if fc.Skip != "" {
			p.summary.skipped[fc.Skip]++
			return nil
		}
		if shortened {
			p.summary.shortened++
		}
		if fc.AssumedUTC {
			p.summary.assumedUTC++
		}
		if fc.Unpublished {
			p.summary.unpublished++
		}
		p.nodes[c.ID] = &foreignNode{keep: c.KeepID, parent: c.ParentID, page: c.Page.Key, at: c.CreatedAt}
		p.order = append(p.order, c.ID)
		pg, ok := p.pages[c.Page.Key]
		if !ok {
			pg = &foreignPage{}
			p.pages[c.Page.Key] = pg
		}
		if pg.title == "" {
			pg.title = fc.Page.Title
		}
		if i := slices.Index(pg.urls, c.Page.URL); i >= 0 {
			pg.counts[i]++
		} else {
			pg.urls, pg.counts = append(pg.urls, c.Page.URL), append(pg.counts, 1)
		}
		p.summary.byStatus[c.Status]++
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.summary.pages = len(p.pages)
	for _, id := range p.order {
		p.resolve(id)
	}
	return p, nil
}

// fitForeign returns c, whose body converts to the Markdown body, fitted
// to the limits the HTTP API keeps (importer.CheckLimits): an author name
// is made one line and cut to its limit, a website longer than its limit
// dropped (shortened reports either), control characters of the body
// become U+FFFD, a page title is cut to its limit. A comment with an empty
// body gets Skip "empty". A body or page key over its limit is an error
// naming the comment.
func fitForeign(c foreignComment, body string) (fc foreignComment, shortened bool, err error) {
	name, cut := importer.FitLine(c.AuthorName, comment.MaxNameBytes)
	if name == "" {
		name = "Anonymous"
	}
	c.AuthorName = name
	if len(c.AuthorWebsite) > comment.MaxWebsiteBytes {
		c.AuthorWebsite, cut = "", true
	}
	c.Page.Title, _ = importer.FitLine(c.Page.Title, comment.MaxPageTitleBytes)
	if strings.TrimSpace(body) == "" {
		c.Skip = "empty"
		return c, false, nil
	}
	if len(body) > comment.MaxBodyBytes {
		return c, false, fmt.Errorf("comment %s: the body is longer than %d bytes", c.ID, comment.MaxBodyBytes)
	}
	if err := importer.CheckPage(c.Page.Key, c.Page.Title); err != nil {
		return c, false, fmt.Errorf("comment %s: %w", c.ID, err)
	}
	return c, cut, nil
}

// resolve decides the parent and depth of the comment with source id id: a
// reply whose parent is not imported (absent, skipped, on another page, or
// in a loop of parents) becomes top-level; a reply below a parent at
// comment.MaxDepth goes under that parent's ancestor one level higher, so
// that it sits at MaxDepth.
func (p *foreignPlan) resolve(id string) *foreignNode {
	n := p.nodes[id]
	if n.depth > 0 {
		return n
	}
	n.visiting = true
	defer func() { n.visiting = false }()
	n.depth = 1
	if n.parent == "" {
		return n
	}
	par, ok := p.nodes[n.parent]
	if !ok || par.page != n.page || par.visiting {
		p.summary.orphans++
		return n
	}
	par = p.resolve(n.parent)
	eff := n.parent
	if par.depth >= comment.MaxDepth {
		for par.depth >= comment.MaxDepth {
			eff = par.eff
			par = p.nodes[eff]
		}
		p.summary.reparented++
	}
	n.eff, n.depth = eff, par.depth+1
	return n
}

// storedCount returns how many of ids are comment ids in the database.
func storedCount(ctx context.Context, store comment.Store, ids []string) (int, error) {
	n := 0
	for part := range slices.Chunk(ids, exportPageSize) {
		found, err := store.CommentsByID(ctx, part)
		if err != nil {
			return 0, fmt.Errorf("look up comment ids: %w", err)
		}
		n += len(found)
	}
	return n, nil
}

// foreignBody returns the Markdown body of c. Control characters of the
// body, which the API refuses, become U+FFFD.
func foreignBody(c foreignComment, ws importer.Whitespace) string {
	body := c.Content
	if !c.Markdown {
		body = importer.Markdown(body, ws)
	}
	return importer.CleanBody(body)
}

// loadForeign loads the comments of the planned file into siteID, after
// checking that the site exists (or is declared in cfg) and that none of
// the comments' ids is in the database. A comment's id is the commentd_id
// the file records (commentd's own export), else importer.ID of the
// source's id. Each page gets the first address its comments give that
// lies on the site's origins.
func loadForeign(ctx context.Context, store comment.Store, cfg config.Config, siteID, path string, src foreignSource, render *markup.Renderer, p *foreignPlan) error {
	loader, ok := store.(comment.BulkLoader)
	if !ok {
		return errors.New("this store cannot bulk load")
	}
	site, err := store.Site(ctx, siteID)
	declare := false
	if errors.Is(err, comment.ErrNotFound) {
		i := slices.IndexFunc(cfg.Sites, func(s config.Site) bool { return s.ID == siteID })
		if i < 0 {
			return fmt.Errorf("site %s does not exist: declare it in the configuration (sites) first", siteID)
		}
		s := cfg.Sites[i]
		lim := cfg.RateLimit
		if s.RateLimit != nil {
			lim = *s.RateLimit
		}
		site = comment.Site{ID: s.ID, Name: s.Name, Origins: s.Origins, RateLimit: comment.RateLimit{Every: lim.Every, Burst: lim.Burst}}
		declare = true
	} else if err != nil {
		return err
	}

	ids := make([]string, 0, len(p.order))
	for _, sid := range p.order {
		n := p.nodes[sid]
		n.id = n.keep
		if n.id == "" {
			n.id = importer.ID(n.at, siteID, src.name, sid)
		}
		ids = append(ids, n.id)
	}
	if n, err := storedCount(ctx, store, ids); err != nil {
		return err
	} else if n > 0 {
		return fmt.Errorf("%d comments of the file are in the database already (was it imported into site %s before, or exported from this database?); nothing was imported", n, siteID)
	}

	keys := make([]string, 0, len(p.pages))
	for k := range p.pages {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	pages := make([]comment.Page, 0, len(keys))
	for _, k := range keys {
		pg := p.pages[k]
		// As for submissions, a page's address is kept only when it lies
		// on one of the site's origins: the first such address of the
		// file's comments on the page.
		u := ""
		for i, raw := range pg.urls {
			if ok := site.ReturnURL(raw); ok != "" {
				if u == "" {
					u = ok
				}
			} else if raw != "" {
				p.summary.offOrigin += pg.counts[i]
			}
		}
		pages = append(pages, comment.Page{SiteID: siteID, Key: k, URL: u, Title: pg.title})
	}

	if declare {
		if err := store.UpsertSite(ctx, site); err != nil {
			return fmt.Errorf("declare site %s: %w", siteID, err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	err = loadParentsFirst(ctx, loader, pages, func(put func(comment.Comment) error) error {
		return src.read(bufio.NewReaderSize(f, 64<<10), func(fc foreignComment) error {
			n, ok := p.nodes[fc.ID]
			if fc.Skip != "" || !ok {
				return nil
			}
			body := foreignBody(fc, src.ws)
			fc, _, err := fitForeign(fc, body)
			if err != nil {
				return err
			}
			h, err := render.Render(body)
			if err != nil {
				return fmt.Errorf("comment %s: %w", fc.ID, err)
			}
			if fc.Skip != "" || fc.Page.Key != n.page || !fc.CreatedAt.Equal(n.at) {
				return fmt.Errorf("%w: comment %s differs", errFileChanged, fc.ID)
			}
			c := comment.Comment{
				ID: n.id, SiteID: siteID, PageKey: n.page, Depth: n.depth,
				AuthorName: fc.AuthorName, AuthorEmail: fc.AuthorEmail, AuthorWebsite: fc.AuthorWebsite,
				Body: body, BodyHTML: h, Status: fc.Status, IP: fc.IP, UserAgent: fc.UserAgent,
				CreatedAt: fc.CreatedAt.UTC(), UpdatedAt: fc.CreatedAt.UTC(),
			}
			if n.eff != "" {
				c.ParentID = p.nodes[n.eff].id
			}
			return put(c)
		})
	})
	if errors.Is(err, comment.ErrConflict) {
		return fmt.Errorf("some comments of the file were written to the database during the import: %w", err)
	}
	return err
}

// wxrNamespaces are the wp: namespaces of the WXR versions import reads.
var wxrNamespaces = []string{
	"http://wordpress.org/export/1.0/",
	"http://wordpress.org/export/1.1/",
	"http://wordpress.org/export/1.2/",
}

type wxrMeta struct {
	Key   string `xml:"meta_key"`
	Value string `xml:"meta_value"`
}

type wxrComment struct {
	ID       string    `xml:"comment_id"`
	Author   string    `xml:"comment_author"`
	Email    string    `xml:"comment_author_email"`
	URL      string    `xml:"comment_author_url"`
	IP       string    `xml:"comment_author_IP"`
	Date     string    `xml:"comment_date"`
	DateGMT  string    `xml:"comment_date_gmt"`
	Content  string    `xml:"comment_content"`
	Approved string    `xml:"comment_approved"`
	Type     string    `xml:"comment_type"`
	Parent   string    `xml:"comment_parent"`
	Meta     []wxrMeta `xml:"commentmeta"`
}

type wxrItem struct {
	Title       string       `xml:"title"`
	Link        string       `xml:"link"`
	PostID      string       `xml:"post_id"`
	PostDate    string       `xml:"post_date"`
	PostDateGMT string       `xml:"post_date_gmt"`
	Status      string       `xml:"status"`
	Password    string       `xml:"post_password"`
	Meta        []wxrMeta    `xml:"postmeta"`
	Comments    []wxrComment `xml:"comment"`
}

// Meta keys of commentd's own WordPress export.
const (
	metaPageKey   = "commentd_page_key"   // postmeta: the page's key in commentd
	metaMarkdown  = "commentd_markdown"   // commentmeta "1": the content is commentd Markdown
	metaUserAgent = "commentd_user_agent" // commentmeta: the user agent stored with the comment
	metaID        = "commentd_id"         // commentmeta: the comment's id in commentd
	metaStatus    = "commentd_status"     // commentmeta: the comment's status in commentd
)

func metaValue(m []wxrMeta, key string) (string, bool) {
	for _, x := range m {
		if x.Key == key {
			return x.Value, true
		}
	}
	return "", false
}

// wxrTime is the layout of WXR dates.
const wxrTime = "2006-01-02 15:04:05"

// readWXR reads a WordPress export (WXR 1.0 to 1.2) as foreignSource.read
// describes: every wp:comment of every item.
func readWXR(r io.Reader, fn func(foreignComment) error) error {
	dec := xml.NewDecoder(r)
	dec.Entity = xml.HTMLEntity
	dec.CharsetReader = charset.NewReaderLabel
	sawRSS := false
	rssSpace := ""
	items := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("malformed XML: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if !sawRSS {
			if se.Name.Local != "rss" {
				return fmt.Errorf("the document is a <%s>, not a WordPress export (WXR <rss>)", se.Name.Local)
			}
			ns := ""
			for _, a := range se.Attr {
				if a.Name.Space == "xmlns" && a.Name.Local == "wp" {
					ns = a.Value
				}
			}
			if !slices.Contains(wxrNamespaces, ns) {
				return fmt.Errorf("wp namespace %q is not one of WXR 1.0 to 1.2 (%s)", ns, strings.Join(wxrNamespaces, ", "))
			}
			sawRSS, rssSpace = true, se.Name.Space
			continue
		}
		// RSS elements have no namespace, or the default namespace the
		// <rss> element declares.
		if se.Name.Local != "item" || (se.Name.Space != "" && se.Name.Space != rssSpace) {
			continue
		}
		items++
		line, _ := dec.InputPos()
		var item wxrItem
		if err := dec.DecodeElement(&item, &se); err != nil {
			return fmt.Errorf("malformed item at line %d: %w", line, err)
		}
		page, err := wxrPage(item)
		if err != nil {
			return fmt.Errorf("item at line %d: %w", line, err)
		}
		// A comment visible on a post that is not public must not become
		// public here.
		hidden := strings.TrimSpace(item.Status) != "publish" || item.Password != ""
		zone := wxrZone(item)
		for _, wc := range item.Comments {
			c, err := wxrForeign(wc, page, hidden, zone)
			if err != nil {
				return fmt.Errorf("item at line %d: %w", line, err)
			}
			if err := fn(c); err != nil {
				return err
			}
		}
	}
	if !sawRSS {
		return errors.New("the file is empty")
	}
	if items == 0 {
		return errors.New("the file has no <item> of an RSS channel: not a WordPress export, or one without posts")
	}
	return nil
}

// wxrOffset is a pair of a local time and the same instant in UTC that a
// WXR item gives, from which a comment's local time can be read.
type wxrOffset struct {
	local  time.Time // the local wall time, read as UTC
	offset time.Duration
}

// wxrZone returns the offsets from UTC that item shows: that of its post
// date, and that of each comment with both its local and its GMT date.
func wxrZone(item wxrItem) []wxrOffset {
	var zone []wxrOffset
	add := func(local, gmt string) {
		l, err1 := wxrDate(local)
		g, err2 := wxrDate(gmt)
		if err1 == nil && err2 == nil && !l.IsZero() && !g.IsZero() {
			zone = append(zone, wxrOffset{local: l, offset: l.Sub(g)})
		}
	}
	add(item.PostDate, item.PostDateGMT)
	for _, c := range item.Comments {
		add(c.Date, c.DateGMT)
	}
	return zone
}

// wxrLocal returns the instant of local, a wall time of the blog read as
// UTC, with the offset of the zone entry nearest to it (so that a change
// to or from summer time between entries costs least). ok is false when
// zone is empty.
func wxrLocal(local time.Time, zone []wxrOffset) (time.Time, bool) {
	if len(zone) == 0 {
		return local, false
	}
	best := zone[0]
	for _, z := range zone[1:] {
		if z.local.Sub(local).Abs() < best.local.Sub(local).Abs() {
			best = z
		}
	}
	return local.Add(-best.offset), true
}

// wxrPage returns the page of an item: its key is the path of its link (what
// the widget uses when a page names none) unless commentd's export recorded
// the key.
func wxrPage(item wxrItem) (comment.Page, error) {
	link := strings.TrimSpace(item.Link)
	p := comment.Page{URL: link, Title: strings.TrimSpace(item.Title)}
	if k, ok := metaValue(item.Meta, metaPageKey); ok && k != "" {
		p.Key = k
		return p, nil
	}
	if link != "" {
		u, err := url.Parse(link)
		if err != nil {
			return p, fmt.Errorf("link %q: %w", link, err)
		}
		p.Key = pageKeyOf(u)
		return p, nil
	}
	if item.PostID != "" && len(item.Comments) > 0 {
		// No link: the address WordPress answers without permalinks.
		p.Key = "/?p=" + strings.TrimSpace(item.PostID)
		return p, nil
	}
	if len(item.Comments) > 0 {
		return p, errors.New("the item has comments but neither a link nor a post id")
	}
	return p, nil
}

// pageKeyOf returns the page key of a post's address: its path, as the
// widget's default (location.pathname) has it. An address whose path is
// "/" or empty keeps its query too ("/?p=11"), so that the posts of a blog
// without pretty permalinks stay apart; such pages need an explicit page
// key (data-page) in the widget.
func pageKeyOf(u *url.URL) string {
	key := u.EscapedPath()
	if key == "" {
		key = "/"
	}
	if key == "/" && u.RawQuery != "" {
		key += "?" + u.RawQuery
	}
	return key
}

// wxrForeign converts one wp:comment of a post that is not public when
// hidden, and whose local times have the offsets zone.
func wxrForeign(wc wxrComment, page comment.Page, hidden bool, zone []wxrOffset) (foreignComment, error) {
	id := strings.TrimSpace(wc.ID)
	markdown := false
	if v, _ := metaValue(wc.Meta, metaMarkdown); v == "1" {
		markdown = true
	}
	name := strings.TrimSpace(wc.Author)
	if !markdown {
		// WordPress stores comment_author HTML-escaped (Tom &amp; Jerry);
		// commentd's own export does not.
		name = html.UnescapeString(name)
	}
	c := foreignComment{
		ID:            id,
		Page:          page,
		AuthorName:    name,
		AuthorEmail:   strings.TrimSpace(wc.Email),
		AuthorWebsite: importer.WebURL(wc.URL),
		IP:            ipAddr(wc.IP),
		Content:       wc.Content,
	}
	if p := strings.TrimSpace(wc.Parent); p != "" && p != "0" {
		c.ParentID = p
	}
	at, err := wxrDate(wc.DateGMT)
	if err == nil && at.IsZero() {
		// No GMT date: the local one, at the offset the post or the other
		// comments show, else read as UTC.
		at, err = wxrDate(wc.Date)
		if err == nil && !at.IsZero() {
			var ok bool
			at, ok = wxrLocal(at, zone)
			c.AssumedUTC = !ok
		}
	}
	if err != nil {
		return c, fmt.Errorf("comment %s: %w", id, err)
	}
	c.CreatedAt = at
	switch t := strings.TrimSpace(wc.Type); t {
	case "", "comment":
	case "pingback", "trackback":
		c.Skip = t
	default:
		c.Skip = "comment of type " + t
	}
	switch a := strings.TrimSpace(wc.Approved); a {
	case "1", "approve", "approved":
		c.Status = comment.StatusApproved
	case "0", "hold":
		c.Status = comment.StatusPending
	case "spam":
		c.Status = comment.StatusSpam
	case "trash", "post-trashed":
		c.Status = comment.StatusDeleted
	default:
		c.Status = comment.Status("comment_approved " + a)
	}
	c.Markdown = markdown
	if v, ok := metaValue(wc.Meta, metaUserAgent); ok {
		c.UserAgent = v
	}
	// commentd's own export: the comment's id and exact status (WXR has
	// no "rejected").
	if v, ok := metaValue(wc.Meta, metaStatus); ok {
		c.Status = comment.Status(strings.TrimSpace(v))
		if !c.Status.Valid() {
			c.Status = comment.Status("commentd_status " + v)
		}
	}
	if v, ok := metaValue(wc.Meta, metaID); ok {
		v = strings.TrimSpace(v)
		if v == "" || len(v) > maxKeptIDBytes || !comment.CleanText(v, false) {
			return c, fmt.Errorf("comment %s: commentd_id %q is not an id", id, v)
		}
		c.KeepID = v
	}
	if hidden && c.Status == comment.StatusApproved {
		c.Status, c.Unpublished = comment.StatusPending, true
	}
	if c.AuthorName == "" {
		c.AuthorName = "Anonymous"
	}
	return c, nil
}

// maxKeptIDBytes is the longest commentd_id import accepts, the longest
// parent id the API accepts.
const maxKeptIDBytes = 64

// wxrDate parses a WXR date as UTC; WordPress's "no date" gives the zero
// time.
func wxrDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "0000-00-00") {
		return time.Time{}, nil
	}
	t, err := time.Parse(wxrTime, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q is not YYYY-MM-DD HH:MM:SS", s)
	}
	return t, nil
}

// ipAddr returns s when it is an IP address, else "".
func ipAddr(s string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return a.String()
}

// exportWordPressCommand runs "export wordpress SITE".
func exportWordPressCommand(ctx context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("export wordpress", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	configPath := configFlag(fs, e)
	out := outFlag(fs)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("usage: commentd export wordpress SITE [--out FILE] [--config FILE]: " + exportPrivacyNote)
	}
	cfg, err := config.Load(*configPath, e.lookup)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	err = writeOutput(*out, e.stdout, func(w io.Writer) error { return exportWordPress(ctx, store, rest[0], w) })
	if err != nil {
		return fmt.Errorf("export wordpress %s: %w", rest[0], err)
	}
	return nil
}

// wxrStatus is the comment_approved value of each status.
var wxrStatus = map[comment.Status]string{
	comment.StatusPending:  "0",
	comment.StatusApproved: "1",
	comment.StatusSpam:     "spam",
	comment.StatusRejected: "trash",
	comment.StatusDeleted:  "trash",
}

// exportWordPress writes the site as a WXR 1.2 document to w: one post per
// page, with every comment of the page in every status. It reads the
// comments twice, a page of one status at a time: first to learn the pages
// and when each was first commented on, then page by page. Comment ids are
// numbered 1, 2, ... in the order written; only the numbers of one page are
// kept in memory.
func exportWordPress(ctx context.Context, store comment.Store, siteID string, w io.Writer) error {
	site, err := store.Site(ctx, siteID)
	if err != nil {
		return err
	}
	first := make(map[string]time.Time)
	var refs []comment.PageRef
	for c, err := range siteComments(ctx, store, comment.ListFilter{SiteIDs: []string{siteID}}) {
		if err != nil {
			return err
		}
		if _, ok := first[c.PageKey]; !ok {
			first[c.PageKey] = c.CreatedAt
			refs = append(refs, comment.PageRef{SiteID: siteID, Key: c.PageKey})
		}
	}
	pages, err := store.PagesByRef(ctx, refs)
	if err != nil {
		return err
	}
	slices.SortFunc(refs, func(a, b comment.PageRef) int { return strings.Compare(a.Key, b.Key) })

	x := &xmlWriter{w: w}
	link := ""
	if len(site.Origins) > 0 {
		link = site.Origins[0]
	}
	x.raw(`<?xml version="1.0" encoding="UTF-8"?>
<!-- Comments of a commentd site as a WordPress eXtended RSS (WXR 1.2) file.
     Comment contents are commentd Markdown, marked by the comment meta commentd_markdown;
     commentd_id and commentd_status keep each comment's id and exact status.
     This file holds private data: the email address, IP address and user agent of each
     comment's author. Keep it as private as the database. -->
<rss version="2.0"
	xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:wfw="http://wellformedweb.org/CommentAPI/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:wp="http://wordpress.org/export/1.2/"
>
<channel>
`)
	x.elem("\t", "title", site.Name)
	x.elem("\t", "link", link)
	x.elem("\t", "description", "")
	x.elem("\t", "language", "")
	x.elem("\t", "wp:wxr_version", "1.2")
	x.elem("\t", "wp:base_site_url", link)
	x.elem("\t", "wp:base_blog_url", link)
	x.elem("\t", "generator", "commentd")

	next := 1
	for i, ref := range refs {
		p, ok := pages[ref]
		if !ok {
			p = comment.Page{Key: ref.Key}
		}
		plink := p.URL
		if plink == "" {
			plink = p.Key
		}
		at := first[ref.Key].UTC()
		x.raw("\t<item>\n")
		x.elem("\t\t", "title", p.Title)
		x.elem("\t\t", "link", plink)
		x.elem("\t\t", "pubDate", at.Format(time.RFC1123Z))
		x.raw("\t\t<guid isPermaLink=\"false\">" + escapeXML("commentd:"+siteID+":"+p.Key) + "</guid>\n")
		x.elem("\t\t", "description", "")
		x.elem("\t\t", "content:encoded", "")
		x.elem("\t\t", "excerpt:encoded", "")
		x.elem("\t\t", "wp:post_id", strconv.Itoa(i+1))
		x.elem("\t\t", "wp:post_date", at.Format(wxrTime))
		x.elem("\t\t", "wp:post_date_gmt", at.Format(wxrTime))
		x.elem("\t\t", "wp:comment_status", "open")
		x.elem("\t\t", "wp:ping_status", "closed")
		x.elem("\t\t", "wp:post_name", postName(p.Key, i+1))
		x.elem("\t\t", "wp:status", "publish")
		x.elem("\t\t", "wp:post_parent", "0")
		x.elem("\t\t", "wp:menu_order", "0")
		x.elem("\t\t", "wp:post_type", "post")
		x.elem("\t\t", "wp:post_password", "")
		x.elem("\t\t", "wp:is_sticky", "0")
		x.raw("\t\t<wp:postmeta>\n")
		x.elem("\t\t\t", "wp:meta_key", metaPageKey)
		x.elem("\t\t\t", "wp:meta_value", p.Key)
		x.raw("\t\t</wp:postmeta>\n")

		numbers := make(map[string]int)
		number := func(id string) int {
			n, ok := numbers[id]
			if !ok {
				n = next
				next++
				numbers[id] = n
			}
			return n
		}
		for c, err := range siteComments(ctx, store, comment.ListFilter{SiteIDs: []string{siteID}, PageKey: ref.Key}) {
			if err != nil {
				return err
			}
			parent := 0
			if c.ParentID != "" {
				parent = number(c.ParentID)
			}
			ct := c.CreatedAt.UTC().Format(wxrTime)
			x.raw("\t\t<wp:comment>\n")
			x.elem("\t\t\t", "wp:comment_id", strconv.Itoa(number(c.ID)))
			x.elem("\t\t\t", "wp:comment_author", c.AuthorName)
			x.elem("\t\t\t", "wp:comment_author_email", c.AuthorEmail)
			x.elem("\t\t\t", "wp:comment_author_url", c.AuthorWebsite)
			x.elem("\t\t\t", "wp:comment_author_IP", c.IP)
			x.elem("\t\t\t", "wp:comment_date", ct)
			x.elem("\t\t\t", "wp:comment_date_gmt", ct)
			x.elem("\t\t\t", "wp:comment_content", c.Body)
			x.elem("\t\t\t", "wp:comment_approved", wxrStatus[c.Status])
			x.elem("\t\t\t", "wp:comment_type", "comment")
			x.elem("\t\t\t", "wp:comment_parent", strconv.Itoa(parent))
			x.elem("\t\t\t", "wp:comment_user_id", "0")
			x.meta(metaMarkdown, "1")
			x.meta(metaID, c.ID)
			x.meta(metaStatus, string(c.Status))
			if c.UserAgent != "" {
				x.meta(metaUserAgent, c.UserAgent)
			}
			x.raw("\t\t</wp:comment>\n")
		}
		x.raw("\t</item>\n")
		if x.err != nil {
			return x.err
		}
	}
	x.raw("</channel>\n</rss>\n")
	return x.err
}

// xmlWriter writes XML text, keeping the first error.
type xmlWriter struct {
	w   io.Writer
	err error
}

func (x *xmlWriter) raw(s string) {
	if x.err == nil {
		_, x.err = io.WriteString(x.w, s)
	}
}

// elem writes <name>text</name> on a line of its own.
func (x *xmlWriter) elem(indent, name, text string) {
	x.raw(indent + "<" + name + ">" + escapeXML(text) + "</" + name + ">\n")
}

func (x *xmlWriter) meta(key, value string) {
	x.raw("\t\t\t<wp:commentmeta>\n")
	x.elem("\t\t\t\t", "wp:meta_key", key)
	x.elem("\t\t\t\t", "wp:meta_value", value)
	x.raw("\t\t\t</wp:commentmeta>\n")
}

// escapeXML escapes s for XML text or attribute values; characters XML
// cannot hold become U+FFFD.
func escapeXML(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

var slugJunk = regexp.MustCompile(`[^a-z0-9%]+`)

// postName is a WordPress slug for the page with key: the last segment of
// its path, lower-cased and percent-encoded as WordPress keeps non-ASCII
// slugs, or "page-N".
func postName(key string, n int) string {
	seg := key
	if u, err := url.Parse(key); err == nil {
		seg = u.EscapedPath()
	}
	parts := strings.FieldsFunc(seg, func(r rune) bool { return r == '/' })
	slug := ""
	if len(parts) > 0 {
		slug = strings.Trim(slugJunk.ReplaceAllString(strings.ToLower(parts[len(parts)-1]), "-"), "-")
	}
	if slug == "" {
		return "page-" + strconv.Itoa(n)
	}
	return slug
}
