package main

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/html/charset"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/importer"
)

var disqusSource = foreignSource{
	name:  "disqus",
	usage: "usage: commentd import disqus FILE.xml --site SITE [--config FILE]",
	ws:    importer.CollapseWhitespace,
	read:  readDisqus,
}

// disqusInternals is the namespace of Disqus's own ids (dsq:id).
const disqusInternals = "http://disqus.com/disqus-internals"

type dsqRef struct {
	Attrs []xml.Attr `xml:",any,attr"`
	Text  string     `xml:",chardata"`
}

// dsqID returns the dsq:id attribute of an element.
func dsqID(attrs []xml.Attr) string {
	for _, a := range attrs {
		if a.Name.Local == "id" && (a.Name.Space == disqusInternals || a.Name.Space == "dsq") {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

type dsqThread struct {
	Attrs      []xml.Attr `xml:",any,attr"`
	Identifier string     `xml:"id"`
	Link       string     `xml:"link"`
	Title      string     `xml:"title"`
}

type dsqPost struct {
	Attrs      []xml.Attr `xml:",any,attr"`
	Message    string     `xml:"message"`
	CreatedAt  string     `xml:"createdAt"`
	IsDeleted  string     `xml:"isDeleted"`
	IsSpam     string     `xml:"isSpam"`
	IsApproved string     `xml:"isApproved"`
	IP         string     `xml:"ipAddress"`
	Author     struct {
		Name        string `xml:"name"`
		Email       string `xml:"email"`
		Username    string `xml:"username"`
		IsAnonymous string `xml:"isAnonymous"`
		Link        string `xml:"link"`
	} `xml:"author"`
	Thread dsqRef  `xml:"thread"`
	Parent *dsqRef `xml:"parent"`
}

// readDisqus reads a Disqus export as foreignSource.read describes: every
// post, on the page of its thread. Threads come before the posts that
// refer to them, as Disqus writes them.
func readDisqus(r io.Reader, fn func(foreignComment) error) error {
	dec := xml.NewDecoder(r)
	dec.Entity = xml.HTMLEntity
	dec.CharsetReader = charset.NewReaderLabel
	threads := make(map[string]comment.Page)
	sawRoot := false
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
		if !sawRoot {
			if se.Name.Local != "disqus" {
				return fmt.Errorf("the document is a <%s>, not a Disqus export (<disqus>)", se.Name.Local)
			}
			sawRoot = true
			continue
		}
		line, _ := dec.InputPos()
		switch se.Name.Local {
		case "thread":
			var t dsqThread
			if err := dec.DecodeElement(&t, &se); err != nil {
				return fmt.Errorf("malformed thread at line %d: %w", line, err)
			}
			id := dsqID(t.Attrs)
			if id == "" {
				return fmt.Errorf("thread at line %d has no dsq:id", line)
			}
			threads[id] = disqusPage(t, id)
		case "post":
			var p dsqPost
			if err := dec.DecodeElement(&p, &se); err != nil {
				return fmt.Errorf("malformed post at line %d: %w", line, err)
			}
			c, err := disqusForeign(p, threads)
			if err != nil {
				return fmt.Errorf("post at line %d: %w", line, err)
			}
			if err := fn(c); err != nil {
				return err
			}
		default:
			// Categories and anything else: not needed.
			if err := dec.Skip(); err != nil {
				return fmt.Errorf("malformed XML: %w", err)
			}
		}
	}
	if !sawRoot {
		return errors.New("the file is empty")
	}
	return nil
}

// disqusPage returns the page of a thread: its key is the path of its link,
// else its identifier, else its Disqus id.
func disqusPage(t dsqThread, id string) comment.Page {
	link := strings.TrimSpace(t.Link)
	p := comment.Page{URL: link, Title: strings.TrimSpace(t.Title)}
	if u, err := url.Parse(link); err == nil && link != "" {
		p.Key = pageKeyOf(u)
		return p
	}
	if k := strings.TrimSpace(t.Identifier); k != "" {
		p.Key = k
		return p
	}
	p.Key = "disqus-thread-" + id
	return p
}

// disqusForeign converts one post.
func disqusForeign(p dsqPost, threads map[string]comment.Page) (foreignComment, error) {
	id := dsqID(p.Attrs)
	if id == "" {
		return foreignComment{}, errors.New("the post has no dsq:id")
	}
	tid := dsqID(p.Thread.Attrs)
	if tid == "" {
		tid = strings.TrimSpace(p.Thread.Text)
	}
	page, ok := threads[tid]
	if !ok {
		return foreignComment{}, fmt.Errorf("post %s: thread %q is not declared before it", id, tid)
	}
	c := foreignComment{
		ID:            id,
		Page:          page,
		AuthorName:    strings.TrimSpace(p.Author.Name),
		AuthorEmail:   strings.TrimSpace(p.Author.Email),
		AuthorWebsite: importer.WebURL(p.Author.Link),
		IP:            ipAddr(p.IP),
		Content:       p.Message,
	}
	if c.AuthorName == "" {
		c.AuthorName = strings.TrimSpace(p.Author.Username)
	}
	if c.AuthorName == "" {
		c.AuthorName = "Anonymous"
	}
	if p.Parent != nil {
		c.ParentID = dsqID(p.Parent.Attrs)
		if c.ParentID == "" {
			c.ParentID = strings.TrimSpace(p.Parent.Text)
		}
	}
	at, err := disqusTime(p.CreatedAt)
	if err != nil {
		return c, fmt.Errorf("post %s: %w", id, err)
	}
	c.CreatedAt = at
	spam, err := disqusBool(p.IsSpam, false)
	if err != nil {
		return c, fmt.Errorf("post %s: isSpam: %w", id, err)
	}
	deleted, err := disqusBool(p.IsDeleted, false)
	if err != nil {
		return c, fmt.Errorf("post %s: isDeleted: %w", id, err)
	}
	approved, err := disqusBool(p.IsApproved, true)
	if err != nil {
		return c, fmt.Errorf("post %s: isApproved: %w", id, err)
	}
	switch {
	case spam:
		c.Status = comment.StatusSpam
	case deleted:
		c.Status = comment.StatusDeleted
	case !approved:
		c.Status = comment.StatusPending
	default:
		c.Status = comment.StatusApproved
	}
	return c, nil
}

func disqusBool(s string, absent bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return absent, nil
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is neither true nor false", s)
}

// disqusTime parses createdAt: RFC 3339, or without a zone, then UTC.
func disqusTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("createdAt %q is not a date", s)
}
