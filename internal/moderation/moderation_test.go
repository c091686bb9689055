package moderation

import (
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

func TestIPAndNetKeys(t *testing.T) {
	tests := []struct{ name, ip, wantIP, wantNet string }{
		{"ipv4", "203.0.113.7", "203.0.113.7", "203.0.113.0/24"},
		{"ipv4-mapped ipv6", "::ffff:203.0.113.7", "203.0.113.7", "203.0.113.0/24"},
		{"ipv6", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{"same /64 same network", "2001:db8:1:2::1", "2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"unparseable kept", "not-an-ip", "not-an-ip", "not-an-ip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ipKey(tt.ip); got != tt.wantIP {
				t.Errorf("ipKey(%q) = %q, want %q", tt.ip, got, tt.wantIP)
			}
			if got := netKey(tt.ip); got != tt.wantNet {
				t.Errorf("netKey(%q) = %q, want %q", tt.ip, got, tt.wantNet)
			}
		})
	}
}

func TestEmailKeyIsKeyedAndCaseBlind(t *testing.T) {
	a := New(Deps{Secret: []byte("one")})
	b := New(Deps{Secret: []byte("two")})
	if a.emailKey("Ann@Example.org") != a.emailKey("ann@example.org") {
		t.Error("email key depends on letter case")
	}
	if a.emailKey("ann@example.org") == b.emailKey("ann@example.org") {
		t.Error("email key does not depend on the secret")
	}
	if a.emailKey("ann@example.org") == a.emailKey("bob@example.org") {
		t.Error("two addresses share a key")
	}
}

func TestBuildThread(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := func(id, parent string) comment.Comment {
		at = at.Add(time.Minute)
		return comment.Comment{ID: id, ParentID: parent, AuthorName: "n" + id, AuthorEmail: id + "@x.org", CreatedAt: at}
	}
	// "r2" replies to "gone", which is no longer approved: it is shown at
	// the top level rather than lost.
	th := buildThread("/p", []comment.Comment{c("a", ""), c("r1", "a"), c("b", ""), c("r2", "gone"), c("rr", "r1")})
	if th.Total != 5 {
		t.Errorf("total = %d, want 5", th.Total)
	}
	var top []string
	for _, p := range th.Comments {
		top = append(top, p.ID)
	}
	if got, want := fmtIDs(top), "a,b,r2"; got != want {
		t.Errorf("top level = %s, want %s", got, want)
	}
	if len(th.Comments[0].Replies) != 1 || th.Comments[0].Replies[0].ID != "r1" ||
		len(th.Comments[0].Replies[0].Replies) != 1 || th.Comments[0].Replies[0].Replies[0].ID != "rr" {
		t.Errorf("nesting under a is wrong: %+v", th.Comments[0])
	}
	if th.Comments[1].Replies == nil {
		t.Error("replies of a comment without replies is nil, want an empty list")
	}
}

func fmtIDs(ids []string) string {
	out := ""
	for i, id := range ids {
		if i > 0 {
			out += ","
		}
		out += id
	}
	return out
}

func TestCursorRoundTrip(t *testing.T) {
	want := comment.Cursor{CreatedAt: time.Date(2026, 11, 26, 12, 0, 0, 123456000, time.UTC), ID: "0192f1c3-0000-7000-8000-000000000000"}
	got, err := decodeCursor(encodeCursor(want))
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) || got.ID != want.ID {
		t.Errorf("round trip = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "!!", "bm8tZG90", "eC55", encodeCursor(comment.Cursor{ID: "\xff\x00"})} {
		if _, err := decodeCursor(bad); err == nil {
			t.Errorf("decodeCursor(%q) accepted", bad)
		}
	}
}

func TestVisibleText(t *testing.T) {
	tests := []struct {
		name, html, want string
		links            int
	}{
		{"entities and tags", `<p>&#118;iagra <em>v</em>i<strong>agra</strong></p>`, "viagra viagra", 0},
		{"blocks separate words", `<p>one</p><p>two</p><ul><li>three</li></ul>`, "one two three", 0},
		{"links counted", `<p><a href="https://a.example" rel="nofollow ugc noopener">a</a> and <a href="https://b.example">b</a></p>`, "a and b", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, links := visibleText(tt.html)
			if got := strings.Join(strings.Fields(text), " "); got != tt.want || links != tt.links {
				t.Errorf("visibleText = %q, %d; want %q, %d", got, links, tt.want, tt.links)
			}
		})
	}
}
