package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/commentd/commentd/internal/comment"
)

// Rules returns the site's rules document and its lists, each ordered by
// value in byte order, read in one statement (so one snapshot). A site
// that has neither saved rules nor changed a list has Version 0 and no
// settings; the settings come back byte for byte as saved, nil when empty.
// An unknown site wraps comment.ErrNotFound.
func (s *Store) Rules(ctx context.Context, siteID string) (comment.RulesDoc, comment.SiteLists, error) {
	if !storable(siteID) {
		return comment.RulesDoc{}, comment.SiteLists{}, fmt.Errorf("rules of site %q: %w", siteID, comment.ErrNotFound)
	}
	doc, lists, err := findRules(ctx, s.pool, siteID)
	if err != nil {
		return comment.RulesDoc{}, comment.SiteLists{}, fmt.Errorf("rules of site %q: %w", siteID, mapErr(err))
	}
	return doc, lists, nil
}

// SaveRules checks, in one transaction, that the site's rules version is
// still expectVersion, stores doc's settings, UpdatedBy and UpdatedAt with
// the next version, and makes the site's lists hold exactly the values in
// lists (stored as given; repeated values count once). Entries that stay
// keep who added them and when; new ones are added by doc.UpdatedBy at
// doc.UpdatedAt. It returns the new version. Errors: a
// *comment.ValidationError for settings that are not UTF-8 JSON (empty
// settings are allowed) or a list value that is empty or not storable;
// comment.ErrNotFound for an unknown site; comment.ErrConflict if the
// version is no longer expectVersion, and then nothing is written.
func (s *Store) SaveRules(ctx context.Context, doc comment.RulesDoc, lists comment.SiteLists, expectVersion int) (int, error) {
	values, err := checkRules(doc, lists)
	if err != nil {
		return 0, err
	}
	if !storable(doc.SiteID) {
		return 0, fmt.Errorf("save rules of site %q: %w", doc.SiteID, comment.ErrNotFound)
	}
	var version int
	err = s.write(ctx, func(tx pgx.Tx) (err error) {
		version, err = saveRules(ctx, tx, doc, values, expectVersion)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("save rules of site %q over version %d: %w", doc.SiteID, expectVersion, err)
	}
	return version, nil
}

// RulesVersion returns the site's rules version, 0 if it has neither saved
// rules nor changed a list, in one statement probing two primary keys. An
// unknown site wraps comment.ErrNotFound.
func (s *Store) RulesVersion(ctx context.Context, siteID string) (int, error) {
	if !storable(siteID) {
		return 0, fmt.Errorf("rules version of site %q: %w", siteID, comment.ErrNotFound)
	}
	v, err := rulesVersion(ctx, s.pool, siteID)
	if err != nil {
		return 0, fmt.Errorf("rules version of site %q: %w", siteID, mapErr(err))
	}
	return v, nil
}

// AddRuleHits adds one hit to each distinct, non-empty rule name in rules
// (names PostgreSQL cannot hold as text are skipped), in one transaction.
// An unknown site wraps comment.ErrNotFound.
func (s *Store) AddRuleHits(ctx context.Context, siteID string, rules []string) error {
	if !storable(siteID) {
		return fmt.Errorf("add rule hits of site %q: %w", siteID, comment.ErrNotFound)
	}
	names := keep(firedRules(rules), storable)
	var err error
	if len(names) == 0 {
		err = mapErr(checkSite(ctx, s.pool, siteID))
	} else {
		err = s.write(ctx, func(tx pgx.Tx) error {
			if err := checkSite(ctx, tx, siteID); err != nil {
				return err
			}
			return addRuleHits(ctx, tx, siteID, names)
		})
	}
	if err != nil {
		return fmt.Errorf("add rule hits of site %q: %w", siteID, err)
	}
	return nil
}

// RuleHits returns how often each rule of the site has fired; rules that
// never fired, and every rule of an unknown site, are absent.
func (s *Store) RuleHits(ctx context.Context, siteID string) (map[string]int, error) {
	hits := make(map[string]int)
	if !storable(siteID) {
		return hits, nil
	}
	if err := findRuleHits(ctx, s.pool, siteID, hits); err != nil {
		return nil, fmt.Errorf("rule hits of site %q: %w", siteID, mapErr(err))
	}
	return hits, nil
}

// HasDuplicate reports whether the site has a comment on the page, not
// deleted, whose author's email lower-cased (strings.ToLower) equals email
// lower-cased and whose body is exactly body. It reads the author's range
// of the comments_author index.
func (s *Store) HasDuplicate(ctx context.Context, siteID, pageKey, email, body string) (bool, error) {
	email = strings.ToLower(email)
	for _, v := range []string{siteID, pageKey, email, body} {
		if !storable(v) {
			return false, nil // no stored comment can have it
		}
	}
	var dup bool
	if err := s.pool.QueryRow(ctx, duplicateQuery, email, siteID, pageKey, body).Scan(&dup); err != nil {
		return false, fmt.Errorf("duplicate check on page %q of site %q: %w", pageKey, siteID, mapErr(err))
	}
	return dup, nil
}

// duplicateQuery finds a comment like a new one, by the leading
// (author_email_lower, site_id) of comments_author: an author has few
// comments on a site, while comments_thread's (site_id, page_key) range is
// a whole thread.
const duplicateQuery = `
	SELECT EXISTS (
		SELECT 1 FROM comments
		WHERE author_email_lower = $1 AND site_id = $2 AND page_key = $3 AND body = $4 AND status <> 'deleted')`

// checkRules validates what SaveRules stores and returns the lists as two
// parallel arrays of list names and values, without repeated entries.
func checkRules(doc comment.RulesDoc, lists comment.SiteLists) (listValues, error) {
	// JSON text is UTF-8 (RFC 8259), which json.Valid does not check.
	if len(doc.Settings) > 0 && (!utf8.Valid(doc.Settings) || !json.Valid(doc.Settings)) {
		return listValues{}, comment.Invalid("settings", "The settings must be a JSON document.")
	}
	verr := &comment.ValidationError{Fields: map[string]string{}}
	var out listValues
	for _, l := range []struct {
		list, field string
		values      []string
	}{
		{comment.ListTrustedEmails, "trusted_emails", lists.TrustedEmails},
		{comment.ListBlockedEmails, "blocked_emails", lists.BlockedEmails},
		{comment.ListBlockedIPs, "blocked_ips", lists.BlockedIPs},
	} {
		for _, v := range dedupe(l.values) {
			if v == "" || !storable(v) {
				verr.Fields[l.field] = "A list entry needs a value."
				continue
			}
			out.lists = append(out.lists, l.list)
			out.values = append(out.values, v)
		}
	}
	if len(verr.Fields) > 0 {
		return listValues{}, verr
	}
	return out, nil
}

// listValues are the entries of a site's lists as parallel arrays, the
// shape unnest takes them in.
type listValues struct {
	lists, values []string
}

func saveRules(ctx context.Context, tx dbtx, doc comment.RulesDoc, lv listValues, expect int) (int, error) {
	if err := lockSite(ctx, tx, doc.SiteID); err != nil {
		return 0, err
	}
	// A new statement, so under read committed it sees the version as the
	// last writer holding the lock committed it.
	current, err := rulesVersion(ctx, tx, doc.SiteID)
	if err != nil {
		return 0, err
	}
	if current != expect {
		return 0, fmt.Errorf("rules are at version %d: %w", current, comment.ErrConflict)
	}
	next := current + 1
	_, err = tx.Exec(ctx, `
		INSERT INTO site_rules (site_id, version, settings, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (site_id) DO UPDATE SET
			version = excluded.version,
			settings = excluded.settings,
			updated_by = excluded.updated_by,
			updated_at = excluded.updated_at`,
		doc.SiteID, next, string(doc.Settings), doc.UpdatedBy, doc.UpdatedAt)
	if err != nil {
		return 0, err
	}
	if err := replaceLists(ctx, tx, doc.SiteID, lv, doc.UpdatedBy, doc.UpdatedAt); err != nil {
		return 0, fmt.Errorf("replace lists: %w", err)
	}
	return next, nil
}

// replaceLists makes the site's lists hold exactly lv, touching only the
// entries that come or go.
func replaceLists(ctx context.Context, tx dbtx, siteID string, lv listValues, by string, at time.Time) error {
	_, err := tx.Exec(ctx, `
		DELETE FROM site_lists l
		WHERE l.site_id = $1 AND NOT EXISTS (
			SELECT 1 FROM unnest($2::text[], $3::text[]) AS w (list, value)
			WHERE w.list = l.list AND w.value = l.value)`,
		siteID, lv.lists, lv.values)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO site_lists (site_id, list, value, created_by, created_at)
		SELECT $1, w.list, w.value, $4, $5 FROM unnest($2::text[], $3::text[]) AS w (list, value)
		ON CONFLICT (site_id, list, value) DO NOTHING`,
		siteID, lv.lists, lv.values, by, at)
	return err
}

// lockSite locks the site's row for the rest of the transaction, or
// returns comment.ErrNotFound. Every change to a site's rules or lists
// takes this lock first, so they run one at a time per site and always
// lock rows in the same order. FOR NO KEY UPDATE does not block the
// FOR KEY SHARE locks that inserting pages and comments takes on the site.
func lockSite(ctx context.Context, tx dbtx, siteID string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM sites WHERE id = $1 FOR NO KEY UPDATE`, siteID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return comment.ErrNotFound
	}
	return err
}

