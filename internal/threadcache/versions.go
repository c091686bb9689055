package threadcache

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// versionKey is the Redis key of a site's version counter. The braces make
// the site id the hash tag, so that with Redis Cluster all of a site's keys
// live in one slot.
func versionKey(siteID string) string {
	return "commentd:{" + siteID + "}:thread-version"
}

// bump increments a site's version and returns the new value.
func (c *Cache) bump(ctx context.Context, siteID string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.RedisTimeout)
	defer cancel()
	v, err := c.opt.Redis.Incr(ctx, versionKey(siteID)).Result()
	if err != nil {
		return 0, fmt.Errorf("increment thread version of site %q: %w", siteID, err)
	}
	return v, nil
}

// versions reads the versions of the given sites in one round trip (a
// pipeline of GETs rather than one MGET, which Redis Cluster refuses across
// slots). A site never changed has version 0.
func (c *Cache) versions(ctx context.Context, siteIDs []string) ([]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.RedisTimeout)
	defer cancel()
	cmds := make([]*redis.StringCmd, len(siteIDs))
	_, err := c.opt.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range siteIDs {
			cmds[i] = p.Get(ctx, versionKey(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read thread versions: %w", err)
	}
	out := make([]int64, len(siteIDs))
	for i, cmd := range cmds {
		v, err := cmd.Int64()
		switch {
		case errors.Is(err, redis.Nil):
			v = 0
		case err != nil:
			return nil, fmt.Errorf("read thread version of site %q: %w", siteIDs[i], err)
		}
		out[i] = v
	}
	return out, nil
}
