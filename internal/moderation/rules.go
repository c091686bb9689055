package moderation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/events"
	"github.com/commentd/commentd/internal/spam"
)

// rulesRecheck is how long a cached rule set is used before its version is
// checked again in the database (one indexed read per site per interval).
// Changes made through a server are announced on the event bus and take
// effect at once; this bounds how stale a cache can be when an announcement
// was missed (Redis down) or the change came from another process (the
// command line).
const rulesRecheck = time.Second

// compiledRules is a site's rule set ready to evaluate.
type compiledRules struct {
	version int
	rules   spam.Rules
	engine  *spam.Engine
	checked time.Time
}

// rulesCache holds one compiled rule set per site. Each drop bumps the
// site's generation, so that a load that began before a change cannot put
// the old rules back after it.
type rulesCache struct {
	mu    sync.Mutex
	sites map[string]*compiledRules
	gen   map[string]uint64
}

// get returns the cached rules (or nil) and the site's generation.
func (c *rulesCache) get(siteID string) (*compiledRules, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sites[siteID], c.gen[siteID]
}

// put caches r unless the site's rules were dropped since generation gen.
func (c *rulesCache) put(siteID string, r *compiledRules, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen[siteID] != gen {
		return
	}
	if c.sites == nil {
		c.sites = map[string]*compiledRules{}
	}
	c.sites[siteID] = r
}

func (c *rulesCache) drop(siteID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sites, siteID)
	if c.gen == nil {
		c.gen = map[string]uint64{}
	}
	c.gen[siteID]++
}

// Run listens for rule changes announced by other instances and drops the
// cached rules of those sites. It returns when ctx ends.
func (s *Service) Run(ctx context.Context) {
	if s.events == nil {
		return
	}
	feed, cancel := s.events.Subscribe()
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-feed:
			if !ok {
				return
			}
			if e.Type == events.TypeRulesChanged {
				s.rules.drop(e.SiteID)
			}
		}
	}
}

// rulesOf returns the site's compiled rules, from the cache when its version
// is current.
func (s *Service) rulesOf(ctx context.Context, site comment.Site) (*compiledRules, error) {
	now := s.clock()
	cached, gen := s.rules.get(site.ID)
	if cached != nil && now.Sub(cached.checked) < rulesRecheck {
		return cached, nil
	}
	if cached != nil {
		v, err := s.store.RulesVersion(ctx, site.ID)
		if err != nil {
			return nil, fmt.Errorf("rules version of site %q: %w", site.ID, err)
		}
		if v == cached.version {
			fresh := *cached
			fresh.checked = now
			s.rules.put(site.ID, &fresh, gen)
			return &fresh, nil
		}
	}
	r, version, err := s.loadRules(ctx, site)
	var (
		perr   *storedRulesError
		engine *spam.Engine
	)
	switch {
	case errors.As(err, &perr):
		// Stored rules that no longer parse (a limit tightened since they
		// were saved) are handled like rules that no longer compile.
		version = perr.version
	case err != nil:
		return nil, err
	default:
		engine, err = spam.Compile(r)
	}
	if err != nil {
		// Stored rules that no longer compile (a list grown past its
		// limit, say) must not turn readers away: judge by the site's
		// defaults, which hold everything, until an owner fixes them.
		s.log.LogAttrs(ctx, slog.LevelError, "stored rules do not compile; holding every comment",
			slog.String("site", site.ID), slog.String("err", err.Error()))
		r = defaultRulesFor(site)
		r.Version = version
		if engine, err = spam.Compile(r); err != nil {
			return nil, fmt.Errorf("compile default rules of site %q: %v", site.ID, err)
		}
	}
	c := &compiledRules{version: version, rules: r, engine: engine, checked: now}
	s.rules.put(site.ID, c, gen)
	return c, nil
}

