// Package comment holds commentd's domain: sites, pages, comments, their
// statuses and the errors the use cases return. It imports no framework and
// no database driver; every other package depends inward on it.
package comment

import (
	"net/url"
	"time"
)

// Status is where a comment stands in moderation. Only StatusApproved is ever
// shown to the public.
type Status string

// The statuses a comment can have.
const (
	StatusPending  Status = "pending"
	StatusApproved Status = "approved"
	StatusRejected Status = "rejected"
	StatusSpam     Status = "spam"
	StatusDeleted  Status = "deleted"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusApproved, StatusRejected, StatusSpam, StatusDeleted:
		return true
	}
	return false
}

// MaxDepth is the deepest a reply may nest: a top-level comment has depth 1,
// and a reply to a comment at MaxDepth is refused.
const MaxDepth = 5

// RateLimit is one GCRA limit: Burst submissions at once, then one per Every.
type RateLimit struct {
	Every time.Duration
	Burst int
}

// Site is a tenant: one blog or publication that embeds commentd.
type Site struct {
	ID        string
	Name      string
	Origins   []string // allowed origins for CORS, embedding and redirects, e.g. "https://blog.example"
	RateLimit RateLimit
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AllowsOrigin reports whether origin (scheme://host[:port]) is one of the
// site's allowed origins.
func (s Site) AllowsOrigin(origin string) bool {
	for _, o := range s.Origins {
		if o == origin {
			return true
		}
	}
	return false
}

// ReturnURL returns pageURL without its fragment when it is an absolute
// http(s) URL on one of the site's origins, and "" otherwise. Only such URLs
// are stored as a page's address or used to send a reader back after a form
// post, so that neither can point somewhere the site owner does not control.
func (s Site) ReturnURL(pageURL string) string {
	if pageURL == "" {
		return ""
	}
	u, err := url.Parse(pageURL)
	if err != nil || u.User != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	if !s.AllowsOrigin(u.Scheme + "://" + u.Host) {
		return ""
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// Page is an article page of a site, identified by its key (usually the
// canonical path).
type Page struct {
	SiteID string
	Key    string
	URL    string
	Title  string
}

// Reason records one rule that fired when a comment was judged, and what it
// matched, so that moderators can see why a comment was held.
type Reason struct {
	Rule   string `json:"rule"`
	Detail string `json:"detail"`
}

// Comment is the whole stored comment, private fields included. It must never
// be rendered to the public; use Public for that.
type Comment struct {
	ID            string // opaque, time-ordered (UUIDv7)
	SiteID        string
	PageKey       string
	ParentID      string // empty for a top-level comment
	Depth         int    // 1 for a top-level comment
	AuthorName    string
	AuthorEmail   string // private
	AuthorWebsite string
	Body          string // Markdown source as submitted
	BodyHTML      string // rendered and sanitised
	Status        Status
	IP            string // private
	UserAgent     string // private
	Reasons       []Reason
	// NotifyReplies: the author asked to be emailed when a reply to this
	// comment is approved. It is set only when the site offers reply
	// notifications; mail goes out only once the author has confirmed the
	// address for the site (see ReaderStore).
	NotifyReplies bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Event is one entry of a comment's moderation history.
type Event struct {
	CommentID  string
	Actor      string // who acted: "system" at submission, or a moderator's name
	Action     string // "submit", "approve", "reject", "spam", ...
	FromStatus Status // empty for the submission itself
	ToStatus   Status
	At         time.Time
}

// PublicAuthor is what the public may know of a comment's author.
type PublicAuthor struct {
	Name    string
	Website string
}

// Public is the view of a comment that may be shown to anyone. It has no
// email, IP or user-agent field, so that such a leak cannot be written.
type Public struct {
	ID        string
	ParentID  string
	Author    PublicAuthor
	BodyHTML  string
	CreatedAt time.Time
	Replies   []*Public
}

// PublicView returns the public view of c, without replies.
func (c Comment) PublicView() *Public {
	return &Public{
		ID:        c.ID,
		ParentID:  c.ParentID,
		Author:    PublicAuthor{Name: c.AuthorName, Website: c.AuthorWebsite},
		BodyHTML:  c.BodyHTML,
		CreatedAt: c.CreatedAt,
	}
}

// Thread is the approved discussion of one page, replies nested.
type Thread struct {
	PageKey  string
	Total    int
	Comments []*Public
}
