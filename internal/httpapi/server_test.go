package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/commentd/commentd/internal/account"
	"github.com/commentd/commentd/internal/auth"
	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/events"
	"github.com/commentd/commentd/internal/markup"
	"github.com/commentd/commentd/internal/moderation"
	"github.com/commentd/commentd/internal/ratelimit"
	"github.com/commentd/commentd/internal/store/sqlite"
	"github.com/commentd/commentd/internal/threadcache"
)

const testAdminToken = "test-admin-token-0123456789"

// testServer is the real handler over a real SQLite file, with the
// in-process limiter.
type testServer struct {
	*httptest.Server
	store    *sqlite.Store
	accounts *account.Service
	bus      *events.Local
	// cacheHits counts thread and count lookups answered by the cache.
	cacheHits prometheus.Counter
}

type serverOpts struct {
	heartbeat time.Duration
	burst     int
	trusted   []netip.Prefix
	tokens    []auth.Token
	// offers is Deps.OffersReplies; nil: no site offers reply notifications.
	offers func(siteID string) bool
}

func newTestServer(t *testing.T, o serverOpts) *testServer {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if o.burst == 0 {
		o.burst = 10000
	}
	for _, s := range []comment.Site{
		{ID: "blog", Name: "Blog", Origins: []string{"https://blog.example"}, RateLimit: comment.RateLimit{Every: 15 * time.Second, Burst: o.burst}},
		{ID: "other", Name: "Other", Origins: []string{"https://other.example"}, RateLimit: comment.RateLimit{Every: 15 * time.Second, Burst: o.burst}},
	} {
		if err := st.UpsertSite(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	bus := events.NewLocal()
	limiter := ratelimit.NewLocal(time.Now)
	// The thread cache is on, as in the service, so that every test that
	// reads a thread after a change also checks that the change dropped it.
	hits := prometheus.NewCounter(prometheus.CounterOpts{Name: "hits", Help: "Thread cache hits."})
	threads := threadcache.New(threadcache.Options{Bus: bus, Hits: hits})
	svc := moderation.New(moderation.Deps{Store: st, Limiter: limiter, Renderer: markup.NewRenderer(), Secret: []byte("k"), Events: bus, Threads: threads})
	tokens := append([]auth.Token{auth.AdminToken(testAdminToken)}, o.tokens...)
	accounts, err := account.New(account.Deps{Store: st, Limiter: limiter, Static: auth.NewTokens(tokens...)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewServer(Deps{Moderation: svc, Accounts: accounts, Events: bus, Threads: threads,
		Readers: st, Secret: testReaderSecret, OffersReplies: o.offers}, Options{TrustedProxies: o.trusted, Heartbeat: o.heartbeat})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, store: st, accounts: accounts, bus: bus, cacheHits: hits}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (s *testServer) do(t *testing.T, method, path, contentType string, body io.Reader, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (s *testServer) postJSON(t *testing.T, site string, v any) response {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return s.do(t, http.MethodPost, "/api/v1/sites/"+site+"/comments", "application/json", bytes.NewReader(b), nil)
}

func (s *testServer) postForm(t *testing.T, site string, f url.Values) response {
	t.Helper()
	return s.do(t, http.MethodPost, "/api/v1/sites/"+site+"/comments", "application/x-www-form-urlencoded", strings.NewReader(f.Encode()), nil)
}

func (s *testServer) mod(t *testing.T, method, path, token string) response {
	t.Helper()
	h := map[string]string{}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return s.do(t, method, "/api/v1/moderation"+path, "", nil, h)
}

// valid returns a submission that passes every check.
// submissions numbers the bodies valid makes, so that no two are
// duplicates of each other (which the server refuses with 409).
var submissions atomic.Int64

func valid() map[string]any {
	n := submissions.Add(1)
	return map[string]any{"page": "/2026/11/towpath", "name": "Ann Reader", "email": "ann@example.org", "body": fmt.Sprintf("Lovely *walk*, number %d.", n)}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

type submitted struct {
	Comment struct {
		ID       string  `json:"id"`
		ParentID *string `json:"parent_id"`
		Author   struct {
			Name    string `json:"name"`
			Website string `json:"website"`
		} `json:"author"`
		BodyHTML string `json:"body_html"`
	} `json:"comment"`
	Status string `json:"status"`
}

// submitOK posts v and returns the new comment's id.
func (s *testServer) submitOK(t *testing.T, site string, v map[string]any) string {
	t.Helper()
	r := s.postJSON(t, site, v)
	if r.status != http.StatusCreated {
		t.Fatalf("submit: status %d, body %s", r.status, r.body)
	}
	var got submitted
	r.json(t, &got)
	return got.Comment.ID
}

func (s *testServer) approve(t *testing.T, id string) {
	t.Helper()
	if r := s.mod(t, http.MethodPost, "/comments/"+id+"/approve", testAdminToken); r.status != http.StatusOK {
		t.Fatalf("approve %s: status %d, body %s", id, r.status, r.body)
	}
}

// userToken creates a user with the given roles and returns an API token of
// theirs.
func (s *testServer) userToken(t *testing.T, email string, roles map[string]comment.Role) string {
	t.Helper()
	ctx := context.Background()
	u, err := s.accounts.CreateUser(ctx, email, "", false)
	if err != nil {
		t.Fatal(err)
	}
	for site, role := range roles {
		if err := s.accounts.Grant(ctx, comment.Principal{Admin: true}, email, site, role); err != nil {
			t.Fatal(err)
		}
	}
	plain, _, err := s.accounts.CreateToken(ctx, comment.Principal{UserID: u.ID, Name: email}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

func mustPrefixes(t *testing.T, cidrs ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}