// loadRules reads a site's rules and lists from the store. A site that never
// saved rules gets the defaults, with its configured limit for addresses and
// emails (and, derived from it, for prefixes, pages and the whole site).
func (s *Service) loadRules(ctx context.Context, site comment.Site) (spam.Rules, int, error) {
	doc, lists, err := s.store.Rules(ctx, site.ID)
	if err != nil {
		return spam.Rules{}, 0, fmt.Errorf("rules of site %q: %w", site.ID, err)
	}
	r := defaultRulesFor(site)
	if len(doc.Settings) > 0 {
		if r, err = spam.ParseJSON(doc.Settings); err != nil {
			return spam.Rules{}, 0, &storedRulesError{version: doc.Version, err: fmt.Errorf("stored rules of site %q: %w", site.ID, err)}
		}
	}
	r.Version = doc.Version
	r.TrustedEmails, r.BlockedEmails, r.BlockedIPs = lists.TrustedEmails, lists.BlockedEmails, lists.BlockedIPs
	r.Normalize()
	return r, doc.Version, nil
}

// storedRulesError is a site's stored rule document that does not parse.
type storedRulesError struct {
	version int
	err     error
}

func (e *storedRulesError) Error() string { return e.err.Error() }
func (e *storedRulesError) Unwrap() error { return e.err }

// defaultRulesFor is the rule set of a site that has not saved its own.
func defaultRulesFor(site comment.Site) spam.Rules {
	r := spam.DefaultRules()
	if lim := site.RateLimit; lim.Every > 0 && lim.Burst > 0 {
		burst := func(n int) int { return min(n, spam.MaxBurst) }
		r.RateLimits.IP = spam.Limit{Every: spam.Duration(lim.Every), Burst: burst(lim.Burst)}
		r.RateLimits.Email = spam.Limit{Every: spam.Duration(lim.Every), Burst: burst(lim.Burst)}
		r.RateLimits.Prefix = spam.Limit{Every: spam.Duration(max(lim.Every/4, time.Nanosecond)), Burst: burst(lim.Burst * 4)}
		r.RateLimits.Page.Burst = burst(max(r.RateLimits.Page.Burst, lim.Burst*20))
		r.RateLimits.Site.Burst = burst(max(r.RateLimits.Site.Burst, lim.Burst*100))
	}
	return r
}

// ErrRulesChanged means the rules were saved by someone else since the version
// the caller read. It is also a comment.ErrConflict.
var ErrRulesChanged = fmt.Errorf("rules changed since they were read: %w", comment.ErrConflict)

// RulesView is a site's rule set as its owner sees it.
type RulesView struct {
	Rules spam.Rules
	Hits  map[string]int
}

// Rules returns a site's rule set and how often each rule fired. Errors:
// comment.ErrForbidden unless p may manage the site, comment.ErrNotFound.
func (s *Service) Rules(ctx context.Context, p comment.Principal, siteID string) (RulesView, error) {
	if !p.CanManage(siteID) {
		return RulesView{}, comment.ErrForbidden
	}
	site, err := s.store.Site(ctx, siteID)
	if err != nil {
		return RulesView{}, fmt.Errorf("site %q: %w", siteID, err)
	}
	r, _, err := s.loadRules(ctx, site)
	if err != nil {
		return RulesView{}, err
	}
	hits, err := s.store.RuleHits(ctx, siteID)
	if err != nil {
		return RulesView{}, fmt.Errorf("rule hits of site %q: %w", siteID, err)
	}
	return RulesView{Rules: r, Hits: hits}, nil
}

// SaveRules replaces a site's rule set, lists included, if r.Version is
// still the stored version, and returns the new version. The change takes
// effect on every instance at once. Errors: comment.ErrForbidden,
// comment.ErrNotFound, comment.ErrConflict (someone saved first),
// *comment.ValidationError.
func (s *Service) SaveRules(ctx context.Context, p comment.Principal, siteID string, r spam.Rules) (int, error) {
	if !p.CanManage(siteID) {
		return 0, comment.ErrForbidden
	}
	r.Normalize()
	if verr := r.Validate(); verr != nil {
		return 0, verr
	}
	expect := r.Version
	lists := comment.SiteLists{TrustedEmails: r.TrustedEmails, BlockedEmails: r.BlockedEmails, BlockedIPs: r.BlockedIPs}
	settings := r
	settings.Version = 0
	settings.TrustedEmails, settings.BlockedEmails, settings.BlockedIPs = nil, nil, nil
	raw, err := settings.JSON()
	if err != nil {
		return 0, fmt.Errorf("encode rules: %w", err)
	}
	now := s.clock()
	v, err := s.store.SaveRules(ctx, comment.RulesDoc{SiteID: siteID, Settings: raw, UpdatedBy: p.Name, UpdatedAt: now}, lists, expect)
	if errors.Is(err, comment.ErrConflict) {
		return 0, ErrRulesChanged
	}
	if err != nil {
		return 0, fmt.Errorf("save rules of site %q: %w", siteID, err)
	}
	s.rulesChanged(ctx, siteID)
	return v, nil
}

