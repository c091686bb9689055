package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// scenario is one kind of request, sent to both servers alike.
type scenario struct {
	name string
	// expect reports whether a status is a correct answer; anything else
	// counts as an error.
	expect func(status int) bool
	// submits is set when each 2xx answer stores a comment.
	submits bool
	// targeter makes the requests for one server. It is called once per
	// server, and the targeter it returns is used by concurrent workers.
	targeter func(*server) vegeta.Targeter
}

func statusIs(want int) func(int) bool { return func(got int) bool { return got == want } }

func status2xx(got int) bool { return got/100 == 2 }

// scenarios lists what the load test measures, in the order it runs them.
// The submissions come last: they change the data the others read.
func scenarios(opt options, pages []string, adminToken string, z sizes) []scenario {
	list := []scenario{
		{
			name:   fmt.Sprintf("thread read (%d comments)", z.firstTotal),
			expect: statusIs(http.StatusOK),
			targeter: func(s *server) vegeta.Targeter {
				ts := make([]vegeta.Target, len(pages))
				for i, p := range pages {
					ts[i] = vegeta.Target{Method: http.MethodGet, URL: s.base + threadPath(p)}
				}
				return roundRobin(ts)
			},
		},
		{
			name:   "thread read revalidated (304)",
			expect: statusIs(http.StatusNotModified),
			targeter: func(s *server) vegeta.Targeter {
				ts := make([]vegeta.Target, len(pages))
				for i, p := range pages {
					ts[i] = vegeta.Target{Method: http.MethodGet, URL: s.base + threadPath(p)}
					if etag, ok := s.etags[p]; ok {
						ts[i].Header = http.Header{"If-None-Match": {etag}}
					}
				}
				return roundRobin(ts)
			},
		},
		{
			name:   fmt.Sprintf("counts for %d pages", opt.countPages),
			expect: statusIs(http.StatusOK),
			targeter: func(s *server) vegeta.Targeter {
				// A sliding window: request i asks about pages i … i+countPages-1.
				ts := make([]vegeta.Target, len(pages))
				for i := range pages {
					window := make([]string, opt.countPages)
					for j := range window {
						window[j] = pages[(i+j)%len(pages)]
					}
					ts[i] = vegeta.Target{Method: http.MethodGet, URL: s.base + countsPath(window)}
				}
				return roundRobin(ts)
			},
		},
	}
	if opt.queue {
		auth := http.Header{"Authorization": {"Bearer " + adminToken}}
		queue := func(cursor string) func(*server) vegeta.Targeter {
			return func(s *server) vegeta.Targeter {
				return roundRobin([]vegeta.Target{{Method: http.MethodGet, URL: s.base + queuePath(cursor), Header: auth}})
			}
		}
		list = append(list,
			scenario{name: "moderation queue, page 1", expect: statusIs(http.StatusOK), targeter: queue("")},
			scenario{name: fmt.Sprintf("moderation queue, page %d", z.queuePage), expect: statusIs(http.StatusOK), targeter: queue(z.queueCursor)},
		)
	}
	run := randomHex(4)
	list = append(list, scenario{
		name:     "comment submission",
		expect:   status2xx,
		submits:  true,
		targeter: func(s *server) vegeta.Targeter { return submitTargeter(s.base, pages, run) },
	})
	return list
}

// roundRobin hands out ts in turn, safely for concurrent workers.
func roundRobin(ts []vegeta.Target) vegeta.Targeter {
	var n atomic.Uint64
	return func(t *vegeta.Target) error {
		*t = ts[(n.Add(1)-1)%uint64(len(ts))]
		return nil
	}
}

