package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/testenv"
)

// series is one sample of a scraped /metrics page.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

var labelRE = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// parseMetrics reads Prometheus' text format (comments skipped).
func parseMetrics(t *testing.T, body string) []series {
	t.Helper()
	var out []series
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cut := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[cut+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		s := series{name: line[:cut], labels: map[string]string{}, value: v}
		if i := strings.IndexByte(line[:cut], '{'); i >= 0 {
			s.name = line[:i]
			for _, m := range labelRE.FindAllStringSubmatch(line[i:cut], -1) {
				s.labels[m[1]] = m[2]
			}
		}
		out = append(out, s)
	}
	return out
}

// sum adds up the samples of name whose labels include want.
func sum(all []series, name string, want map[string]string) (total float64, found bool) {
next:
	for _, s := range all {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		total += s.value
		found = true
	}
	return total, found
}

func (in *instance) scrape(t *testing.T, base string) []series {
	t.Helper()
	resp, err := noRedirect.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %d", base, resp.StatusCode)
	}
	return parseMetrics(t, b.String())
}

// TestMetrics drives submissions of every kind and thread reads through a
// server with Redis and checks what /metrics then says.
func TestMetrics(t *testing.T) {
	site := testenv.UniqueName("metrics")
	in := start(t, setup{yaml: siteYAML(site, ""), env: map[string]string{"COMMENTD_REDIS_URL": testenv.RedisURL(t)}})
	page := "/article"

	// The burst is 3: three comments are held (every site holds comments
	// until its rules say otherwise), the fourth is refused.
	for i := range 3 {
		r := in.post(t, site, map[string]any{"page": page, "name": "N", "email": fmt.Sprintf("m%d@example.org", i), "body": fmt.Sprintf("comment %d", i)}, nil)
		if r.status != http.StatusCreated {
			t.Fatalf("submission %d: %d %s", i, r.status, r.body)
		}
	}
	if r := in.post(t, site, map[string]any{"page": page, "name": "N", "email": "m9@example.org", "body": "one too many"}, nil); r.status != http.StatusTooManyRequests {
		t.Fatalf("fourth submission: %d %s, want 429", r.status, r.body)
	}
	if r := in.post(t, site, map[string]any{"page": page, "name": "N", "email": "not an address", "body": ""}, nil); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid submission: %d %s, want 422", r.status, r.body)
	}
	if r := in.post(t, "no-such-site", map[string]any{"page": page, "name": "N", "email": "m@example.org", "body": "x"}, nil); r.status != http.StatusNotFound {
		t.Fatalf("submission to an unknown site: %d %s, want 404", r.status, r.body)
	}
	for range 2 {
		if r := in.call(t, "GET", "/api/v1/sites/"+site+"/comments?page="+page, nil, nil); r.status != http.StatusOK {
			t.Fatalf("thread: %d %s", r.status, r.body)
		}
	}
	// One page's count comes from its cached thread, the other's from the
	// database.
	if r := in.call(t, "GET", "/api/v1/sites/"+site+"/counts?page="+page+"&page=/uncached", nil, nil); r.status != http.StatusOK {
		t.Fatalf("counts: %d %s", r.status, r.body)
	}
	in.call(t, "GET", "/wp-login.php", nil, nil)

	all := in.scrape(t, in.base)
	eq := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"commentd_submissions_total", map[string]string{"site": site, "verdict": "pending"}, 3},
		{"commentd_submissions_total", map[string]string{"site": site, "verdict": "rate_limited"}, 1},
		{"commentd_submissions_total", map[string]string{"site": site, "verdict": "invalid"}, 1},
		{"commentd_submissions_total", map[string]string{"site": "", "verdict": "invalid"}, 1},
		{"commentd_submissions_total", map[string]string{"site": site, "verdict": "approved"}, 0},
		{"commentd_http_requests_total", map[string]string{"route": "/api/v1/sites/:site/comments", "method": "POST", "status": "201"}, 3},
		{"commentd_http_requests_total", map[string]string{"route": "/api/v1/sites/:site/comments", "method": "POST", "status": "429"}, 1},
		{"commentd_http_requests_total", map[string]string{"route": "/api/v1/sites/:site/comments", "method": "POST", "status": "422"}, 1},
		{"commentd_http_requests_total", map[string]string{"route": "/api/v1/sites/:site/comments", "method": "GET", "status": "200"}, 2},
		{"commentd_http_requests_total", map[string]string{"route": "unmatched", "method": "GET", "status": "404"}, 1},
		{"commentd_http_request_duration_seconds_count", map[string]string{"route": "/api/v1/sites/:site/comments", "method": "POST"}, 6},
		{"commentd_ratelimit_refusals_total", nil, 1},
		{"commentd_db_query_duration_seconds_count", map[string]string{"op": "create_comment"}, 3},
		{"commentd_db_query_duration_seconds_count", map[string]string{"op": "thread"}, 1},
		{"commentd_db_query_duration_seconds_count", map[string]string{"op": "counts"}, 1},
		// Before the rate limit: the refused fourth is compared too.
		{"commentd_db_query_duration_seconds_count", map[string]string{"op": "duplicate_check"}, 4},
		{"commentd_thread_cache_lookups_total", map[string]string{"result": "hit"}, 2},
	}
	for _, c := range eq {
		if got, _ := sum(all, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got, _ := sum(all, "commentd_redis_command_duration_seconds_count", nil); got < 1 {
		t.Errorf("commentd_redis_command_duration_seconds_count = %v, want > 0", got)
	}
	for _, s := range all {
		if s.name == "commentd_ratelimit_refusals_total" && !map[string]bool{"ip": true, "net": true, "email": true, "page": true, "site": true}[s.labels["bucket"]] {
			t.Errorf("refusal bucket %q", s.labels["bucket"])
		}
		if r, ok := s.labels["route"]; ok && r != "unmatched" && !strings.HasPrefix(r, "/") {
			t.Errorf("%s has route label %q", s.name, r)
		}
		if strings.Contains(s.labels["route"], site) || strings.Contains(s.labels["route"], "wp-login") {
			t.Errorf("%s has a raw path as its route label: %q", s.name, s.labels["route"])
		}
	}
}

// TestMetricsListen serves /metrics on its own address only.
func TestMetricsListen(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	in := start(t, setup{yaml: siteYAML("m", ""), env: map[string]string{"COMMENTD_METRICS_LISTEN": addr}})
	if r := in.call(t, "GET", "/metrics", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404", r.status)
	}
	all := in.scrape(t, "http://"+addr)
	if got, _ := sum(all, "commentd_http_requests_total", map[string]string{"route": "unmatched", "method": "GET", "status": "404"}); got != 1 {
		t.Errorf("the public 404 counted %v times, want 1", got)
	}
	if _, found := sum(all, "go_goroutines", nil); !found {
		t.Error("no go_goroutines on the metrics listener")
	}
}

// TestJSONLogsCarryRequestID: with log_format json every line is a JSON
// object, and the line a submission logs in the service names the request
// id its answer carried.
func TestJSONLogsCarryRequestID(t *testing.T) {
	in := start(t, setup{yaml: siteYAML("j", ""), env: map[string]string{"COMMENTD_LOG_FORMAT": "json"}})
	r := in.post(t, "j", map[string]any{"page": "/p", "name": "N", "email": "j@example.org", "body": "hello"}, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("submission: %d %s", r.status, r.body)
	}
	id := r.header.Get("X-Request-Id")
	if id == "" {
		t.Fatal("no X-Request-Id on the answer")
	}
	var submitted map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for submitted == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // the log is written in batches
		for line := range strings.Lines(in.stderr.String()) {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line is not JSON: %q: %v", line, err)
			}
			if rec["msg"] == "comment submitted" {
				submitted = rec
			}
		}
	}
	if submitted == nil {
		t.Fatalf("no \"comment submitted\" line:\n%s", in.stderr.String())
	}
	if got := submitted["request_id"]; got != id {
		t.Errorf("request_id = %v, want %q (X-Request-Id)", got, id)
	}
	if strings.Contains(in.stderr.String(), "j@example.org") {
		t.Error("the log holds the submitter's email address")
	}
}