func checkSite(ctx context.Context, tx dbtx, siteID string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM sites WHERE id = $1`, siteID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return comment.ErrNotFound
	}
	return err
}

// bumpRules increments the site's rules version, creating its row (version
// 1, no settings) if it has none. The caller holds lockSite.
func bumpRules(ctx context.Context, tx dbtx, siteID string) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO site_rules (site_id, version) VALUES ($1, 1)
		ON CONFLICT (site_id) DO UPDATE SET version = site_rules.version + 1`, siteID)
	if err != nil {
		return fmt.Errorf("increment rules version: %w", err)
	}
	return nil
}

func findRules(ctx context.Context, tx dbtx, siteID string) (comment.RulesDoc, comment.SiteLists, error) {
	var (
		version   *int
		settings  *string
		updatedBy *string
		updatedAt *time.Time
		lists     comment.SiteLists
	)
	err := tx.QueryRow(ctx, `
		SELECT r.version, r.settings, r.updated_by, r.updated_at,
			ARRAY(SELECT value FROM site_lists WHERE site_id = s.id AND list = $2 ORDER BY value COLLATE "C"),
			ARRAY(SELECT value FROM site_lists WHERE site_id = s.id AND list = $3 ORDER BY value COLLATE "C"),
			ARRAY(SELECT value FROM site_lists WHERE site_id = s.id AND list = $4 ORDER BY value COLLATE "C")
		FROM sites s LEFT JOIN site_rules r ON r.site_id = s.id
		WHERE s.id = $1`,
		siteID, comment.ListTrustedEmails, comment.ListBlockedEmails, comment.ListBlockedIPs).
		Scan(&version, &settings, &updatedBy, &updatedAt, &lists.TrustedEmails, &lists.BlockedEmails, &lists.BlockedIPs)
	if errors.Is(err, pgx.ErrNoRows) {
		return comment.RulesDoc{}, comment.SiteLists{}, comment.ErrNotFound
	}
	if err != nil {
		return comment.RulesDoc{}, comment.SiteLists{}, err
	}
	doc := comment.RulesDoc{SiteID: siteID}
	if version != nil {
		doc.Version = *version
	}
	if settings != nil && *settings != "" {
		doc.Settings = []byte(*settings)
	}
	if updatedBy != nil {
		doc.UpdatedBy = *updatedBy
	}
	if updatedAt != nil {
		doc.UpdatedAt = updatedAt.UTC()
	}
	// Empty lists read back as nil, like lists never set.
	for _, l := range []*[]string{&lists.TrustedEmails, &lists.BlockedEmails, &lists.BlockedIPs} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	return doc, lists, nil
}

