package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/commentd/commentd/internal/comment"
)

// listNames are the site lists in the order SaveRules writes them.
var listNames = []string{comment.ListTrustedEmails, comment.ListBlockedEmails, comment.ListBlockedIPs}

// Rules returns the site's rules document and its lists, each ordered by
// value in byte order, read in one snapshot. A site that has neither saved
// rules nor changed a list has Version 0 and no settings; the settings come
// back byte for byte as saved, nil when empty. An unknown site wraps
// comment.ErrNotFound.
func (s *Store) Rules(ctx context.Context, siteID string) (comment.RulesDoc, comment.SiteLists, error) {
	var (
		doc   comment.RulesDoc
		lists comment.SiteLists
	)
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		if doc, err = findRules(ctx, tx, siteID); err != nil {
			return err
		}
		lists, err = findSiteLists(ctx, tx, siteID)
		return err
	})
	if err != nil {
		return comment.RulesDoc{}, comment.SiteLists{}, fmt.Errorf("rules of site %q: %w", siteID, err)
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
// settings are allowed) or an empty list value; comment.ErrNotFound for an unknown
// site; comment.ErrConflict if the version is no longer expectVersion,
// and then nothing is written.
func (s *Store) SaveRules(ctx context.Context, doc comment.RulesDoc, lists comment.SiteLists, expectVersion int) (int, error) {
	values, err := checkRules(doc, lists)
	if err != nil {
		return 0, err
	}
	var version int
	err = s.write(ctx, func(tx *sql.Tx) (err error) {
		version, err = saveRules(ctx, tx, doc, values, expectVersion)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("save rules of site %q over version %d: %w", doc.SiteID, expectVersion, err)
	}
	return version, nil
}

// RulesVersion returns the site's rules version, 0 if it has neither saved
// rules nor changed a list, in one indexed read. An unknown site wraps
// comment.ErrNotFound.
func (s *Store) RulesVersion(ctx context.Context, siteID string) (int, error) {
	var v int
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		v, err = rulesVersion(ctx, tx, siteID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("rules version of site %q: %w", siteID, err)
	}
	return v, nil
}

// AddRuleHits adds one hit to each distinct, non-empty rule name in rules,
// in one transaction. An unknown site wraps comment.ErrNotFound.
func (s *Store) AddRuleHits(ctx context.Context, siteID string, rules []string) error {
	names := firedRules(rules)
	do := s.write
	if len(names) == 0 {
		do = s.read // only the site to check
	}
	err := do(ctx, func(tx *sql.Tx) error {
		if err := checkSite(ctx, tx, siteID); err != nil {
			return err
		}
		return addRuleHits(ctx, tx, siteID, names)
	})
	if err != nil {
		return fmt.Errorf("add rule hits of site %q: %w", siteID, err)
	}
	return nil
}

// RuleHits returns how often each rule of the site has fired; rules that
// never fired, and every rule of an unknown site, are absent.
func (s *Store) RuleHits(ctx context.Context, siteID string) (map[string]int, error) {
	hits := make(map[string]int)
	err := s.read(ctx, func(tx *sql.Tx) error {
		return findRuleHits(ctx, tx, siteID, hits)
	})
	if err != nil {
		return nil, fmt.Errorf("rule hits of site %q: %w", siteID, err)
	}
	return hits, nil
}

// HasDuplicate reports whether the site has a comment on the page, not
// deleted, whose author's email lower-cased (strings.ToLower) equals email
// lower-cased and whose body is exactly body. It reads the author's range
// of the comments_author index.
func (s *Store) HasDuplicate(ctx context.Context, siteID, pageKey, email, body string) (bool, error) {
	var dup bool
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		dup, err = hasDuplicate(ctx, preparedTx{tx, s.reads}, siteID, pageKey, email, body)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("duplicate check on page %q of site %q: %w", pageKey, siteID, err)
	}
	return dup, nil
}

// checkRules validates what SaveRules stores and returns the values of each
// list, keyed by list name, without repeats.
func checkRules(doc comment.RulesDoc, lists comment.SiteLists) (map[string][]string, error) {
	// JSON text is UTF-8 (RFC 8259), which json.Valid does not check.
	if len(doc.Settings) > 0 && (!utf8.Valid(doc.Settings) || !json.Valid(doc.Settings)) {
		return nil, comment.Invalid("settings", "The settings must be a JSON document.")
	}
	values := map[string][]string{
		comment.ListTrustedEmails: dedupe(lists.TrustedEmails),
		comment.ListBlockedEmails: dedupe(lists.BlockedEmails),
		comment.ListBlockedIPs:    dedupe(lists.BlockedIPs),
	}
	fields := map[string]string{
		comment.ListTrustedEmails: "trusted_emails",
		comment.ListBlockedEmails: "blocked_emails",
		comment.ListBlockedIPs:    "blocked_ips",
	}
	verr := &comment.ValidationError{Fields: map[string]string{}}
	for list, vs := range values {
		if slices.Contains(vs, "") {
			verr.Fields[fields[list]] = "A list entry needs a value."
		}
	}
	if len(verr.Fields) > 0 {
		return nil, verr
	}
	return values, nil
}

func saveRules(ctx context.Context, tx *sql.Tx, doc comment.RulesDoc, values map[string][]string, expect int) (int, error) {
	// The writer's transaction holds the database's write lock from BEGIN,
	// so the version cannot change between this read and the write.
	current, err := rulesVersion(ctx, tx, doc.SiteID)
	if err != nil {
		return 0, err
	}
	if current != expect {
		return 0, fmt.Errorf("rules are at version %d: %w", current, comment.ErrConflict)
	}
	next := current + 1
	_, err = tx.ExecContext(ctx, `
		INSERT INTO site_rules (site_id, version, settings, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (site_id) DO UPDATE SET
			version = excluded.version,
			settings = excluded.settings,
			updated_by = excluded.updated_by,
			updated_at = excluded.updated_at`,
		doc.SiteID, next, string(doc.Settings), doc.UpdatedBy, micros(doc.UpdatedAt))
	if err != nil {
		return 0, mapErr(err)
	}
	for _, list := range listNames {
		if err := replaceList(ctx, tx, doc.SiteID, list, values[list], doc.UpdatedBy, doc.UpdatedAt); err != nil {
			return 0, fmt.Errorf("replace %s: %w", list, err)
		}
	}
	return next, nil
}

// replaceList makes the site's list hold exactly values, touching only the
// entries that come or go.
func replaceList(ctx context.Context, tx *sql.Tx, siteID, list string, values []string, by string, at time.Time) error {
	stored, err := findListEntries(ctx, tx, siteID, list)
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(values))
	for _, v := range values {
		want[v] = true
	}
	for _, e := range stored {
		if want[e.Value] {
			delete(want, e.Value) // stays as it is
			continue
		}
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM site_lists WHERE site_id = ? AND list = ? AND value = ?`, siteID, list, e.Value); err != nil {
			return mapErr(err)
		}
	}
	for _, v := range values {
		if !want[v] {
			continue
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO site_lists (site_id, list, value, created_by, created_at) VALUES (?, ?, ?, ?, ?)`,
			siteID, list, v, by, micros(at)); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// bumpRules increments the site's rules version, creating its row (version
// 1, no settings) if it has none.
func bumpRules(ctx context.Context, tx *sql.Tx, siteID string) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO site_rules (site_id, version) VALUES (?, 1)
		ON CONFLICT (site_id) DO UPDATE SET version = site_rules.version + 1`, siteID)
	if err != nil {
		return fmt.Errorf("increment rules version: %w", mapErr(err))
	}
	return nil
}

func findRules(ctx context.Context, tx *sql.Tx, siteID string) (comment.RulesDoc, error) {
	var (
		version   sql.NullInt64
		settings  []byte
		updatedBy sql.NullString
		updatedAt sql.NullInt64
	)
	err := tx.QueryRowContext(ctx, `
		SELECT r.version, r.settings, r.updated_by, r.updated_at
		FROM sites s LEFT JOIN site_rules r ON r.site_id = s.id
		WHERE s.id = ?`, siteID).Scan(&version, &settings, &updatedBy, &updatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return comment.RulesDoc{}, comment.ErrNotFound
	}
	if err != nil {
		return comment.RulesDoc{}, mapErr(err)
	}
	doc := comment.RulesDoc{SiteID: siteID, Version: int(version.Int64), UpdatedBy: updatedBy.String}
	if len(settings) > 0 {
		doc.Settings = settings
	}
	if updatedAt.Valid {
		doc.UpdatedAt = fromMicros(updatedAt.Int64)
	}
	return doc, nil
}

func findSiteLists(ctx context.Context, tx *sql.Tx, siteID string) (comment.SiteLists, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT list, value FROM site_lists WHERE site_id = ? ORDER BY list, value`, siteID)
	if err != nil {
		return comment.SiteLists{}, mapErr(err)
	}
	defer rows.Close()
	var lists comment.SiteLists
	for rows.Next() {
		var list, value string
		if err := rows.Scan(&list, &value); err != nil {
			return comment.SiteLists{}, mapErr(err)
		}
		switch list {
		case comment.ListTrustedEmails:
			lists.TrustedEmails = append(lists.TrustedEmails, value)
		case comment.ListBlockedEmails:
			lists.BlockedEmails = append(lists.BlockedEmails, value)
		case comment.ListBlockedIPs:
			lists.BlockedIPs = append(lists.BlockedIPs, value)
		}
	}
	return lists, mapErr(rows.Err())
}

