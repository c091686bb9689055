package comment

import (
	"context"
	"time"
)

// RulesDoc is a site's spam rule set as stored: the settings as an opaque
// JSON document (internal/spam gives it meaning) and a version that every
// change to the settings or to the site's lists increments, so that two
// owners editing at once cannot silently overwrite each other and caches
// know when to reload.
type RulesDoc struct {
	SiteID    string
	Version   int    // 0: the site has never saved rules
	Settings  []byte // JSON; empty when Version is 0
	UpdatedBy string
	UpdatedAt time.Time
}

// SiteLists are a site's trusted and blocked lists, as plain values.
type SiteLists struct {
	TrustedEmails []string
	BlockedEmails []string
	BlockedIPs    []string
}

// RulesStore persists spam rules, the lists they read, and how often each
// rule fired.
type RulesStore interface {
	// Rules returns the site's rules document (Version 0 if never saved)
	// together with its lists. ErrNotFound for an unknown site.
	Rules(ctx context.Context, siteID string) (RulesDoc, SiteLists, error)
	// SaveRules replaces the site's settings and lists if the stored version
	// is still expectVersion, and returns the new version. ErrConflict when
	// another change came first; ErrNotFound for an unknown site.
	SaveRules(ctx context.Context, doc RulesDoc, lists SiteLists, expectVersion int) (int, error)
	// RulesVersion returns the site's current rules version (0 if never
	// saved or changed). ErrNotFound for an unknown site.
	RulesVersion(ctx context.Context, siteID string) (int, error)
	// AddRuleHits adds one hit to each named rule of the site (for
	// submissions that are refused and so not stored; CreateComment counts
	// the hits of the comments it stores itself, from their reasons).
	AddRuleHits(ctx context.Context, siteID string, rules []string) error
	// RuleHits returns how often each rule of the site has fired.
	RuleHits(ctx context.Context, siteID string) (map[string]int, error)
	// HasDuplicate reports whether the site already has a comment on the page
	// by that email (any case) with exactly that body, in any status but
	// deleted.
	HasDuplicate(ctx context.Context, siteID, pageKey, email, body string) (bool, error)
}
