package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/testenv"
)

// TestThreeInstances runs three servers against one PostgreSQL schema and
// one Redis, as a deployment behind a load balancer would, and checks that
// what one instance learns the others act on: approvals reach the thread
// cache of another, the per-IP limit is one bucket, a moderator's event
// stream on one carries comments posted to another, and a rules change on
// one applies on the others.
func TestThreeInstances(t *testing.T) {
	site := testenv.UniqueName("s")
	env := map[string]string{
		"COMMENTD_DATABASE_URL":    pgSchemaURL(t),
		"COMMENTD_REDIS_URL":       testenv.RedisURL(t),
		"COMMENTD_SECRET":          "three-instances-secret",
		"COMMENTD_ADMIN_TOKEN":     "three-instances-admin-token",
		"COMMENTD_TRUSTED_PROXIES": "127.0.0.1/32",
	}
	yaml := siteYAML(site, "")
	in1 := start(t, setup{yaml: yaml, env: env})
	in2 := start(t, setup{yaml: yaml, env: env})
	in3 := start(t, setup{yaml: yaml, env: env})

	// Every post but the rate-limit ones comes from its own address and
	// email, so that the buckets of one check do not spill into another.
	n := 0
	postOn := func(in *instance, page, body, ip string) (string, int) {
		t.Helper()
		n++
		if ip == "" {
			ip = fmt.Sprintf("198.51.100.%d", n)
		}
		r := in.post(t, site, map[string]any{"page": page, "name": "Reader", "email": fmt.Sprintf("r%d@example.org", n), "body": body},
			map[string]string{"X-Forwarded-For": ip})
		var got struct{ Comment struct{ ID string } }
		if r.status == 201 {
			r.decode(t, &got)
		}
		return got.Comment.ID, r.status
	}
	thread := func(in *instance, page string) threadBody {
		t.Helper()
		var th threadBody
		r := in.call(t, "GET", "/api/v1/sites/"+site+"/comments?page="+url.QueryEscape(page), nil, nil)
		if r.status != 200 {
			t.Fatalf("thread on %s: status %d", in.base, r.status)
		}
		r.decode(t, &th)
		return th
	}

	t.Run("approval on one reaches the cached thread of another", func(t *testing.T) {
		page := "/approval"
		id, status := postOn(in1, page, "Held until approved.", "")
		if status != 201 {
			t.Fatalf("post on instance 1: status %d", status)
		}
		// Instance 3 caches the thread without the comment first, so only an
		// invalidation from another instance can make it appear there.
		if th := thread(in3, page); th.Total != 0 {
			t.Fatalf("pending comment public on instance 3: %+v", th)
		}
		if r := in2.mod(t, "POST", "/comments/"+id+"/approve"); r.status != 200 {
			t.Fatalf("approve on instance 2: status %d, body %s", r.status, r.body)
		}
		deadline := time.Now().Add(time.Second)
		for {
			th := thread(in3, page)
			if th.Total == 1 && th.Comments[0].ID == id {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("1 s after approval on instance 2, instance 3 still serves %+v", th)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("per-IP limit is one bucket across all three", func(t *testing.T) {
		// rate_limit burst 3: three posts from one address pass, wherever
		// they land, and the next ones are refused on every instance.
		var got []int
		for _, in := range []*instance{in1, in2, in3, in1, in2, in3} {
			_, status := postOn(in, "/limit", "From one address.", "192.0.2.33")
			got = append(got, status)
		}
		want := []int{201, 201, 201, 429, 429, 429}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("statuses rotating over three instances = %v, want %v", got, want)
		}
	})

	t.Run("event stream on one carries a comment posted to another", func(t *testing.T) {
		heldEventOn(t, in1, site, func() string {
			id, status := postOn(in3, "/events", "Watched from elsewhere.", "")
			if status != 201 {
				t.Fatalf("post on instance 3: status %d", status)
			}
			return id
		})
	})

	t.Run("rules change on one applies on the others", func(t *testing.T) {
		// Instances 1 and 3 judge a comment first, so they hold the old
		// rules in memory when the change is made on instance 2.
		const phrase = "cheap watches"
		for i, in := range []*instance{in1, in3} {
			if _, status := postOn(in, "/rules", "Selling "+phrase+" today.", ""); status != 201 {
				t.Fatalf("before the change, instance %d: status %d, want 201", 2*i+1, status)
			}
		}
		doc := in2.rules(t, site)
		doc["block_words"] = []string{phrase}
		if r := in2.putRules(t, site, doc); r.status != 200 {
			t.Fatalf("put rules on instance 2: %d %s", r.status, r.body)
		}
		for i, in := range []*instance{in1, in3} {
			deadline := time.Now().Add(3 * time.Second)
			for {
				_, status := postOn(in, "/rules", "Selling "+phrase+" today.", "")
				if status == 403 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("instance %d still accepts the blocked phrase (status %d)", 2*i+1, status)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	})
}

// heldEventOn opens the moderation event stream of watcher with its admin
// token, then calls post, which submits a comment (usually to another
// instance) and returns its id, and waits up to 5 s for the comment.held
// event of that comment of site on the stream. The publishing instance
// delivers its own events directly, so an event seen on another instance
// crossed Redis.
func heldEventOn(t *testing.T, watcher *instance, site string, post func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", watcher.base+"/api/v1/moderation/events", nil)
	req.Header.Set("Authorization", "Bearer "+watcher.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream on %s: %d %s", watcher.base, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Scan() // "retry: ..." once the stream is open
	id := post()
	// The scan ends when ctx does, so a missing event fails below rather
	// than hanging the test.
	found := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if l := lines.Text(); strings.HasPrefix(l, "data: ") && strings.Contains(l, id) {
				found <- l
				return
			}
		}
		close(found)
	}()
	select {
	case l, ok := <-found:
		if !ok {
			t.Fatalf("stream on %s ended without the comment %s", watcher.base, id)
		}
		if !strings.Contains(l, `"type":"comment.held"`) || !strings.Contains(l, `"site":"`+site+`"`) {
			t.Errorf("event = %s, want comment.held of site %s", l, site)
		}
		if strings.Contains(l, "@") {
			t.Errorf("event carries an email: %s", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no comment.held event on %s within 5 s for the comment %s", watcher.base, id)
	}
}
