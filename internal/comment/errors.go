package comment

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Sentinel errors returned by stores and use cases. The HTTP layer maps each
// to one status code.
var (
	// ErrNotFound: the site, page or comment does not exist (or the caller
	// may not know it exists).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write collides with existing data.
	ErrConflict = errors.New("conflict")
	// ErrUnauthorized: no valid credentials were presented.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the credentials do not grant access to this site.
	ErrForbidden = errors.New("forbidden")
	// ErrDuplicate: the same author already posted the same comment on
	// the page. It is also an ErrConflict.
	ErrDuplicate = fmt.Errorf("duplicate comment: %w", ErrConflict)
	// ErrRejected: the site's block rules refuse the comment.
	ErrRejected = errors.New("rejected by the site's rules")
	// ErrUnavailable: a dependency (usually the database, locked by another
	// writer) cannot take the request now; the client may retry.
	ErrUnavailable = errors.New("temporarily unavailable")
)

// ValidationError carries one plain-English message per invalid field, keyed
// by the field's public (JSON) name. Messages never repeat the submitted value.
type ValidationError struct {
	Fields map[string]string
}

// Error lists the invalid fields in a stable order.
func (e *ValidationError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return "invalid fields: " + strings.Join(names, ", ")
}

// Invalid returns a ValidationError for a single field.
func Invalid(field, message string) *ValidationError {
	return &ValidationError{Fields: map[string]string{field: message}}
}

// RateLimitError says the caller must wait RetryAfter before trying again.
type RateLimitError struct {
	RetryAfter time.Duration
}

// Error says how long to wait.
func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limited: retry after %s", e.RetryAfter.Round(time.Second))
}
