package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commentd/commentd/internal/comment"
)

// UpsertSite creates the site or updates its name, origins and rate limit,
// keeping its creation time. A zero CreatedAt or UpdatedAt is taken as now.
// Rate limits are stored with millisecond precision.
func (s *Store) UpsertSite(ctx context.Context, site comment.Site) error {
	if site.ID == "" {
		return comment.Invalid("id", "A site needs an id.")
	}
	err := s.write(ctx, func(tx pgx.Tx) error { return upsertSite(ctx, tx, site) })
	if err != nil {
		return fmt.Errorf("upsert site %q: %w", site.ID, err)
	}
	return nil
}

// Site returns the site with id, or an error wrapping comment.ErrNotFound.
func (s *Store) Site(ctx context.Context, id string) (comment.Site, error) {
	if !storable(id) {
		return comment.Site{}, fmt.Errorf("site %q: %w", id, comment.ErrNotFound)
	}
	site, err := findSite(ctx, s.pool, id)
	if err != nil {
		return comment.Site{}, fmt.Errorf("site %q: %w", id, mapErr(err))
	}
	return site, nil
}

// Sites returns every site, ordered by id. There are few sites, so each is
// read with the same query as Site.
func (s *Store) Sites(ctx context.Context) ([]comment.Site, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM sites ORDER BY id COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("sites: %w", mapErr(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("sites: %w", mapErr(err))
	}
	out := make([]comment.Site, 0, len(ids))
	for _, id := range ids {
		site, err := findSite(ctx, s.pool, id)
		if err != nil {
			return nil, fmt.Errorf("site %q: %w", id, mapErr(err))
		}
		out = append(out, site)
	}
	return out, nil
}

// Page returns the page key of site siteID, or an error wrapping
// comment.ErrNotFound.
func (s *Store) Page(ctx context.Context, siteID, key string) (comment.Page, error) {
	if !storable(siteID) || !storable(key) {
		return comment.Page{}, fmt.Errorf("page %q of site %q: %w", key, siteID, comment.ErrNotFound)
	}
	p, err := findPage(ctx, s.pool, siteID, key)
	if err != nil {
		return comment.Page{}, fmt.Errorf("page %q of site %q: %w", key, siteID, mapErr(err))
	}
	return p, nil
}

func upsertSite(ctx context.Context, tx dbtx, site comment.Site) error {
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
	_, err = tx.Exec(ctx, `
		INSERT INTO sites (id, name, origins, rate_every_ms, rate_burst, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET
			name = excluded.name,
			origins = excluded.origins,
			rate_every_ms = excluded.rate_every_ms,
			rate_burst = excluded.rate_burst,
			updated_at = excluded.updated_at`,
		site.ID, site.Name, origins, site.RateLimit.Every.Milliseconds(), site.RateLimit.Burst,
		site.CreatedAt, site.UpdatedAt)
	return err
}

func findSite(ctx context.Context, tx dbtx, id string) (comment.Site, error) {
	var (
		site    comment.Site
		origins []byte
		everyMS int64
	)
	err := tx.QueryRow(ctx, `
		SELECT id, name, origins, rate_every_ms, rate_burst, created_at, updated_at
		FROM sites WHERE id = $1`, id).
		Scan(&site.ID, &site.Name, &origins, &everyMS, &site.RateLimit.Burst, &site.CreatedAt, &site.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return comment.Site{}, comment.ErrNotFound
	}
	if err != nil {
		return comment.Site{}, err
	}
	if site.Origins, err = unmarshalList[string](origins); err != nil {
		return comment.Site{}, fmt.Errorf("decode origins: %w", err)
	}
	site.RateLimit.Every = time.Duration(everyMS) * time.Millisecond
	site.CreatedAt, site.UpdatedAt = site.CreatedAt.UTC(), site.UpdatedAt.UTC()
	return site, nil
}

// upsertPage creates the page, or fills in its URL and title where the
// stored ones are empty.
func upsertPage(ctx context.Context, tx execer, p comment.Page, at time.Time) error {
	// An existing page's row is locked only when there is something to fill
	// in. (ON CONFLICT DO UPDATE locks the row even when its WHERE is false,
	// and a wave of comments on one page would then queue on that row, each
	// holding it through its commit's log flush.)
	_, err := tx.Exec(ctx, `
		INSERT INTO pages (site_id, key, url, title, created_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (site_id, key) DO NOTHING`,
		p.SiteID, p.Key, p.URL, p.Title, at)
	if err != nil || (p.URL == "" && p.Title == "") {
		return err
	}
	_, err = tx.Exec(ctx, `
		UPDATE pages SET
			url = CASE WHEN url = '' THEN $3 ELSE url END,
			title = CASE WHEN title = '' THEN $4 ELSE title END
		WHERE site_id = $1 AND key = $2 AND ((url = '' AND $3 <> '') OR (title = '' AND $4 <> ''))`,
		p.SiteID, p.Key, p.URL, p.Title)
	return err
}

func findPage(ctx context.Context, tx dbtx, siteID, key string) (comment.Page, error) {
	var p comment.Page
	err := tx.QueryRow(ctx, `
		SELECT site_id, key, url, title FROM pages WHERE site_id = $1 AND key = $2`, siteID, key).
		Scan(&p.SiteID, &p.Key, &p.URL, &p.Title)
	if errors.Is(err, pgx.ErrNoRows) {
		return comment.Page{}, comment.ErrNotFound
	}
	return p, err
}
