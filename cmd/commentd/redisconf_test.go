package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisOptions(t *testing.T) {
	tests := []struct {
		name       string
		url        string
		mode       string
		addrs      []string
		master     string
		db         int
		user, pass string
		sentPass   string
		tls        bool
		client     string // "single", "cluster" or "sentinel": what NewUniversalClient builds
	}{
		{name: "single", url: "redis://127.0.0.1:6379/3", mode: redisSingle, addrs: []string{"127.0.0.1:6379"}, db: 3, client: "single"},
		{name: "single default port", url: "redis://cache.example", mode: redisSingle, addrs: []string{"cache.example:6379"}, client: "single"},
		{name: "single tls with password", url: "rediss://u:pw@cache.example:6380/1", mode: redisSingle, addrs: []string{"cache.example:6380"}, db: 1, user: "u", pass: "pw", tls: true, client: "single"},
		{name: "cluster", url: "redis+cluster://:pw@n1:6379?addr=n2:6379&addr=n3:6379", mode: redisCluster, addrs: []string{"n1:6379", "n2:6379", "n3:6379"}, pass: "pw", client: "cluster"},
		{name: "cluster one seed", url: "rediss+cluster://n1:7000", mode: redisCluster, addrs: []string{"n1:7000"}, tls: true, client: "cluster"},
		{name: "sentinel", url: "redis+sentinel://:spw@s1:26379/2?master_name=main&addr=s2:26379&password=mpw", mode: redisSentinel, addrs: []string{"s1:26379", "s2:26379"}, master: "main", db: 2, pass: "mpw", sentPass: "spw", client: "sentinel"},
		{name: "sentinel tls", url: "rediss+sentinel://s1:26379?master_name=main", mode: redisSentinel, addrs: []string{"s1:26379"}, master: "main", tls: true, client: "sentinel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt, mode, err := redisOptions(tt.url)
			if err != nil {
				t.Fatalf("redisOptions(%q): %v", tt.url, err)
			}
			if mode != tt.mode {
				t.Errorf("mode = %q, want %q", mode, tt.mode)
			}
			if !slices.Equal(opt.Addrs, tt.addrs) {
				t.Errorf("addrs = %v, want %v", opt.Addrs, tt.addrs)
			}
			if opt.MasterName != tt.master {
				t.Errorf("master name = %q, want %q", opt.MasterName, tt.master)
			}
			if opt.DB != tt.db {
				t.Errorf("db = %d, want %d", opt.DB, tt.db)
			}
			if opt.Username != tt.user || opt.Password != tt.pass {
				t.Errorf("user/password = %q/%q, want %q/%q", opt.Username, opt.Password, tt.user, tt.pass)
			}
			if opt.SentinelPassword != tt.sentPass {
				t.Errorf("sentinel password = %q, want %q", opt.SentinelPassword, tt.sentPass)
			}
			if got := opt.TLSConfig != nil; got != tt.tls {
				t.Errorf("TLS on = %v, want %v", got, tt.tls)
			}
			bounds := []struct {
				name      string
				got, want time.Duration
			}{
				{"dial timeout", opt.DialTimeout, 500 * time.Millisecond},
				{"read timeout", opt.ReadTimeout, 200 * time.Millisecond},
				{"write timeout", opt.WriteTimeout, 200 * time.Millisecond},
				{"pool timeout", opt.PoolTimeout, 200 * time.Millisecond},
			}
			for _, b := range bounds {
				if b.got != b.want {
					t.Errorf("%s = %v, want %v", b.name, b.got, b.want)
				}
			}
			if opt.MaxRetries != -1 || !opt.ContextTimeoutEnabled {
				t.Errorf("max retries = %d, context timeouts = %v; want -1, true", opt.MaxRetries, opt.ContextTimeoutEnabled)
			}

			c := redis.NewUniversalClient(opt)
			defer c.Close()
			var got string
			switch c.(type) {
			case *redis.Client:
				// NewFailoverClient also returns a *redis.Client; the
				// master name tells the two apart.
				got = "single"
				if opt.MasterName != "" {
					got = "sentinel"
				}
			case *redis.ClusterClient:
				got = "cluster"
			default:
				got = "other"
			}
			if got != tt.client {
				t.Errorf("client kind = %s (%T), want %s", got, c, tt.client)
			}
		})
	}
}

func TestRedisOptionsRejects(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		wantErr string
	}{
		{name: "other scheme", url: "http://127.0.0.1:6379", wantErr: "unknown scheme"},
		{name: "unknown mode", url: "redis+shard://n1:6379", wantErr: "unknown scheme"},
		{name: "plus single", url: "redis+single://n1:6379", wantErr: "unknown scheme"},
		{name: "sentinel without master", url: "redis+sentinel://s1:26379/0", wantErr: "master_name"},
		{name: "bad db", url: "redis://n1:6379/x", wantErr: "redis_url"},
		{name: "unknown option", url: "redis+cluster://n1:6379?bogus=1", wantErr: "redis_url"},
		{name: "sentinel bad db", url: "redis+sentinel://s1:26379/a/b?master_name=m", wantErr: "redis_url"},
		{name: "bad port with password", url: "redis://u:s3cret@n1:bad/0", wantErr: "invalid port"},
		{name: "bad db with password", url: "redis://u:s3cret@n1:6379/x", wantErr: "redis_url"},
		{name: "cluster option with password", url: "redis+cluster://u:s3cret@n1:6379?bogus=1", wantErr: "redis_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := redisOptions(tt.url)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "redis_url") {
				t.Errorf("redisOptions(%q) err = %v, want one naming redis_url and mentioning %q", tt.url, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("redisOptions(%q) err = %v repeats the password", tt.url, err)
			}
		})
	}
}

func TestRedisOptionsURLCannotLoosenBounds(t *testing.T) {
	opt, _, err := redisOptions("redis://127.0.0.1:6379/0?read_timeout=30s&max_retries=5&pool_size=7")
	if err != nil {
		t.Fatal(err)
	}
	if opt.ReadTimeout != 200*time.Millisecond || opt.MaxRetries != -1 {
		t.Errorf("read timeout = %v, max retries = %d; want 200ms, -1", opt.ReadTimeout, opt.MaxRetries)
	}
	if opt.PoolSize != 7 {
		t.Errorf("pool size = %d, want 7 (taken from the URL)", opt.PoolSize)
	}
}