func rulesVersion(ctx context.Context, tx dbtx, siteID string) (int, error) {
	var v int
	err := tx.QueryRow(ctx, `
		SELECT coalesce(r.version, 0)
		FROM sites s LEFT JOIN site_rules r ON r.site_id = s.id
		WHERE s.id = $1`, siteID).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, comment.ErrNotFound
	}
	return v, err
}

// addRuleHits adds one hit to each of names, which must be distinct (a row
// cannot be updated twice by one INSERT) and sorted, so that concurrent
// transactions lock rule_hits rows in the same order.
func addRuleHits(ctx context.Context, tx execer, siteID string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO rule_hits (site_id, rule, hits)
		SELECT $1, r, 1 FROM unnest($2::text[]) WITH ORDINALITY AS u (r, n) ORDER BY n
		ON CONFLICT (site_id, rule) DO UPDATE SET hits = rule_hits.hits + 1`, siteID, names)
	if err != nil {
		return fmt.Errorf("count rule hits: %w", err)
	}
	return nil
}

func findRuleHits(ctx context.Context, tx dbtx, siteID string, out map[string]int) error {
	rows, err := tx.Query(ctx, `SELECT rule, hits FROM rule_hits WHERE site_id = $1`, siteID)
	if err != nil {
		return err
	}
	var (
		rule string
		n    int
	)
	_, err = pgx.ForEachRow(rows, []any{&rule, &n}, func() error {
		out[rule] = n
		return nil
	})
	return err
}

// firedRules returns the distinct non-empty names, sorted.
func firedRules(names []string) []string {
	out := slices.DeleteFunc(dedupe(names), func(n string) bool { return n == "" })
	slices.Sort(out)
	return out
}

// reasonRules returns the rule of each reason.
func reasonRules(reasons []comment.Reason) []string {
	names := make([]string, len(reasons))
	for i, r := range reasons {
		names[i] = r.Rule
	}
	return names
}
