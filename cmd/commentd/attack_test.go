package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/testenv"
)

// The tests in this file attack the real server over HTTP: spoofed client
// addresses, hostile bodies, slow clients, guessed passwords, cross-site
// posts, and a crawl of every public route for private data.

// Timeouts of attackYAML, short so that slow clients are cut off within a
// test.
const (
	attackHeaderTimeout = 2 * time.Second
	attackReadTimeout   = 3 * time.Second
)

// attackYAML configures the given sites with short read timeouts and a rate
// limit of burst comments that does not refill during a test (one more per
// ten minutes), so that counts of accepted comments are exact.
func attackYAML(burst int, sites ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `listen: 127.0.0.1:0
database_url: unused.db
http: {read_header_timeout: %s, read_timeout: %s, write_timeout: 10s, idle_timeout: 10s, shutdown_timeout: 5s}
rate_limit: {every: 10m, burst: %d}
sites:
`, attackHeaderTimeout, attackReadTimeout, burst)
	for _, s := range sites {
		fmt.Fprintf(&b, "  - id: %s\n    name: Site %s\n    origins: [https://news.example, http://127.0.0.1:8080]\n", s, s)
	}
	return b.String()
}

// postFrom submits v as JSON with the given headers, which may repeat.
func (in *instance) postFrom(t *testing.T, site string, v any, h http.Header) result {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, in.base+"/api/v1/sites/"+site+"/comments", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, vals := range h {
		for _, val := range vals {
			req.Header.Add(k, val)
		}
	}
	return in.do(t, req)
}