// rulesVersion reads the site's rules version with one probe of each
// primary key; ErrNotFound for an unknown site.
func rulesVersion(ctx context.Context, tx *sql.Tx, siteID string) (int, error) {
	var v int
	err := tx.QueryRowContext(ctx, `
		SELECT coalesce(r.version, 0)
		FROM sites s LEFT JOIN site_rules r ON r.site_id = s.id
		WHERE s.id = ?`, siteID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, comment.ErrNotFound
	}
	return v, mapErr(err)
}

func checkSite(ctx context.Context, tx *sql.Tx, siteID string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM sites WHERE id = ?`, siteID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return comment.ErrNotFound
	}
	return mapErr(err)
}

const addRuleHitSQL = `
	INSERT INTO rule_hits (site_id, rule, hits) VALUES (?, ?, 1)
	ON CONFLICT (site_id, rule) DO UPDATE SET hits = rule_hits.hits + 1`

// addRuleHitCounts adds hits[{site, rule}] hits to each rule, in the order
// of site and rule (the order every writer uses).
func addRuleHitCounts(ctx context.Context, tx querier, hits map[[2]string]int) error {
	keys := slices.SortedFunc(maps.Keys(hits), func(a, b [2]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
	for _, k := range keys {
		_, err := tx.ExecContext(ctx, addRuleHitsSQL, k[0], k[1], hits[k])
		if err != nil {
			return fmt.Errorf("count hits of rule %q: %w", k[1], mapErr(err))
		}
	}
	return nil
}

const addRuleHitsSQL = `
	INSERT INTO rule_hits (site_id, rule, hits) VALUES (?, ?, ?)
	ON CONFLICT (site_id, rule) DO UPDATE SET hits = rule_hits.hits + excluded.hits`

// addRuleHits adds one hit to each of names, which must be distinct.
func addRuleHits(ctx context.Context, tx querier, siteID string, names []string) error {
	for _, name := range names {
		_, err := tx.ExecContext(ctx, addRuleHitSQL, siteID, name)
		if err != nil {
			return fmt.Errorf("count hit of rule %q: %w", name, mapErr(err))
		}
	}
	return nil
}

func findRuleHits(ctx context.Context, tx *sql.Tx, siteID string, out map[string]int) error {
	rows, err := tx.QueryContext(ctx, `SELECT rule, hits FROM rule_hits WHERE site_id = ?`, siteID)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			rule string
			n    int
		)
		if err := rows.Scan(&rule, &n); err != nil {
			return mapErr(err)
		}
		out[rule] = n
	}
	return mapErr(rows.Err())
}

// duplicateQuery finds a comment like a new one in the author's range of
// comments_author: an author has few comments on a site, while the other
// candidate, comments_thread's (site_id, page_key) range, is a whole
// thread. SQLite has no statistics to tell the two apart, so the choice is
// stated (see TestDuplicatePlan).
const duplicateQuery = `
	SELECT EXISTS (
		SELECT 1 FROM comments INDEXED BY comments_author
		WHERE author_email_lower = ? AND site_id = ? AND page_key = ? AND body = ? AND status <> 'deleted')`

func hasDuplicate(ctx context.Context, tx querier, siteID, pageKey, email, body string) (bool, error) {
	var dup bool
	err := tx.QueryRowContext(ctx, duplicateQuery, strings.ToLower(email), siteID, pageKey, body).Scan(&dup)
	return dup, mapErr(err)
}

// firedRules returns the distinct non-empty names, sorted, so that
// concurrent writers touch rule_hits rows in the same order.
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

// changed reports whether a statement's result says it changed a row.
func changed(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, mapErr(err)
	}
	return n > 0, nil
}
