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

// errRedisDown stands for a Redis call not made because an earlier one
// failed since the last successful poll.
var errRedisDown = errors.New("redis failed since the last poll")

// bounded runs f with a context that ends after RedisTimeout and returns
// f's error, or the context's error once it ends, whichever comes first.
// f runs in its own goroutine because a go-redis client without
// ContextTimeoutEnabled ignores the deadline for socket reads; an
// abandoned f ends at the client's own read timeout, and its results must
// then not be read.
func (c *Cache) bounded(ctx context.Context, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.opt.RedisTimeout)
	defer cancel()
	done := make(chan error, 1) // buffered: an abandoned send must not block
	go func() { done <- f(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bump increments a site's version and returns the new value.
func (c *Cache) bump(ctx context.Context, siteID string) (int64, error) {
	var v int64
	err := c.bounded(ctx, func(ctx context.Context) error {
		n, err := c.opt.Redis.Incr(ctx, versionKey(siteID)).Result()
		v = n
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("increment thread version of site %q: %w", siteID, err)
	}
	return v, nil
}

// versions reads the versions of the given sites in one round trip (a
// pipeline of GETs rather than one MGET, which Redis Cluster refuses across
// slots). A site never changed has version 0.
func (c *Cache) versions(ctx context.Context, siteIDs []string) ([]int64, error) {
	cmds := make([]*redis.StringCmd, len(siteIDs))
	err := c.bounded(ctx, func(ctx context.Context) error {
		_, err := c.opt.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range siteIDs {
				cmds[i] = p.Get(ctx, versionKey(id))
			}
			return nil
		})
		return err
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
