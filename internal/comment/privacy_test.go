package comment

import (
	"strings"
	"testing"
)

// TestEmailSubject: the audit subject of an address is the same for every
// spelling of it, differs between addresses and between keys, and holds no
// part of the address.
func TestEmailSubject(t *testing.T) {
	key := []byte("server secret")
	a := EmailSubject(key, "Ann.Reader@Example.org")
	if b := EmailSubject(key, "  ann.reader@example.org "); a != b {
		t.Errorf("subjects of one address differ: %q, %q", a, b)
	}
	if c := EmailSubject(key, "bob@example.org"); c == a {
		t.Errorf("two addresses share the subject %q", a)
	}
	if d := EmailSubject([]byte("another secret"), "ann.reader@example.org"); d == a {
		t.Errorf("two keys give one subject %q", a)
	}
	for _, part := range []string{"ann", "reader", "example"} {
		if strings.Contains(strings.ToLower(a), part) {
			t.Errorf("subject %q holds %q", a, part)
		}
	}
}
