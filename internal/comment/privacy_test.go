package comment

import (
	"strings"
	"testing"
)

// TestEmailSubject: the audit subject of an address is the same for every
// spelling of it, differs between addresses, and holds no part of it.
func TestEmailSubject(t *testing.T) {
	a := EmailSubject("Ann.Reader@Example.org")
	if b := EmailSubject("  ann.reader@example.org "); a != b {
		t.Errorf("subjects of one address differ: %q, %q", a, b)
	}
	if c := EmailSubject("bob@example.org"); c == a {
		t.Errorf("two addresses share the subject %q", a)
	}
	for _, part := range []string{"ann", "reader", "example"} {
		if strings.Contains(strings.ToLower(a), part) {
			t.Errorf("subject %q holds %q", a, part)
		}
	}
}