// rulesChanged drops the cached rules of a site here and tells the other
// instances to do the same.
func (s *Service) rulesChanged(ctx context.Context, siteID string) {
	s.rules.drop(siteID)
	s.publish(ctx, events.Event{Type: events.TypeRulesChanged, SiteID: siteID, At: s.clock()})
}

// TestInput is a submission for a dry run (its FormToken and Honeypot
// count as in a real one).
type TestInput struct {
	Submission
}

// TestRules returns the verdict a submission would get, under the site's
// rules or under candidate (when not nil), storing nothing. Rate limits and
// the duplicate check are not applied. Errors: comment.ErrForbidden,
// comment.ErrNotFound, *comment.ValidationError for invalid candidate rules.
func (s *Service) TestRules(ctx context.Context, p comment.Principal, siteID string, in TestInput, candidate *spam.Rules) (spam.Verdict, error) {
	if !p.CanManage(siteID) {
		return spam.Verdict{}, comment.ErrForbidden
	}
	site, err := s.store.Site(ctx, siteID)
	if err != nil {
		return spam.Verdict{}, fmt.Errorf("site %q: %w", siteID, err)
	}
	var rules spam.Rules
	var engine *spam.Engine
	if candidate != nil {
		rules = *candidate
		rules.Normalize()
		if verr := rules.Validate(); verr != nil {
			return spam.Verdict{}, verr
		}
		if engine, err = spam.Compile(rules); err != nil {
			return spam.Verdict{}, fmt.Errorf("compile candidate rules: %w", err)
		}
	} else {
		c, err := s.rulesOf(ctx, site)
		if err != nil {
			return spam.Verdict{}, err
		}
		rules, engine = c.rules, c.engine
	}
	in.SiteID = site.ID
	html, err := s.render.Render(in.Body)
	if err != nil {
		return spam.Verdict{}, fmt.Errorf("render comment body: %w", err)
	}
	input, err := s.spamInput(ctx, site, rules, in.Submission, html)
	if err != nil {
		return spam.Verdict{}, err
	}
	return engine.Evaluate(input), nil
}

// spamInput gathers what the rules look at: the submission and its rendered
// text, the form token's status, and whether the author has been approved on
// the site before (only looked up when the mode needs it).
func (s *Service) spamInput(ctx context.Context, site comment.Site, rules spam.Rules, sub Submission, rendered string) (spam.Input, error) {
	status, age := spam.CheckToken(s.secret, site.ID, sub.PageKey, sub.FormToken, s.clock(), rules)
	text, links := visibleText(rendered)
	in := spam.Input{
		Name: sub.Name, Email: sub.Email, Website: sub.Website, Body: sub.Body, BodyText: text, RenderedLinks: links,
		IP: sub.IP, UserAgent: sub.UserAgent, Honeypot: sub.Honeypot, Token: status, TokenAge: age,
	}
	if rules.Mode == spam.ModeHoldFirstTime {
		key := comment.AuthorKey{SiteID: site.ID, Email: strings.ToLower(sub.Email)}
		stats, err := s.store.AuthorStats(ctx, []comment.AuthorKey{key})
		if err != nil {
			return spam.Input{}, fmt.Errorf("author record: %w", err)
		}
		in.KnownAuthor = stats[key][comment.StatusApproved] > 0
	}
	return in, nil
}

// FormToken returns a signed token for the reply form of a page, to be sent
// back with the submission (it proves when the form was shown). Errors:
// comment.ErrNotFound for an unknown site.
func (s *Service) FormToken(ctx context.Context, siteID, pageKey string) (string, error) {
	if _, err := s.site(ctx, siteID); err != nil {
		return "", fmt.Errorf("site %q: %w", siteID, err)
	}
	return spam.NewToken(s.secret, siteID, pageKey, s.now()), nil
}
