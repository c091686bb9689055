package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis deployment modes chosen by the scheme of redis_url.
const (
	redisSingle   = "single"
	redisCluster  = "cluster"
	redisSentinel = "sentinel"
)

// redisOptions turns redis_url into options for redis.NewUniversalClient and
// names the mode it chose. The scheme selects the deployment:
//
//	redis://[user:pass@]host:port/DB                  one server (rediss:// for TLS)
//	redis+cluster://[user:pass@]host:port?addr=host2:port&addr=...
//	                                                  Redis Cluster seed nodes (rediss+cluster:// for TLS)
//	redis+sentinel://[user:pass@]host:26379/DB?master_name=NAME&addr=host2:26379&password=MASTERPASS
//	                                                  Sentinel; user:pass authenticate to the sentinels,
//	                                                  the password query parameter to the master
//	                                                  (rediss+sentinel:// for TLS)
//
// After the "+cluster" / "+sentinel" suffix is removed, the URL is read by
// go-redis (ParseURL, ParseClusterURL, ParseFailoverURL), so their query
// parameters (pool_size, client_name, ...) are accepted. The network
// timeouts and retries are then fixed to short bounds whatever the URL says:
// a dead or stalled Redis must cost a request little, in every mode.
// It returns an error for an unknown scheme, a sentinel URL without
// master_name, or anything go-redis rejects.
func redisOptions(raw string) (*redis.UniversalOptions, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, password included; keep only
		// what is wrong with it.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, "", fmt.Errorf("redis_url: %w", err)
	}
	scheme := u.Scheme
	base, mode, ok := strings.Cut(scheme, "+")
	if !ok {
		mode = redisSingle
	}
	if (base != "redis" && base != "rediss") || (ok && mode != redisCluster && mode != redisSentinel) {
		return nil, "", fmt.Errorf("redis_url: unknown scheme %q (want redis, rediss, redis+cluster, redis+sentinel or their rediss+ forms)", scheme)
	}
	u.Scheme = base
	var opt *redis.UniversalOptions
	switch mode {
	case redisSingle:
		o, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, "", fmt.Errorf("redis_url: %w", err)
		}
		opt = &redis.UniversalOptions{
			Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username, Password: o.Password,
			TLSConfig: o.TLSConfig, ClientName: o.ClientName, Protocol: o.Protocol,
			PoolSize: o.PoolSize, MinIdleConns: o.MinIdleConns, MaxIdleConns: o.MaxIdleConns,
			MaxActiveConns: o.MaxActiveConns, ConnMaxIdleTime: o.ConnMaxIdleTime, ConnMaxLifetime: o.ConnMaxLifetime,
		}
	case redisCluster:
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, "", fmt.Errorf("redis_url: %w", err)
		}
		opt = &redis.UniversalOptions{
			Addrs: o.Addrs, Username: o.Username, Password: o.Password,
			TLSConfig: o.TLSConfig, ClientName: o.ClientName, Protocol: o.Protocol,
			PoolSize: o.PoolSize, MinIdleConns: o.MinIdleConns, MaxIdleConns: o.MaxIdleConns,
			MaxActiveConns: o.MaxActiveConns, ConnMaxIdleTime: o.ConnMaxIdleTime, ConnMaxLifetime: o.ConnMaxLifetime,
			MaxRedirects: o.MaxRedirects,
			// A single seed address must still make a cluster client.
			IsClusterMode: true,
		}
	case redisSentinel:
		o, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return nil, "", fmt.Errorf("redis_url: %w", err)
		}
		if o.MasterName == "" {
			return nil, "", fmt.Errorf("redis_url: a %s URL needs the master name (?master_name=NAME)", scheme)
		}
		opt = &redis.UniversalOptions{
			Addrs: o.SentinelAddrs, MasterName: o.MasterName, DB: o.DB,
			SentinelUsername: o.SentinelUsername, SentinelPassword: o.SentinelPassword,
			Username: o.Username, Password: o.Password,
			TLSConfig: o.TLSConfig, ClientName: o.ClientName, Protocol: o.Protocol,
			PoolSize: o.PoolSize, MinIdleConns: o.MinIdleConns, MaxIdleConns: o.MaxIdleConns,
			MaxActiveConns: o.MaxActiveConns, ConnMaxIdleTime: o.ConnMaxIdleTime, ConnMaxLifetime: o.ConnMaxLifetime,
		}
	}
	// The limiter, the bus and the thread cache each bound their calls
	// (100ms) through the context, which ContextTimeoutEnabled lets go-redis
	// honour on socket reads and while waiting for a pooled connection; the
	// timeouts here bound every other call (readiness). MaxRetries -1 means
	// none: go-redis reads 0 as its default of 3. In cluster mode
	// MaxRedirects still lets a MOVED/ASK reply be followed.
	opt.DialTimeout = 500 * time.Millisecond
	opt.ReadTimeout = 200 * time.Millisecond
	opt.WriteTimeout = 200 * time.Millisecond
	opt.PoolTimeout = 200 * time.Millisecond
	opt.MaxRetries = -1
	opt.ContextTimeoutEnabled = true
	return opt, mode, nil
}