// submitTargeter makes JSON submissions spread over the pages, each from
// its own client address (X-Forwarded-For; consecutive requests fall in
// different /24 prefixes) with its own email and text, so that neither the
// rate limits nor the duplicate check refuse them. run keeps emails unique
// across runs sharing a Redis.
func submitTargeter(base string, pages []string, run string) vegeta.Targeter {
	var n atomic.Uint64
	url := base + "/api/v1/sites/" + siteID + "/comments"
	return func(t *vegeta.Target) error {
		i := n.Add(1)
		body, err := json.Marshal(submission{
			Page:  pages[i%uint64(len(pages))],
			Name:  fmt.Sprintf("Reader %d", i),
			Email: fmt.Sprintf("reader.%d.%s@loadtest.example.org", i, run),
			Body: fmt.Sprintf("Comment %d of run %s. I walked the new stretch on Sunday: the gravel is **firm** "+
				"and the fence by the lock is a good idea.", i, run),
		})
		if err != nil {
			return err
		}
		*t = vegeta.Target{Method: http.MethodPost, URL: url, Body: body, Header: http.Header{
			"Content-Type":    {"application/json"},
			"X-Forwarded-For": {fmt.Sprintf("10.%d.%d.%d", i&255, i>>8&255, i>>16&255)},
		}}
		return nil
	}
}

// attack sends requests from tr to s for d, as fast as workers concurrent
// requests (one keep-alive connection each) allow, and tallies the answers.
// It stops early when ctx is cancelled.
func attack(ctx context.Context, s *server, tr vegeta.Targeter, workers int, d time.Duration, expect func(int) bool) *tally {
	t := &tally{expect: expect, codes: map[int]int{}, failures: map[string]int{}}
	if d <= 0 {
		return t
	}
	a := vegeta.NewAttacker(
		vegeta.Client(s.client),
		vegeta.Workers(uint64(workers)),
		vegeta.MaxWorkers(uint64(workers)),
		vegeta.MaxBody(0), // answers are read to the end but not kept
		vegeta.Redirects(vegeta.NoFollow),
	)
	stop := context.AfterFunc(ctx, func() { a.Stop() })
	defer stop()
	cpu := s.proc.cpuTime()
	// A zero rate is vegeta's "as fast as the workers go".
	for r := range a.Attack(tr, vegeta.Rate{}, d, "") {
		t.add(r)
	}
	t.serverCPU = s.proc.cpuTime() - cpu
	return t
}

// tally sums up one attack.
type tally struct {
	expect    func(int) bool
	requests  int
	good      int
	codes     map[int]int    // by status
	failures  map[string]int // requests that got no answer, by error
	latencies []time.Duration
	first     time.Time // when the first request was sent
	end       time.Time // when the last answer arrived
	sorted    bool
	// serverCPU is the CPU time the server process used during the attack.
	serverCPU time.Duration
}

func (t *tally) add(r *vegeta.Result) {
	t.requests++
	t.latencies = append(t.latencies, r.Latency)
	if t.first.IsZero() || r.Timestamp.Before(t.first) {
		t.first = r.Timestamp
	}
	if end := r.End(); end.After(t.end) {
		t.end = end
	}
	if r.Code == 0 {
		t.failures[r.Error]++
		return
	}
	t.codes[int(r.Code)]++
	if t.expect(int(r.Code)) {
		t.good++
	}
}

// rate is the answered requests per second.
func (t *tally) rate() float64 {
	secs := t.end.Sub(t.first).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(t.requests) / secs
}

// cpuPerRequest is the server's CPU time per answered request.
func (t *tally) cpuPerRequest() time.Duration {
	if t.requests == 0 {
		return 0
	}
	return t.serverCPU / time.Duration(t.requests)
}

// errors counts the requests without the expected answer.
func (t *tally) errors() int { return t.requests - t.good }

// answered2xx counts the 2xx answers.
func (t *tally) answered2xx() int {
	n := 0
	for code, k := range t.codes {
		if code/100 == 2 {
			n += k
		}
	}
	return n
}

// quantile is the latency below which a fraction q of the requests
// answered (nearest rank).
func (t *tally) quantile(q float64) time.Duration {
	if len(t.latencies) == 0 {
		return 0
	}
	if !t.sorted {
		slices.Sort(t.latencies)
		t.sorted = true
	}
	i := int(math.Ceil(q*float64(len(t.latencies)))) - 1
	return t.latencies[min(max(i, 0), len(t.latencies)-1)]
}