// do sends req without following redirects and reads the whole answer.
func (in *instance) do(t *testing.T, req *http.Request) result {
	t.Helper()
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

// createdID is the id in a 201 answer to a submission.
func createdID(t *testing.T, r result) string {
	t.Helper()
	var c struct {
		Comment struct{ ID string } `json:"comment"`
	}
	r.decode(t, &c)
	if c.Comment.ID == "" {
		t.Fatalf("no comment id in %d %s", r.status, r.body)
	}
	return c.Comment.ID
}

// stored is a comment as a moderator sees it.
type stored struct {
	Status    string `json:"status"`
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
}

func (in *instance) stored(t *testing.T, id string) stored {
	t.Helper()
	r := in.mod(t, "GET", "/comments/"+id)
	if r.status != http.StatusOK {
		t.Fatalf("get %s as moderator: %d %s", id, r.status, r.body)
	}
	var v struct {
		Comment stored `json:"comment"`
	}
	r.decode(t, &v)
	return v.Comment
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// randomIPv4 is an address outside 127.0.0.0/8, so never the test's peer.
func randomIPv4() string {
	b := randomBytes(4)
	return fmt.Sprintf("%d.%d.%d.%d", 11+b[0]%100, b[1], b[2], b[3]|1)
}

// TestClientAddressSpoofing: the client address that rate limits key on is
// the one the trusted proxy saw, in one spelling, grouped per IPv6 /64, and
// no header a client chooses can change it.
func TestClientAddressSpoofing(t *testing.T) {
	// A site limit of 3 gives each address a burst of 3 and each /24 or
	// /64 a burst of 12 (defaultRulesFor), none refilling within the test.
	in := start(t, setup{
		yaml: attackYAML(3, "v6net", "v4net", "mapped", "hops", "garbage", "headers"),
		env:  map[string]string{"COMMENTD_TRUSTED_PROXIES": "127.0.0.1/32"},
	})
	n := 0
	post := func(t *testing.T, site string, h http.Header) result {
		t.Helper()
		n++
		return in.postFrom(t, site, map[string]any{"page": "/p", "name": "N", "email": fmt.Sprintf("spoof%d@example.org", n), "body": fmt.Sprintf("comment %d", n)}, h)
	}
	xff := func(v ...string) http.Header { return http.Header{"X-Forwarded-For": v} }
	expect := func(t *testing.T, what string, r result, want int) {
		t.Helper()
		if r.status != want {
			t.Fatalf("%s: status %d, want %d; body %s", what, r.status, want, r.body)
		}
	}

	t.Run("IPv6 clients share one bucket per /64", func(t *testing.T) {
		for i := range 12 {
			low := randomBytes(8)
			ip := fmt.Sprintf("2001:db8:a:1:%x:%x:%x:%x", uint16(low[0])<<8|uint16(low[1]), uint16(low[2])<<8|uint16(low[3]), uint16(low[4])<<8|uint16(low[5]), uint16(low[6])<<8|uint16(low[7])|1)
			expect(t, fmt.Sprintf("address %d in the /64 (%s)", i+1, ip), post(t, "v6net", xff(ip)), http.StatusCreated)
		}
		for _, ip := range []string{"2001:db8:a:1::dead", "2001:0db8:000a:0001:ffff:ffff:ffff:fffe", "[2001:db8:a:1::beef]"} {
			r := post(t, "v6net", xff(ip))
			expect(t, "13th address in the /64: "+ip, r, http.StatusTooManyRequests)
			if r.header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		}
		for _, ip := range []string{"2001:db8:a:2::1", "2001:db8:a:3::1", "2001:db8:b:1::1"} {
			expect(t, "address in another /64: "+ip, post(t, "v6net", xff(ip)), http.StatusCreated)
		}
	})

	t.Run("IPv4 clients share one bucket per /24", func(t *testing.T) {
		for i := range 12 {
			expect(t, fmt.Sprintf("address %d in the /24", i+1), post(t, "v4net", xff(fmt.Sprintf("192.0.2.%d", 10+i))), http.StatusCreated)
		}
		expect(t, "13th address in the /24", post(t, "v4net", xff("192.0.2.200")), http.StatusTooManyRequests)
		expect(t, "address in another /24", post(t, "v4net", xff("192.0.3.200")), http.StatusCreated)
	})

	t.Run("IPv4-mapped IPv6 is the IPv4 address", func(t *testing.T) {
		expect(t, "198.51.100.7", post(t, "mapped", xff("198.51.100.7")), http.StatusCreated)
		mapped := post(t, "mapped", xff("::ffff:198.51.100.7"))
		expect(t, "::ffff:198.51.100.7", mapped, http.StatusCreated)
		expect(t, "::ffff:c633:6407", post(t, "mapped", xff("::ffff:c633:6407")), http.StatusCreated)
		expect(t, "fourth from 198.51.100.7, in brackets", post(t, "mapped", xff("[::ffff:198.51.100.7]")), http.StatusTooManyRequests)
		expect(t, "fourth from 198.51.100.7", post(t, "mapped", xff("198.51.100.7")), http.StatusTooManyRequests)
		if got := in.stored(t, createdID(t, mapped)).IP; got != "198.51.100.7" {
			t.Errorf("stored ip = %q, want 198.51.100.7", got)
		}
	})

	t.Run("hops a client adds before the proxy's are ignored", func(t *testing.T) {
		const real = "203.0.113.50"
		first := post(t, "hops", xff(randomIPv4()+", "+randomIPv4()+", "+real))
		expect(t, "two spoofed hops", first, http.StatusCreated)
		expect(t, "spoofed hop on its own header line", post(t, "hops", xff(randomIPv4(), real)), http.StatusCreated)
		expect(t, "garbage and a spoofed hop", post(t, "hops", xff("garbage, "+randomIPv4()+", "+real)), http.StatusCreated)
		expect(t, "a spoofed trusted hop", post(t, "hops", xff("127.0.0.1, "+real)), http.StatusTooManyRequests)
		expect(t, "another spoofed hop", post(t, "hops", xff(randomIPv4()+","+real)), http.StatusTooManyRequests)
		if got := in.stored(t, createdID(t, first)).IP; got != real {
			t.Errorf("stored ip = %q, want %s (the address the proxy saw)", got, real)
		}
	})

	t.Run("an unreadable last hop counts as the proxy itself", func(t *testing.T) {
		first := post(t, "garbage", xff("not-an-ip"))
		expect(t, "not-an-ip", first, http.StatusCreated)
		expect(t, "999.1.1.1", post(t, "garbage", xff("999.1.1.1")), http.StatusCreated)
		expect(t, "address then garbage", post(t, "garbage", xff("203.0.113.9, <script>")), http.StatusCreated)
		expect(t, "zone", post(t, "garbage", xff("fe80::1%eth0")), http.StatusTooManyRequests)
		expect(t, "empty", post(t, "garbage", xff("")), http.StatusTooManyRequests)
		if got := in.stored(t, createdID(t, first)).IP; got != "127.0.0.1" {
			t.Errorf("stored ip = %q, want the proxy 127.0.0.1", got)
		}
	})

	t.Run("only X-Forwarded-For is believed from the proxy", func(t *testing.T) {
		var statuses []int
		var first string
		for i := range 6 {
			ip := randomIPv4()
			r := post(t, "headers", http.Header{
				"X-Real-Ip": {ip}, "Forwarded": {"for=" + ip}, "True-Client-Ip": {ip}, "Cf-Connecting-Ip": {ip}, "X-Client-Ip": {ip},
			})
			statuses = append(statuses, r.status)
			if i == 0 && r.status == http.StatusCreated {
				first = createdID(t, r)
			}
		}
		if fmt.Sprint(statuses) != "[201 201 201 429 429 429]" {
			t.Fatalf("statuses = %v, want three accepted, then the proxy's bucket empty", statuses)
		}
		if got := in.stored(t, first).IP; got != "127.0.0.1" {
			t.Errorf("stored ip = %q, want 127.0.0.1", got)
		}
	})

	t.Run("untrusted peer", func(t *testing.T) {
		// Proxies are configured, but the test's address is not one of them.
		other := start(t, setup{yaml: attackYAML(3, "s"), env: map[string]string{"COMMENTD_TRUSTED_PROXIES": "10.0.0.0/8"}})
		var statuses []int
		var first string
		for i := range 8 {
			ip := randomIPv4()
			r := other.postFrom(t, "s", map[string]any{"page": "/p", "name": "N", "email": fmt.Sprintf("peer%d@example.org", i), "body": fmt.Sprint("x ", i)},
				http.Header{"X-Forwarded-For": {ip + ", 10.0.0.1"}, "X-Real-Ip": {ip}, "Forwarded": {"for=" + ip + ";proto=https"}})
			statuses = append(statuses, r.status)
			if i == 0 && r.status == http.StatusCreated {
				first = createdID(t, r)
			}
		}
		if fmt.Sprint(statuses) != "[201 201 201 429 429 429 429 429]" {
			t.Fatalf("statuses = %v, want three accepted, then the peer's bucket empty", statuses)
		}
		if got := other.stored(t, first).IP; got != "127.0.0.1" {
			t.Errorf("stored ip = %q, want the peer 127.0.0.1", got)
		}
	})
}

// rawRequest is an HTTP/1.1 exchange on its own connection, for requests
// net/http's client will not send.
type rawRequest struct {
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t *testing.T, in *instance) *rawRequest {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawRequest{conn: conn, br: bufio.NewReader(conn)}
}

// response reads one answer within d.
func (r *rawRequest) response(t *testing.T, d time.Duration) (*http.Response, []byte) {
	t.Helper()
	_ = r.conn.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read response body: %v", err)
	}
	return resp, body
}

// closedWithin reports whether the server closes the connection within d
// (after any further answers, which are returned).
func (r *rawRequest) closedWithin(d time.Duration) (bool, []byte) {
	_ = r.conn.SetReadDeadline(time.Now().Add(d))
	rest, err := io.ReadAll(r.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, rest
	}
	return true, rest
}

// processReadBytes is how many bytes this process has read through system
// calls so far (rchar of /proc/self/io): the server's reads from its
// sockets included, bytes still waiting in the kernel not.
func processReadBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatalf("read /proc/self/io: %v", err)
	}
	m := regexp.MustCompile(`(?m)^rchar: (\d+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no rchar in /proc/self/io:\n%s", b)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// jsonError checks that body is the service's JSON error and returns it.
func jsonError(t *testing.T, what string, h http.Header, body []byte) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "application/json") || json.Unmarshal(body, &e) != nil || e.Error == "" {
		t.Errorf("%s: not a JSON error: %s %.300s", what, h.Get("Content-Type"), body)
	}
	return e.Error
}

// TestHostileBodies sends bodies that are too large, compressed, or whose
// length is a lie, and expects a clear 4xx, quickly, never a 500 or a hang.
func TestHostileBodies(t *testing.T) {
	in := start(t, setup{yaml: attackYAML(1000, "b")})
	host := strings.TrimPrefix(in.base, "http://")
	path := "/api/v1/sites/b/comments"

	t.Run("chunked 10 MB", func(t *testing.T) {
		const total = 10 << 20
		rr := dialRaw(t, in)
		before := processReadBytes(t)
		began := time.Now()
		written := make(chan int64, 1)
		go func() {
			var n int64
			w := bufio.NewWriterSize(rr.conn, 64<<10)
			head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", path, host)
			if _, err := w.WriteString(head); err != nil {
				written <- n
				return
			}
			chunk := bytes.Repeat([]byte("a"), 32<<10)
			copy(chunk, `{"page":"/p","name":"N","email":"n@example.org","body":"`)
			for n < total {
				if _, err := fmt.Fprintf(w, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
					break
				}
				n += int64(len(chunk))
			}
			if n >= total {
				_, _ = w.WriteString("0\r\n\r\n")
				_ = w.Flush()
			}
			written <- n
		}()
		resp, body := rr.response(t, 20*time.Second)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413; body %s", resp.StatusCode, body)
		}
		if msg := jsonError(t, "413", resp.Header, body); !strings.Contains(msg, "too large") {
			t.Errorf("413 message = %q", msg)
		}
		if closed, _ := rr.closedWithin(10 * time.Second); !closed {
			t.Errorf("the server kept the connection open after refusing the body")
		}
		rr.conn.Close()
		sent := <-written
		read := processReadBytes(t) - before
		t.Logf("client wrote %d bytes before the server closed; the process read %d bytes; answered after %v", sent, read, time.Since(began))
		// The body limit is about 400 KB; net/http reads at most 256 KB more
		// to keep the connection, then closes it.
		if read > 2<<20 {
			t.Errorf("the server read %d bytes of a body it refused; want at most about the limit", read)
		}
		if time.Since(began) > 15*time.Second {
			t.Errorf("refusing the body took %v", time.Since(began))
		}
	})

	// Gzip bombs: 100 MiB of JSON white space, or of form-encoded spaces,
	// in about 100 KB. A gzip file may hold several members, decoded one
	// after the other, so one compressed MiB repeated makes the bomb
	// without compressing 100 MiB here.
	member := func(b []byte) []byte {
		var out bytes.Buffer
		zw := gzip.NewWriter(&out)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return out.Bytes()
	}
	gzipBomb := func(head string, filler byte, tail string) []byte {
		mib := member(bytes.Repeat([]byte{filler}, 1<<20))
		out := member([]byte(head))
		for range 100 {
			out = append(out, mib...)
		}
		return append(out, member([]byte(tail))...)
	}
	bomb := bytes.NewBuffer(gzipBomb(`{"page":"/p","name":"N","email":"n@example.org","body":"`, ' ', `x"}`))
	formBomb := bytes.NewBuffer(gzipBomb("page=%2Fp&name=N&email=n%40example.org&body=", '+', "x"))
	t.Logf("gzip bombs: %d and %d bytes for 100 MiB each", bomb.Len(), formBomb.Len())

	t.Run("compressed bodies", func(t *testing.T) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		allocBefore := ms.TotalAlloc
		cases := []struct {
			name, contentType, encoding string
			body                        []byte
			chunked                     bool
		}{
			{"gzip bomb as JSON", "application/json", "gzip", bomb.Bytes(), false},
			{"gzip bomb as JSON, chunked", "application/json", "gzip", bomb.Bytes(), true},
			{"gzip bomb as a form", "application/x-www-form-urlencoded", "gzip", formBomb.Bytes(), false},
			{"deflate", "application/json", "deflate", bomb.Bytes()[10:], false},
			{"br", "application/json", "br", []byte{0x1b, 0xff, 0xff}, false},
			{"upper case, listed with identity", "application/json", "identity, GZIP", bomb.Bytes(), false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var body io.Reader = bytes.NewReader(tc.body)
				if tc.chunked {
					body = struct{ io.Reader }{body}
				}
				req, err := http.NewRequest(http.MethodPost, in.base+path, body)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", tc.contentType)
				req.Header.Set("Content-Encoding", tc.encoding)
				r := in.do(t, req)
				if r.status != http.StatusUnsupportedMediaType {
					t.Fatalf("status %d, want 415; body %.300s", r.status, r.body)
				}
				if got := r.header.Get("Accept-Encoding"); got != "identity" {
					t.Errorf("Accept-Encoding = %q, want identity", got)
				}
				if tc.contentType == "application/json" {
					if msg := jsonError(t, "415", r.header, r.body); !strings.Contains(msg, "uncompressed") {
						t.Errorf("415 message = %q, want it to ask for an uncompressed body", msg)
					}
				} else if !strings.Contains(string(r.body), "uncompressed") {
					t.Errorf("form answer does not say why: %.500s", r.body)
				}
			})
		}
		runtime.ReadMemStats(&ms)
		if grew := ms.TotalAlloc - allocBefore; grew > 64<<20 {
			t.Errorf("refusing the compressed bodies allocated %d MiB; were they decompressed?", grew>>20)
		}
		// The same comment uncompressed, declared as identity, is taken.
		req, _ := http.NewRequest(http.MethodPost, in.base+path, strings.NewReader(`{"page":"/p","name":"N","email":"plain@example.org","body":"plain"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "identity")
		if r := in.do(t, req); r.status != http.StatusCreated {
			t.Errorf("identity-encoded comment: %d %s", r.status, r.body)
		}
	})

	lying := []struct {
		name    string
		request string
		pause   bool // keep the connection open after writing, as a stalled client would
		want    int
		quick   bool // answered without waiting for the read timeout
	}{
		{name: "claims 10 bytes, sends a whole comment",
			request: "POST " + path + " HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n" +
				`{"page":"/p","name":"N","email":"smuggled@example.org","body":"smuggled"}`,
			want: http.StatusBadRequest, quick: true},
		{name: "claims 10 MB, sends 10 bytes",
			request: "POST " + path + " HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n{\"page\":1}",
			pause:   true, want: http.StatusRequestEntityTooLarge, quick: true},
		{name: "claims 1000 bytes, sends 10 and stalls",
			request: "POST " + path + " HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"page\":1}",
			pause:   true, want: http.StatusBadRequest},
		{name: "two different lengths",
			request: "POST " + path + " HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\n{\"page\":1}",
			want:    http.StatusBadRequest, quick: true},
		{name: "negative length",
			request: "POST " + path + " HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n{\"page\":1}",
			want:    http.StatusBadRequest, quick: true},
		{name: "length and chunked",
			request: "POST " + path + " HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"a\r\n{\"page\":1}\r\n0\r\n\r\n",
			// The chunked framing wins and Content-Length is dropped, so the
			// body is read as sent: a comment with fields missing.
			want: http.StatusUnprocessableEntity, quick: true},
	}
	for _, tc := range lying {
		t.Run(tc.name, func(t *testing.T) {
			rr := dialRaw(t, in)
			began := time.Now()
			if _, err := io.WriteString(rr.conn, tc.request); err != nil {
				t.Fatal(err)
			}
			if !tc.pause {
				_ = rr.conn.(*net.TCPConn).CloseWrite()
			}
			resp, body := rr.response(t, attackReadTimeout+10*time.Second)
			took := time.Since(began)
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d; body %.300s", resp.StatusCode, tc.want, body)
			}
			if tc.quick && took >= attackReadTimeout {
				t.Errorf("answered after %v, as if the server waited for the read timeout", took)
			}
			if !tc.quick && took > attackReadTimeout+5*time.Second {
				t.Errorf("answered after %v; the read timeout is %v", took, attackReadTimeout)
			}
			closed, rest := rr.closedWithin(attackReadTimeout + 5*time.Second)
			if !closed {
				t.Errorf("connection still open %v after the answer", attackReadTimeout+5*time.Second)
			}
			if m := regexp.MustCompile(`HTTP/1\.1 (\d{3})`).FindAllSubmatch(rest, -1); m != nil {
				for _, s := range m {
					if s[1][0] == '5' {
						t.Errorf("a later answer on the connection is a %s: %.300s", s[1], rest)
					}
				}
			}
		})
	}

	t.Run("headers over 64 KiB", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, in.base+"/healthz", nil)
		req.Header.Set("X-Padding", strings.Repeat("p", 100<<10))
		if r := in.do(t, req); r.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431", r.status)
		}
	})

	// Nothing above was stored but the one plain comment.
	var q struct {
		Comments []struct{ Author struct{ Email string } } `json:"comments"`
	}
	in.mod(t, "GET", "/comments?site=b").decode(t, &q)
	if len(q.Comments) != 1 || q.Comments[0].Author.Email != "plain@example.org" {
		t.Errorf("stored comments = %+v, want only plain@example.org's", q.Comments)
	}
	if strings.Contains(in.stderr.String(), "level=ERROR") {
		t.Errorf("hostile bodies were logged as internal errors:\n%s", in.stderr.String())
	}
}

// slowStats collects what the slow connections of one kind saw.
type slowStats struct {
	mu          sync.Mutex
	conns       int
	longest     time.Duration
	notClosed   int      // connections the server left open past the deadline
	dialErrors  int      // connections that could not even be opened
	badAnswers  []string // status lines of 5xx answers
	firstOpened sync.WaitGroup
}

func (s *slowStats) record(lifetime time.Duration, closed bool, statusLine string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns++
	s.longest = max(s.longest, lifetime)
	if !closed {
		s.notClosed++
	}
	if strings.HasPrefix(statusLine, "HTTP/1.1 5") {
		s.badAnswers = append(s.badAnswers, statusLine)
	}
}

// slowClient opens connections one after another until stop is closed, each
// sending the first upfront bytes of payload at once and the rest one
// byte per second, and records how long the server
// kept each one open. A connection still open after giveUp is closed by the
// client and counted as not closed.
func slowClient(addr string, payload []byte, upfront int, stop <-chan struct{}, giveUp time.Duration, st *slowStats) {
	first := true
	defer func() {
		if first {
			st.firstOpened.Done()
		}
	}()
	buf := make([]byte, 4096)
	for {
		select {
		case <-stop:
			return
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			st.mu.Lock()
			st.dialErrors++
			st.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
			continue
		}
		opened := time.Now()
		sent, closed, statusLine := upfront, false, ""
		_, werr := conn.Write(payload[:sent])
		if first {
			first = false
			st.firstOpened.Done()
		}
		for werr == nil && time.Since(opened) < giveUp {
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			n, err := conn.Read(buf)
			if n > 0 && statusLine == "" {
				statusLine, _, _ = strings.Cut(string(buf[:n]), "\r\n")
			}
			var ne net.Error
			if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
				closed = true // EOF or reset: the server hung up
				break
			}
			if err != nil && sent < len(payload) {
				_, werr = conn.Write(payload[sent : sent+1])
				sent++
			}
		}
		if werr != nil {
			closed = true // the server hung up while we were writing
		}
		lifetime := time.Since(opened)
		conn.Close()
		st.record(lifetime, closed, statusLine)
	}
}

// raiseFileLimit makes sure the process may hold want open files.
func raiseFileLimit(t *testing.T, want uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur >= want {
		return
	}
	old := lim.Cur
	lim.Cur = min(want, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("setrlimit: %v", err)
	}
	t.Cleanup(func() {
		lim.Cur = old
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	})
	if lim.Cur < want {
		t.Fatalf("open file limit is %d (hard %d); this test needs %d", lim.Cur, lim.Max, want)
	}
}

// TestSlowClients: 500 clients sending their headers a byte a second and
// 500 sending their bodies so do not keep others from being served, and the
// server hangs up on each of them once its read timeouts pass.
func TestSlowClients(t *testing.T) {
	const perKind = 500
	// Each slow connection costs a descriptor at each end.
	raiseFileLimit(t, 4*perKind+1024)
	in := start(t, setup{yaml: attackYAML(3, "s"), env: map[string]string{"COMMENTD_TRUSTED_PROXIES": "127.0.0.1/32"}})
	addr := strings.TrimPrefix(in.base, "http://")
	page := "/slow"

	// One approved comment, so that the reads below have something to send.
	seed := in.post(t, "s", map[string]any{"page": page, "name": "Seed", "email": "seed@example.org", "body": "First."}, nil)
	if r := in.mod(t, "POST", "/comments/"+createdID(t, seed)+"/approve"); r.status != http.StatusOK {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}

	// Headers that never end, and a body that never ends after its headers.
	slowHeader := []byte("GET /api/v1/sites/s/comments?page=%2Fslow HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: slow\r\nX-Padding: " + strings.Repeat("p", 200))
	bodyHead := "POST /api/v1/sites/s/comments HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
	slowBody := []byte(bodyHead + `{"page":"/slow","name":"Slow","email":"slow@example.org","body":"` + strings.Repeat("s", 99000))
	stop := make(chan struct{})
	giveUp := attackReadTimeout + 8*time.Second
	var headers, bodies slowStats
	var wg sync.WaitGroup
	headers.firstOpened.Add(perKind)
	bodies.firstOpened.Add(perKind)
	for range perKind {
		wg.Add(2)
		go func() { defer wg.Done(); slowClient(addr, slowHeader, 1, stop, giveUp, &headers) }()
		go func() { defer wg.Done(); slowClient(addr, slowBody, len(bodyHead), stop, giveUp, &bodies) }()
	}
	stopped := false
	stopAll := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	t.Cleanup(stopAll)
	headers.firstOpened.Wait()
	bodies.firstOpened.Wait()

	// Meanwhile another client reads and posts, 50 times over a few seconds.
	client := &http.Client{Timeout: 15 * time.Second}
	var failures []string
	for i := range 50 {
		var req *http.Request
		switch i % 3 {
		case 0:
			req, _ = http.NewRequest(http.MethodGet, in.base+"/api/v1/sites/s/comments?page=%2Fslow", nil)
		case 1:
			req, _ = http.NewRequest(http.MethodGet, in.base+"/sites/s/thread?page=%2Fslow", nil)
		case 2:
			b, _ := json.Marshal(map[string]any{"page": page, "name": "Reader", "email": fmt.Sprintf("reader%d@example.org", i), "body": fmt.Sprint("Still here ", i)})
			req, _ = http.NewRequest(http.MethodPost, in.base+"/api/v1/sites/s/comments", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.18.%d.1", i))
		}
		resp, err := client.Do(req)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s %s: %v", req.Method, req.URL.Path, err))
		} else {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
				failures = append(failures, fmt.Sprintf("%s %s: %d %.200s", req.Method, req.URL.Path, resp.StatusCode, body))
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopAll()

	for _, f := range failures {
		t.Errorf("served badly beside the slow clients: %s", f)
	}
	for _, k := range []struct {
		name    string
		st      *slowStats
		timeout time.Duration
	}{{"slow headers", &headers, attackHeaderTimeout}, {"slow bodies", &bodies, attackReadTimeout}} {
		st := k.st
		t.Logf("%s: %d connections, longest open %v, %d dial errors", k.name, st.conns, st.longest, st.dialErrors)
		if st.conns < perKind {
			t.Errorf("%s: only %d connections", k.name, st.conns)
		}
		if st.notClosed > 0 {
			t.Errorf("%s: the server left %d connections open for %v", k.name, st.notClosed, giveUp)
		}
		if limit := k.timeout + 5*time.Second; st.longest > limit {
			t.Errorf("%s: a connection stayed open %v; the timeout is %v", k.name, st.longest, k.timeout)
		}
		if len(st.badAnswers) > 0 {
			t.Errorf("%s: answered %v", k.name, st.badAnswers)
		}
		if st.dialErrors > 0 {
			t.Errorf("%s: %d connections could not be opened", k.name, st.dialErrors)
		}
	}
}

// signIn is one moderator's browser without JavaScript: it keeps the
// cookies it is given and the CSRF token of the last page.
type signIn struct {
	in      *instance
	cookies map[string]string
	csrf    string
}

var csrfFieldRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func newSignIn(t *testing.T, in *instance) *signIn {
	t.Helper()
	s := &signIn{in: in, cookies: map[string]string{}}
	r := s.send(t, http.MethodGet, "/admin/login", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("login page: %d", r.status)
	}
	return s
}

// send makes a request with the browser's cookies and keeps what it sets.
func (s *signIn) send(t *testing.T, method, path string, form url.Values, header map[string]string) result {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.in.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range s.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	r := s.in.do(t, req)
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.MaxAge < 0 {
			delete(s.cookies, c.Name)
		} else {
			s.cookies[c.Name] = c.Value
		}
	}
	if m := csrfFieldRE.FindSubmatch(r.body); m != nil {
		s.csrf = string(m[1])
	}
	return r
}

// login posts the sign-in form from the client address ip.
func (s *signIn) login(t *testing.T, email, password, ip string, header map[string]string) result {
	t.Helper()
	h := map[string]string{"X-Forwarded-For": ip}
	for k, v := range header {
		h[k] = v
	}
	return s.send(t, http.MethodPost, "/admin/login", url.Values{"_csrf": {s.csrf}, "email": {email}, "password": {password}}, h)
}

// cookie is the cookie name as r sets it, or nil.
func cookie(r result, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// newModerator creates an account with password on the database at db and
// gives it the moderator role on the demo site, through the command line.
func newModerator(t *testing.T, db, email, password string) {
	t.Helper()
	if out, err := cli(t, db, password+"\n", "user", "create", "--email", email); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	if out, err := cli(t, db, "", "user", "grant", "--email", email, "--site", "demo", "--role", "moderator"); err != nil {
		t.Fatalf("user grant: %v\n%s", err, out)
	}
}

// TestModeratorSignInAttacks: guessing is stopped per account whatever the
// client address, unknown accounts look like known ones, cross-site posts do
// nothing, and the UI's cookies cannot be read by scripts or sent by other
// sites.
func TestModeratorSignInAttacks(t *testing.T) {
	const password = "the right password 42"
	db := t.TempDir() + "/c.db"
	for _, email := range []string{"victim@example.org", "known1@example.org", "cross@example.org", "plain@example.org"} {
		newModerator(t, db, email, password)
	}
	in := start(t, setup{env: map[string]string{"COMMENTD_DATABASE_URL": db, "COMMENTD_TRUSTED_PROXIES": "127.0.0.1/32"}})

	t.Run("a hundred guesses from a hundred addresses", func(t *testing.T) {
		b := newSignIn(t, in)
		firstRefused := 0
		for i := 1; i <= 100; i++ {
			r := b.login(t, "victim@example.org", fmt.Sprintf("guess number %d", i), fmt.Sprintf("198.18.%d.%d", i/200, 1+i%200), nil)
			switch {
			case r.status == http.StatusTooManyRequests && firstRefused == 0:
				firstRefused = i
			case firstRefused == 0 && r.status != http.StatusUnauthorized:
				t.Fatalf("guess %d: status %d, want 401", i, r.status)
			case firstRefused != 0 && r.status != http.StatusTooManyRequests:
				t.Fatalf("guess %d after refusals began at %d: status %d, want 429", i, firstRefused, r.status)
			}
			if cookie(r, "commentd_session") != nil {
				t.Fatalf("guess %d opened a session", i)
			}
		}
		// Five attempts a minute per account (account.defaultLoginLimits).
		if firstRefused != 6 {
			t.Errorf("refusals began at guess %d, want 6", firstRefused)
		}
		r := b.login(t, "victim@example.org", password, "198.18.99.1", nil)
		if r.status != http.StatusTooManyRequests || cookie(r, "commentd_session") != nil {
			t.Fatalf("right password during the lock: status %d, want 429 and no session", r.status)
		}
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || secs < 1 || secs > 60 {
			t.Errorf("Retry-After = %q, want 1 to 60 seconds", r.header.Get("Retry-After"))
		}
		// Another account is not locked by this one's lock.
		if r := b.login(t, "plain@example.org", password, "198.18.99.2", nil); r.status != http.StatusSeeOther {
			t.Errorf("another account during the lock: status %d, want 303", r.status)
		}
	})

	t.Run("unknown and known accounts are answered alike", func(t *testing.T) {
		// Two addresses of the same length, so that the pages have too.
		known, unknown := "known1@example.org", "nobody@example.org"
		normalize := func(email string, r result) string {
			var b strings.Builder
			fmt.Fprintf(&b, "%d\n", r.status)
			h := r.header.Clone()
			h.Del("Date")
			h.Del("X-Request-Id")
			h.Write(&b)
			b.Write(r.body)
			s := strings.ReplaceAll(b.String(), email, "EMAIL")
			s = regexp.MustCompile(`(commentd_csrf=)[^;]*`).ReplaceAllString(s, "${1}X")
			s = regexp.MustCompile(`(Expires=)[^;]*`).ReplaceAllString(s, "${1}X")
			s = regexp.MustCompile(`(name="_csrf" value=|name="csrf-token" content=)"[^"]*"`).ReplaceAllString(s, `${1}"X"`)
			s = regexp.MustCompile(`(Retry-After: )\d+`).ReplaceAllString(s, "${1}N")
			return regexp.MustCompile(`\d+ seconds?`).ReplaceAllString(s, "N seconds")
		}
		var refusedAt [2]int
		for attempt := 1; attempt <= 7; attempt++ {
			var answers [2]string
			for j, email := range []string{known, unknown} {
				b := newSignIn(t, in)
				r := b.login(t, email, "wrong password!", fmt.Sprintf("198.19.%d.%d", j, attempt), nil)
				if r.status == http.StatusTooManyRequests && refusedAt[j] == 0 {
					refusedAt[j] = attempt
				}
				answers[j] = normalize(email, r)
			}
			if answers[0] != answers[1] {
				t.Errorf("attempt %d: a known and an unknown account are answered differently:\n%s\n----\n%s", attempt, answers[0], answers[1])
			}
		}
		if refusedAt[0] == 0 || refusedAt[0] != refusedAt[1] {
			t.Errorf("refusals began at attempt %d for the known account and %d for the unknown one", refusedAt[0], refusedAt[1])
		}
	})

	t.Run("cross-site posts change nothing", func(t *testing.T) {
		b := newSignIn(t, in)
		if r := b.login(t, "cross@example.org", password, "198.18.100.1", nil); r.status != http.StatusSeeOther {
			t.Fatalf("sign in: %d", r.status)
		}
		if r := b.send(t, http.MethodGet, "/admin", nil, nil); r.status != http.StatusOK || b.csrf == "" {
			t.Fatalf("queue: %d, csrf %q", r.status, b.csrf)
		}
		id := createdID(t, in.post(t, "demo", map[string]any{"page": "/demo/", "name": "N", "email": "n@example.org", "body": "Held."}, nil))
		form := func() url.Values { return url.Values{"_csrf": {b.csrf}, "back": {"/admin"}} }
		for _, h := range []map[string]string{
			{"Origin": "https://evil.example"},
			{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
			{"Sec-Fetch-Site": "cross-site"},
			{"Sec-Fetch-Site": "same-site", "Origin": "http://other.127.0.0.1.nip.io"},
			{"Origin": "null"},
			{"Origin": strings.Replace(in.base, "127.0.0.1", "localhost", 1)},
		} {
			r := b.send(t, http.MethodPost, "/admin/comments/"+id+"/approve", form(), h)
			if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "another site") {
				t.Errorf("approve with %v: status %d, want 403 saying why; body %.300s", h, r.status, r.body)
			}
			if got := in.stored(t, id).Status; got != "pending" {
				t.Fatalf("approve with %v: comment is %s", h, got)
			}
			if r := b.send(t, http.MethodPost, "/admin/logout", form(), h); r.status != http.StatusForbidden {
				t.Errorf("logout with %v: status %d, want 403", h, r.status)
			}
			if r := b.send(t, http.MethodGet, "/admin", nil, nil); r.status != http.StatusOK {
				t.Fatalf("session after a cross-site logout: %d", r.status)
			}
		}
		// The API does not take the session cookie, so a page elsewhere
		// cannot use it there either, and does not let other origins read it.
		api := b.send(t, http.MethodPost, "/api/v1/moderation/comments/"+id+"/approve", url.Values{"_csrf": {b.csrf}}, map[string]string{"Origin": "https://evil.example"})
		if api.status != http.StatusUnauthorized || api.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("API approve with the session cookie: status %d, Access-Control-Allow-Origin %q; want 401 and none",
				api.status, api.header.Get("Access-Control-Allow-Origin"))
		}
		if got := in.stored(t, id).Status; got != "pending" {
			t.Fatalf("after the API post with a cookie the comment is %s", got)
		}
		// Signing in from another site (into the attacker's account) is refused too.
		other := newSignIn(t, in)
		r := other.login(t, "plain@example.org", password, "198.18.100.2", map[string]string{"Origin": "https://evil.example"})
		if r.status != http.StatusForbidden || cookie(r, "commentd_session") != nil {
			t.Errorf("cross-site sign-in: status %d, want 403 without a session", r.status)
		}
		// The same post from the UI's own page goes through.
		r = b.send(t, http.MethodPost, "/admin/comments/"+id+"/approve", form(), map[string]string{"Origin": in.base, "Sec-Fetch-Site": "same-origin"})
		if r.status != http.StatusSeeOther {
			t.Fatalf("same-origin approve: %d %.300s", r.status, r.body)
		}
		if got := in.stored(t, id).Status; got != "approved" {
			t.Errorf("after a same-origin approve the comment is %s", got)
		}
	})

	t.Run("cookies", func(t *testing.T) {
		check := func(t *testing.T, in *instance, origin string, secure bool) {
			t.Helper()
			b := newSignIn(t, in)
			page := b.send(t, http.MethodGet, "/admin/login", nil, nil)
			csrf := cookie(page, "commentd_csrf")
			if csrf == nil || !csrf.HttpOnly || csrf.SameSite != http.SameSiteStrictMode || csrf.Secure != secure || csrf.Path != "/admin" {
				t.Errorf("CSRF cookie = %+v; want HttpOnly, SameSite=Strict, Path=/admin, Secure %v", csrf, secure)
			}
			h := map[string]string{}
			if origin != "" {
				h["Origin"] = origin
			}
			r := b.login(t, "plain@example.org", password, "198.18.101.1", h)
			sess := cookie(r, "commentd_session")
			if r.status != http.StatusSeeOther || sess == nil {
				t.Fatalf("sign in: status %d, session %v", r.status, sess)
			}
			if !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Secure != secure || sess.Path != "/admin" {
				t.Errorf("session cookie = %+v; want HttpOnly, SameSite=Lax, Path=/admin, Secure %v", sess, secure)
			}
			out := b.send(t, http.MethodPost, "/admin/logout", url.Values{"_csrf": {b.csrf}}, h)
			if gone := cookie(out, "commentd_session"); out.status != http.StatusSeeOther || gone == nil || gone.MaxAge >= 0 || gone.Secure != secure || !gone.HttpOnly {
				t.Errorf("sign out: status %d, cookie %+v", out.status, gone)
			}
		}
		t.Run("plain HTTP", func(t *testing.T) { check(t, in, in.base, false) })
		t.Run("public_url https", func(t *testing.T) {
			// commentd does not serve TLS itself; behind a proxy that ends TLS,
			// public_url says the browser's side is https.
			db2 := t.TempDir() + "/c.db"
			newModerator(t, db2, "plain@example.org", password)
			tls := start(t, setup{env: map[string]string{"COMMENTD_DATABASE_URL": db2, "COMMENTD_PUBLIC_URL": "https://comments.example"}})
			check(t, tls, "https://comments.example", true)
		})
	})
}

// secretAuthor is one reader whose private data the crawl looks for.
type secretAuthor struct {
	typed  string // the email as typed, with spaces and capitals
	ip     string // as the proxy forwards it
	ua     string
	id     string
	status string // wanted stored status
}

// needles are every form of the author's private data that must not be
// found: the email as typed, trimmed and in either case; hex MD5, SHA-1 and
// SHA-256 of those; the address in its short and long spellings; the user
// agent. All lower case: the search ignores case.
func (s secretAuthor) needles() []string {
	trimmed := strings.TrimSpace(s.typed)
	out := []string{trimmed, s.ua}
	for _, e := range []string{s.typed, trimmed, strings.ToLower(trimmed), strings.ToUpper(trimmed)} {
		m, s1, s2 := md5.Sum([]byte(e)), sha1.Sum([]byte(e)), sha256.Sum256([]byte(e))
		out = append(out, hex.EncodeToString(m[:]), hex.EncodeToString(s1[:]), hex.EncodeToString(s2[:]))
	}
	a := netip.MustParseAddr(strings.Trim(s.ip, "[]")).Unmap()
	out = append(out, a.String(), a.StringExpanded())
	for i, n := range out {
		out[i] = strings.ToLower(n)
	}
	return out
}

// dump is an answer as bytes to search: status, headers and body.
func (r result) dump() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n", r.status)
	_ = r.header.Write(&b)
	b.WriteString("\n")
	b.Write(r.body)
	return b.Bytes()
}

// TestPrivacyCrawl submits comments that end approved, pending, rejected
// and spam, each with its own email, IPv4 or IPv6 address and user agent,
// then fetches every public route and error answer: none holds any form of
// that data, and no comment that is not approved can be found or replied to.
func TestPrivacyCrawl(t *testing.T) {
	in := start(t, setup{yaml: attackYAML(1000, "demo"), env: map[string]string{"COMMENTD_TRUSTED_PROXIES": "127.0.0.1/32"}})
	const page = "/demo/"
	pageURL := "https://news.example/demo/"
	token := func() string {
		var tok struct{ Token string }
		in.call(t, "GET", "/api/v1/sites/demo/form-token?page="+url.QueryEscape(page), nil, nil).decode(t, &tok)
		return tok.Token
	}
	uniq := testenv.UniqueName("")
	authors := []secretAuthor{
		{typed: "  Ann.Approved." + uniq + "@Example.ORG ", ip: "198.51.100.21", status: "approved"},
		{typed: "Bea.Approved6." + uniq + "@example.org", ip: "2001:0db8:05ec:0001:0000:0000:0000:0017", status: "approved"},
		{typed: "Cy.Pending." + uniq + "@EXAMPLE.org", ip: "198.51.100.23", status: "pending"},
		{typed: " dee.pending6." + uniq + "@example.org", ip: "2001:db8:5ec:2::24", status: "pending"},
		{typed: "Eve.Rejected." + uniq + "@example.org", ip: "198.51.100.25", status: "rejected"},
		{typed: "Fay.Rejected6." + uniq + "@example.org", ip: "[2001:db8:5ec:3::26]", status: "rejected"},
		{typed: "Gus.Spam." + uniq + "@example.org", ip: "198.51.100.27", status: "spam"},
		{typed: "Hal.Spam6." + uniq + "@example.org", ip: "2001:db8:5ec:4::28", status: "spam"},
		{typed: "Ivy.Reply." + uniq + "@example.org", ip: "::ffff:198.51.100.29", status: "approved"},
	}
	var own [][]byte // answers to requests that knew an id, which may show it
	for i := range authors {
		a := &authors[i]
		a.ua = fmt.Sprintf("SecretAgent-%s-%d/1.0 (private)", uniq, i)
		fields := map[string]any{"page": page, "page_url": pageURL, "name": fmt.Sprint("Reader ", i), "email": a.typed, "website": "https://reader.example", "body": fmt.Sprint("Comment number ", i, ".")}
		switch {
		case a.status == "spam" && strings.Contains(a.ip, ":"):
			fields["form_token"] = token() // sent at once: too fast for a person
		case a.status == "spam":
			fields["url"] = "http://bot.example" // the honeypot
		}
		if i == len(authors)-1 {
			fields["parent_id"] = authors[0].id
		}
		r := in.postFrom(t, "demo", fields, http.Header{"X-Forwarded-For": {a.ip}, "User-Agent": {a.ua}})
		if r.status != http.StatusCreated {
			t.Fatalf("submit %d: %d %s", i, r.status, r.body)
		}
		own = append(own, r.dump())
		a.id = createdID(t, r)
		switch a.status {
		case "approved":
			if r := in.mod(t, "POST", "/comments/"+a.id+"/approve"); r.status != http.StatusOK {
				t.Fatalf("approve: %d %s", r.status, r.body)
			}
		case "rejected":
			if r := in.mod(t, "POST", "/comments/"+a.id+"/reject"); r.status != http.StatusOK {
				t.Fatalf("reject: %d %s", r.status, r.body)
			}
		}
		got := in.stored(t, a.id)
		if got.Status != a.status {
			t.Fatalf("comment %d is %s, want %s", i, got.Status, a.status)
		}
		if want := netip.MustParseAddr(strings.Trim(a.ip, "[]")).Unmap().String(); got.IP != want || got.UserAgent != a.ua {
			t.Fatalf("comment %d stored from %q with %q, want %q and %q", i, got.IP, got.UserAgent, want, a.ua)
		}
	}
	hidden := []string{} // ids that no public answer may name
	for _, a := range authors {
		if a.status != "approved" {
			hidden = append(hidden, a.id)
		}
	}
	const missingID = "0192f1c3-0000-7000-8000-000000000000"

	var answers []result
	var echoes []result // answers that may repeat an id from their request
	get := func(path string, header map[string]string) result {
		r := in.call(t, "GET", path, nil, header)
		answers = append(answers, r)
		return r
	}
	send := func(method, path, contentType string, body io.Reader, header map[string]string) result {
		h := map[string]string{"Content-Type": contentType}
		for k, v := range header {
			h[k] = v
		}
		r := in.call(t, method, path, body, h)
		answers = append(answers, r)
		return r
	}
	q := url.QueryEscape(page)
	stranger := map[string]string{"X-Forwarded-For": "192.0.2.77", "User-Agent": "Stranger/1.0"}

	// Reads.
	thread := get("/api/v1/sites/demo/comments?page="+q, nil)
	get("/api/v1/sites/demo/comments?page="+q, map[string]string{"If-None-Match": thread.header.Get("ETag")})
	answers = append(answers, in.call(t, "HEAD", "/api/v1/sites/demo/comments?page="+q, nil, nil))
	counts := get("/api/v1/sites/demo/counts?page="+q+"&page=%2Fother%2F", nil)
	get("/api/v1/sites/demo/form-token?page="+q, nil)
	section := "/sites/demo/thread?page=" + q + "&page_url=" + url.QueryEscape(pageURL)
	sections := map[string]result{}
	for _, id := range append([]string{"", missingID}, func() (ids []string) {
		for _, a := range authors {
			ids = append(ids, a.id)
		}
		return ids
	}()...) {
		sections[id] = get(section+"&replytocom="+url.QueryEscape(id), map[string]string{"Origin": "https://news.example"})
		get("/demo/?replytocom="+url.QueryEscape(id), nil)
	}
	demo := get("/demo/", nil)
	for _, m := range regexp.MustCompile(`href="(/demo/[a-z0-9-]+/)"`).FindAllSubmatch(demo.body, -1) {
		get(string(m[1]), nil)
	}
	embed := get("/embed.json?site=demo", nil)
	var info struct{ Src string }
	embed.decode(t, &info)
	if u, err := url.Parse(info.Src); err == nil && u.Path != "" {
		get(u.Path, nil)
	}
	for _, p := range []string{"/", "/embed.js", "/static/commentd.css", "/static/embed.css", "/healthz", "/readyz", "/admin/login", "/admin", "/admin/", "/nope", "/static/nope.css"} {
		get(p, nil)
	}
	answers = append(answers, in.call(t, "OPTIONS", "/api/v1/sites/demo/comments", nil, map[string]string{"Origin": "https://news.example", "Access-Control-Request-Method": "POST"}))

	// Comments by id, without credentials: nothing, for any status.
	notFound := get("/api/v1/sites/demo/comments/"+missingID, nil)
	for _, a := range authors {
		if r := get("/api/v1/sites/demo/comments/"+a.id, nil); r.status != notFound.status || !bytes.Equal(r.body, notFound.body) {
			t.Errorf("GET /api/v1/sites/demo/comments/<%s id>: %d %s; a missing id gets %d %s", a.status, r.status, r.body, notFound.status, notFound.body)
		}
		if r := get("/api/v1/moderation/comments/"+a.id, nil); r.status != http.StatusUnauthorized {
			t.Errorf("moderation GET of a %s comment without a token: %d", a.status, r.status)
		}
		if r := send("POST", "/api/v1/moderation/comments/"+a.id+"/approve", "", nil, nil); r.status != http.StatusUnauthorized {
			t.Errorf("approve without a token: %d", r.status)
		}
		// The sign-in page it sends to names the page asked for, and so
		// the id, which the caller knew already.
		r := in.call(t, "GET", "/admin/comments/"+a.id, nil, nil)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/login?next="+url.QueryEscape("/admin/comments/"+a.id) {
			t.Errorf("admin page of a comment without a session: %d to %q", r.status, r.header.Get("Location"))
		}
		echoes = append(echoes, r)
	}
	for _, p := range []string{"/api/v1/moderation/comments?site=demo&status=spam", "/api/v1/moderation/comments?site=demo&status=rejected", "/api/v1/sites/demo/rules", "/api/v1/moderation/events"} {
		if r := get(p, nil); r.status != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %d", p, r.status)
		}
	}

	// Replies to comments that are not public get the answer a reply to a
	// missing comment gets.
	reply := func(parent string) result {
		return send("POST", "/api/v1/sites/demo/comments", "application/json",
			strings.NewReader(fmt.Sprintf(`{"page":%q,"parent_id":%q,"name":"Stranger","email":"stranger@example.net","body":"Who said that?"}`, page, parent)), stranger)
	}
	missing := reply(missingID)
	if missing.status != http.StatusUnprocessableEntity {
		t.Fatalf("reply to a missing comment: %d %s", missing.status, missing.body)
	}
	for _, a := range authors {
		if a.status == "approved" {
			continue
		}
		if r := reply(a.id); r.status != missing.status || !bytes.Equal(r.body, missing.body) {
			t.Errorf("reply to a %s comment: %d %s; to a missing one: %d %s", a.status, r.status, r.body, missing.status, missing.body)
		}
	}

	// Error answers to a stranger's requests.
	send("DELETE", "/api/v1/sites/demo/comments", "", nil, stranger)
	send("PUT", "/api/v1/sites/demo/comments?page="+q, "application/json", strings.NewReader("{}"), stranger)
	send("POST", "/api/v1/sites/demo/comments", "application/json", strings.NewReader(`{"page":"`+strings.Repeat("x", 500_000)+`"}`), stranger)
	send("POST", "/api/v1/sites/demo/comments", "text/plain", strings.NewReader("hello"), stranger)
	send("POST", "/api/v1/sites/demo/comments", "application/json", strings.NewReader(`{"page":`), stranger)
	send("POST", "/api/v1/sites/demo/comments", "application/json", strings.NewReader(`{"page":"/demo/","name":"","email":"bad","body":"","website":"javascript:x"}`), stranger)
	send("POST", "/api/v1/sites/demo/comments", "application/json", strings.NewReader(`{"page":"/demo/","name":"S","email":"s@example.net","body":"From elsewhere."}`),
		map[string]string{"Origin": "https://evil.example", "X-Forwarded-For": "192.0.2.78"})
	send("POST", "/api/v1/sites/nosuch/comments", "application/json", strings.NewReader(`{"page":"/demo/","name":"S","email":"s@example.net","body":"x"}`), stranger)
	for range 2 { // the second is a duplicate
		send("POST", "/api/v1/sites/demo/comments", "application/json", strings.NewReader(`{"page":"/demo/","name":"S","email":"s@example.net","body":"Same again."}`), stranger)
	}
	// A stranger's form posts: a redirect, a form shown again with errors.
	form := url.Values{"page": {page}, "page_url": {pageURL}, "name": {"Form"}, "email": {"form@example.net"}, "body": {"By form."}}
	if r := send("POST", "/api/v1/sites/demo/comments", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), stranger); r.status != http.StatusSeeOther {
		t.Errorf("stranger's form post: %d", r.status)
	}
	form.Set("email", "broken")
	form.Set("parent_id", missingID)
	if r := send("POST", "/api/v1/sites/demo/comments", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), stranger); r.status != http.StatusUnprocessableEntity {
		t.Errorf("stranger's broken form post: %d", r.status)
	}

	// Only approved comments are public.
	var th threadBody
	thread.decode(t, &th)
	var ids []string
	for _, c := range th.Comments {
		ids = append(ids, c.ID)
		for _, r := range c.Replies {
			ids = append(ids, r.ID)
		}
	}
	want := []string{authors[0].id, authors[1].id, authors[8].id}
	slices.Sort(ids)
	slices.Sort(want)
	if th.Total != 3 || !slices.Equal(ids, want) {
		t.Errorf("thread = total %d, ids %v; want the three approved comments %v", th.Total, ids, want)
	}
	if !strings.Contains(string(counts.body), `"/demo/":3`) {
		t.Errorf("counts = %s, want 3 for /demo/", counts.body)
	}
	formToken := regexp.MustCompile(`name="form_token" value="[^"]*"`)
	base := formToken.ReplaceAll(sections[missingID].body, nil)
	for _, id := range hidden {
		if got := formToken.ReplaceAll(sections[id].body, nil); !bytes.Equal(got, base) {
			t.Errorf("the section with replytocom=<hidden id> differs from the one for a missing id")
		}
	}
	if !bytes.Contains(sections[authors[0].id].body, []byte(`name="parent_id" value="`+authors[0].id+`"`)) {
		t.Errorf("replytocom=<approved id> does not reply to it; the comparison above proves nothing")
	}

	// The search finds what it looks for: the moderator's view of each
	// comment holds its author's email, address and user agent.
	for _, a := range authors {
		view := bytes.ToLower(in.mod(t, "GET", "/comments/"+a.id).dump())
		n := a.needles()
		for _, want := range []string{n[0], n[1], n[len(n)-2]} {
			if !bytes.Contains(view, []byte(want)) {
				t.Errorf("the moderator's view of a %s comment lacks %q; the search below would miss it too", a.status, want)
			}
		}
	}

	// And nothing private is anywhere.
	hay := make([][]byte, 0, len(answers))
	for _, r := range answers {
		hay = append(hay, bytes.ToLower(r.dump()))
	}
	for _, r := range echoes {
		own = append(own, r.dump())
	}
	t.Logf("searched %d answers", len(hay))
	for _, a := range authors {
		for _, n := range a.needles() {
			for i, h := range hay {
				if bytes.Contains(h, []byte(n)) {
					t.Errorf("answer %d holds %q (of a %s comment): %.300s", i, n, a.status, answers[i].dump())
				}
			}
			for i, h := range own {
				if bytes.Contains(bytes.ToLower(h), []byte(n)) {
					t.Errorf("answer %d to a request that knew the id holds %q: %.300s", i, n, h)
				}
			}
		}
	}
	for _, id := range hidden {
		for i, h := range hay {
			if bytes.Contains(h, []byte(id)) {
				t.Errorf("answer %d names the unpublished comment %s: %.300s", i, id, answers[i].dump())
			}
		}
	}
}
