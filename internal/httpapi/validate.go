package httpapi

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/go-playground/validator/v10"

	"github.com/commentd/commentd/internal/comment"
)

// Field limits in bytes (see comment.MaxNameBytes and the others).
const (
	maxNameBytes      = comment.MaxNameBytes
	maxEmailBytes     = comment.MaxEmailBytes
	maxWebsiteBytes   = comment.MaxWebsiteBytes
	maxBodyBytes      = comment.MaxBodyBytes
	maxPageBytes      = comment.MaxPageKeyBytes
	maxPageURLBytes   = comment.MaxPageURLBytes
	maxPageTitleBytes = comment.MaxPageTitleBytes
	maxParentIDBytes  = 64
)

// bodyLimit caps a request body before it is read, just above what the
// largest valid submission can need. Every field at its limit adds up to
// about 69 KB; a form encodes each byte as at most three (%XX), and JSON as
// at most six (\u0061 for "a", which JSON encoders do for <, > and &), so
// six times the sum, plus room for field names, admits every valid comment
// however it is encoded and nothing much larger.
const bodyLimit = 6*(maxNameBytes+maxEmailBytes+maxWebsiteBytes+maxBodyBytes+maxPageBytes+maxPageURLBytes+maxPageTitleBytes+maxParentIDBytes) + 4096

// newValidator returns a validator whose errors are keyed by JSON field names
// and which knows commentd's own checks:
//   - maxbytes=N: at most N bytes of UTF-8 (validator's max counts runes);
//   - text: valid UTF-8, no NUL or other control characters but tab and newlines;
//   - line: like text, but a single line;
//   - mailbox: closes gaps in validator's email check (local part at most 64
//     ASCII characters, domain ASCII or valid IDNA with no compatibility mapping);
//   - weburl: an absolute http or https URL with a host and no user info.
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	must := func(tag string, fn validator.Func) {
		if err := v.RegisterValidation(tag, fn); err != nil {
			panic(fmt.Sprintf("register %s: %v", tag, err)) // programming error: bad tag name
		}
	}
	must("maxbytes", func(fl validator.FieldLevel) bool {
		n, err := strconv.Atoi(fl.Param())
		return err == nil && len(fl.Field().String()) <= n
	})
	must("text", func(fl validator.FieldLevel) bool { return comment.CleanText(fl.Field().String(), true) })
	must("line", func(fl validator.FieldLevel) bool { return comment.CleanText(fl.Field().String(), false) })
	must("mailbox", func(fl validator.FieldLevel) bool { return validMailbox(fl.Field().String()) })
	must("weburl", func(fl validator.FieldLevel) bool { return comment.IsWebURL(fl.Field().String()) })
	return v
}

func validMailbox(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 || strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return false
	}
	for _, r := range local {
		if r > unicode.MaxASCII || !(isAlnum(r) || strings.ContainsRune("!#$%&'*+/=?^_`{|}~.-", r)) {
			return false
		}
	}
	return comment.ValidHostname(domain, true)
}

func isAlnum(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

// withScheme adds "https://" to a website typed without a scheme, as readers
// often do ("example.com/blog"). A value with a scheme of its own, such as
// "javascript:...", is left for weburl to refuse.
func withScheme(s string) string {
	if s == "" || strings.Contains(s, "://") {
		return s
	}
	if i := strings.IndexAny(s, ":/?#"); i >= 0 && s[i] == ':' {
		// "host:port/..." has digits after the colon; anything else is a scheme.
		rest := s[i+1:]
		if rest == "" || rest[0] < '0' || rest[0] > '9' {
			return s
		}
	}
	return "https://" + s
}

// fieldMessages words each failed check for readers. Messages never repeat
// what was submitted.
func fieldMessage(fe validator.FieldError) string {
	field := fe.Field()
	switch fe.Tag() {
	case "required":
		switch field {
		case "name":
			return "Please enter your name."
		case "email":
			return "Please enter your email address."
		case "body":
			return "Please type a comment."
		case "page":
			return "The page this comment belongs to is missing."
		}
		return "This field is required."
	case "maxbytes":
		return "This is too long: at most " + fe.Param() + " bytes are allowed."
	case "text", "line":
		return "This contains characters that are not allowed (control characters or invalid UTF-8)."
	case "email", "mailbox":
		return "Please enter a valid email address, like name@example.com."
	case "url", "weburl":
		return "Please enter a web address starting with http:// or https://."
	case "oneof":
		return "Must be one of: " + strings.ReplaceAll(fe.Param(), " ", ", ") + "."
	case "min", "max", "gte", "lte":
		return "Must be between the allowed bounds (" + fe.Tag() + " " + fe.Param() + ")."
	}
	return "This value is not valid."
}

// check validates s and returns a *comment.ValidationError listing every
// invalid field, or nil.
func check(v *validator.Validate, s any) error {
	err := v.Struct(s)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return fmt.Errorf("validate: %w", err)
	}
	out := &comment.ValidationError{Fields: make(map[string]string, len(verrs))}
	for _, fe := range verrs {
		if _, seen := out.Fields[fe.Field()]; !seen {
			out.Fields[fe.Field()] = fieldMessage(fe)
		}
	}
	return out
}
