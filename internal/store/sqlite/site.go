package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// UpsertSite creates the site or updates its name, origins and rate limit,
// keeping its creation time. A zero CreatedAt or UpdatedAt is taken as now.
// Rate limits are stored with millisecond precision.
func (s *Store) UpsertSite(ctx context.Context, site comment.Site) error {
	if site.ID == "" {
		return comment.Invalid("id", "A site needs an id.")
	}
	err := s.write(ctx, func(tx *sql.Tx) error { return upsertSite(ctx, tx, site) })
	if err != nil {
		return fmt.Errorf("upsert site %q: %w", site.ID, err)
	}
	return nil
}

// Site returns the site with id, or an error wrapping comment.ErrNotFound.
func (s *Store) Site(ctx context.Context, id string) (comment.Site, error) {
	var site comment.Site
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		site, err = findSite(ctx, tx, id)
		return err
	})
	if err != nil {
		return comment.Site{}, fmt.Errorf("site %q: %w", id, err)
	}
	return site, nil
}

// Sites returns every site, ordered by id. There are few sites, so each is
// read with the same query as Site.
func (s *Store) Sites(ctx context.Context) ([]comment.Site, error) {
	var out []comment.Site
	err := s.read(ctx, func(tx *sql.Tx) error {
		ids, err := siteIDs(ctx, tx)
		if err != nil {
			return err
		}
		for _, id := range ids {
			site, err := findSite(ctx, tx, id)
			if err != nil {
				return err
			}
			out = append(out, site)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sites: %w", err)
	}
	return out, nil
}

func siteIDs(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM sites ORDER BY id`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr(err)
		}
		ids = append(ids, id)
	}
	return ids, mapErr(rows.Err())
}

// Page returns the page key of site siteID, or an error wrapping
// comment.ErrNotFound.
func (s *Store) Page(ctx context.Context, siteID, key string) (comment.Page, error) {
	var p comment.Page
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		p, err = findPage(ctx, tx, siteID, key)
		return err
	})
	if err != nil {
		return comment.Page{}, fmt.Errorf("page %q of site %q: %w", key, siteID, err)
	}
	return p, nil
}

func upsertSite(ctx context.Context, tx *sql.Tx, site comment.Site) error {
	origins, err := marshalList(site.Origins)
	if err != nil {
		return fmt.Errorf("encode origins: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if site.UpdatedAt.IsZero() {
		site.UpdatedAt = now
	}
	if site.CreatedAt.IsZero() {
		site.CreatedAt = site.UpdatedAt
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO sites (id, name, origins, rate_every_ms, rate_burst, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			name = excluded.name,
			origins = excluded.origins,
			rate_every_ms = excluded.rate_every_ms,
			rate_burst = excluded.rate_burst,
			updated_at = excluded.updated_at`,
		site.ID, site.Name, origins, site.RateLimit.Every.Milliseconds(), site.RateLimit.Burst,
		micros(site.CreatedAt), micros(site.UpdatedAt))
	return mapErr(err)
}

const findSiteSQL = `
	SELECT id, name, origins, rate_every_ms, rate_burst, created_at, updated_at
	FROM sites WHERE id = ?`

func findSite(ctx context.Context, tx querier, id string) (comment.Site, error) {
	var (
		site            comment.Site
		origins         string
		everyMS         int64
		created, update int64
	)
	err := tx.QueryRowContext(ctx, findSiteSQL, id).
		Scan(&site.ID, &site.Name, &origins, &everyMS, &site.RateLimit.Burst, &created, &update)
	if errors.Is(err, sql.ErrNoRows) {
		return comment.Site{}, comment.ErrNotFound
	}
	if err != nil {
		return comment.Site{}, mapErr(err)
	}
	if site.Origins, err = unmarshalList[string](origins); err != nil {
		return comment.Site{}, fmt.Errorf("decode origins: %w", err)
	}
	site.RateLimit.Every = time.Duration(everyMS) * time.Millisecond
	site.CreatedAt, site.UpdatedAt = fromMicros(created), fromMicros(update)
	return site, nil
}

const upsertPageSQL = `
	INSERT INTO pages (site_id, key, url, title, created_at)
	VALUES (?, ?, ?, ?, ?)` + upsertPageConflict

// upsertPageConflict is what an insert into pages does for a page that
// exists: fill in an empty URL or title.
const upsertPageConflict = `
	ON CONFLICT (site_id, key) DO UPDATE SET
		url = CASE WHEN pages.url = '' THEN excluded.url ELSE pages.url END,
		title = CASE WHEN pages.title = '' THEN excluded.title ELSE pages.title END
	WHERE (pages.url = '' AND excluded.url <> '') OR (pages.title = '' AND excluded.title <> '')`

// upsertPage creates the page, or fills in its URL and title where the
// stored ones are empty.
func upsertPage(ctx context.Context, tx querier, p comment.Page, at time.Time) error {
	_, err := tx.ExecContext(ctx, upsertPageSQL,
		p.SiteID, p.Key, p.URL, p.Title, micros(at))
	return mapErr(err)
}

func findPage(ctx context.Context, tx *sql.Tx, siteID, key string) (comment.Page, error) {
	var p comment.Page
	err := tx.QueryRowContext(ctx, `
		SELECT site_id, key, url, title FROM pages WHERE site_id = ? AND key = ?`, siteID, key).
		Scan(&p.SiteID, &p.Key, &p.URL, &p.Title)
	if errors.Is(err, sql.ErrNoRows) {
		return comment.Page{}, comment.ErrNotFound
	}
	return p, mapErr(err)
}
