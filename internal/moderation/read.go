package moderation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// Thread returns the approved comments of a page as a tree, oldest first,
// replies nested under their parents. A reply whose parent is no longer
// approved is shown at the top level rather than hidden. It returns
// comment.ErrNotFound for an unknown site; an unknown page is an empty thread.
func (s *Service) Thread(ctx context.Context, siteID, pageKey string) (comment.Thread, error) {
	if _, err := s.site(ctx, siteID); err != nil {
		return comment.Thread{}, fmt.Errorf("thread of site %q: %w", siteID, err)
	}
	start := time.Now()
	list, err := s.store.Approved(ctx, siteID, pageKey)
	s.storeCall("thread", start)
	if err != nil {
		return comment.Thread{}, fmt.Errorf("thread of site %q: %w", siteID, err)
	}
	return buildThread(pageKey, list), nil
}

// buildThread nests list, which is ordered oldest first (so a parent always
// comes before its replies).
func buildThread(pageKey string, list []comment.Comment) comment.Thread {
	t := comment.Thread{PageKey: pageKey, Total: len(list), Comments: []*comment.Public{}}
	byID := make(map[string]*comment.Public, len(list))
	for _, c := range list {
		p := c.PublicView()
		p.Replies = []*comment.Public{}
		byID[c.ID] = p
		if parent, ok := byID[c.ParentID]; ok && c.ParentID != "" {
			parent.Replies = append(parent.Replies, p)
			continue
		}
		t.Comments = append(t.Comments, p)
	}
	return t
}

// Counts returns the number of approved comments of each page in pageKeys,
// zero included. It returns comment.ErrNotFound for an unknown site.
func (s *Service) Counts(ctx context.Context, siteID string, pageKeys []string) (map[string]int, error) {
	if _, err := s.site(ctx, siteID); err != nil {
		return nil, fmt.Errorf("counts of site %q: %w", siteID, err)
	}
	start := time.Now()
	counts, err := s.store.CountApproved(ctx, siteID, pageKeys)
	s.storeCall("counts", start)
	if err != nil {
		return nil, fmt.Errorf("counts of site %q: %w", siteID, err)
	}
	out := make(map[string]int, len(pageKeys))
	for _, k := range pageKeys {
		out[k] = counts[k]
	}
	return out, nil
}

// Site returns the site with id, or comment.ErrNotFound.
func (s *Service) Site(ctx context.Context, id string) (comment.Site, error) {
	return s.site(ctx, id)
}

// SitesFor returns the sites p may moderate, ordered by id: every site for
// an administrator.
func (s *Service) SitesFor(ctx context.Context, p comment.Principal) ([]comment.Site, error) {
	if p.Admin {
		return s.store.Sites(ctx)
	}
	var out []comment.Site
	for _, id := range p.SiteIDs() {
		site, err := s.store.Site(ctx, id)
		if errors.Is(err, comment.ErrNotFound) {
			continue // a grant can outlive its site's declaration
		}
		if err != nil {
			return nil, fmt.Errorf("site %q: %w", id, err)
		}
		out = append(out, site)
	}
	return out, nil
}
