package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/commentd/commentd/internal/comment"
)

// Messages never carry an author's email address or IP: moderators follow
// the link to the comment to see them.

// EventHeld is the webhook event of a held comment (the Commentd-Event
// header and the body's "event").
const EventHeld = "comment.held"

// oneLine makes s fit in a subject: line breaks and control characters
// become spaces, and it is cut to at most n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' }), " ")
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > n {
		r := []rune(s)
		s = strings.TrimSpace(string(r[:n-1])) + "…"
	}
	return s
}

// pageTitle is the page's title, else its key.
func pageTitle(p comment.Page) string {
	if t := oneLine(p.Title, 100); t != "" {
		return t
	}
	return oneLine(p.Key, 100)
}

// excerpt is the start of a comment's text for a digest.
func excerpt(body string, n int) string {
	body = strings.TrimSpace(body)
	if utf8.RuneCountInString(body) <= n {
		return body
	}
	return strings.TrimSpace(string([]rune(body)[:n-1])) + "…"
}

func moderationURL(base, id string) string {
	return strings.TrimRight(base, "/") + "/admin/comments/" + id
}

// heldEmail is the email to a moderator about one held comment, with the
// comment's entry for a digest.
func heldEmail(base, siteName string, sub comment.NotifySubject) payload {
	c, title := sub.Comment, pageTitle(sub.Page)
	var b strings.Builder
	fmt.Fprintf(&b, "A comment on %q is waiting for moderation.\n\n", title)
	fmt.Fprintf(&b, "Site:   %s\n", oneLine(siteName, 200))
	if sub.Page.URL != "" {
		fmt.Fprintf(&b, "Page:   %s\n", sub.Page.URL)
	}
	fmt.Fprintf(&b, "Author: %s\n", oneLine(c.AuthorName, 200))
	if c.AuthorWebsite != "" {
		fmt.Fprintf(&b, "Website: %s\n", c.AuthorWebsite)
	}
	fmt.Fprintf(&b, "\n%s\n\n", strings.TrimSpace(c.Body))
	fmt.Fprintf(&b, "Approve, reject or mark it as spam:\n%s\n", moderationURL(base, c.ID))

	item := fmt.Sprintf("On %q, %s wrote:\n%s\n%s\n", title, oneLine(c.AuthorName, 200), excerpt(c.Body, 500), moderationURL(base, c.ID))
	return payload{
		Subject: fmt.Sprintf("[%s] Comment held for moderation on %q", oneLine(siteName, 80), title),
		Text:    b.String(),
		Item:    item,
	}
}

// digestEmail is one email listing several held comments of a site.
func digestEmail(siteName string, items []payload) (subject, text string) {
	var b strings.Builder
	if len(items) == 1 {
		fmt.Fprintf(&b, "1 comment on %s is waiting for moderation.\n", oneLine(siteName, 200))
	} else {
		fmt.Fprintf(&b, "%d comments on %s are waiting for moderation.\n", len(items), oneLine(siteName, 200))
	}
	for i, it := range items {
		fmt.Fprintf(&b, "\n%d. %s", i+1, it.Item)
	}
	return fmt.Sprintf("[%s] %d comments held for moderation", oneLine(siteName, 80), len(items)), b.String()
}

// webhookHeld is the body of the comment.held webhook.
type webhookHeld struct {
	Event      string         `json:"event"`
	DeliveryID string         `json:"delivery_id"`
	CreatedAt  time.Time      `json:"created_at"`
	Site       webhookSite    `json:"site"`
	Page       webhookPage    `json:"page"`
	Comment    webhookComment `json:"comment"`
}

type webhookSite struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type webhookPage struct {
	Key   string `json:"key"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// webhookComment has no email, IP or user-agent field.
type webhookComment struct {
	ID            string    `json:"id"`
	ParentID      string    `json:"parent_id"`
	Status        string    `json:"status"`
	AuthorName    string    `json:"author_name"`
	AuthorWebsite string    `json:"author_website"`
	Body          string    `json:"body"`
	CreatedAt     time.Time `json:"created_at"`
	ModerationURL string    `json:"moderation_url"`
}

// heldWebhookBody is the JSON body of the webhook about a held comment.
func heldWebhookBody(base, deliveryID, siteName string, sub comment.NotifySubject, now time.Time) ([]byte, error) {
	c := sub.Comment
	body, err := json.Marshal(webhookHeld{
		Event:      EventHeld,
		DeliveryID: deliveryID,
		CreatedAt:  now.UTC().Truncate(time.Second),
		Site:       webhookSite{ID: c.SiteID, Name: siteName},
		Page:       webhookPage{Key: sub.Page.Key, Title: sub.Page.Title, URL: sub.Page.URL},
		Comment: webhookComment{
			ID: c.ID, ParentID: c.ParentID, Status: string(c.Status), AuthorName: c.AuthorName,
			AuthorWebsite: c.AuthorWebsite, Body: c.Body, CreatedAt: c.CreatedAt.UTC(),
			ModerationURL: moderationURL(base, c.ID),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("encode webhook body: %w", err)
	}
	return body, nil
}

// replyEmail tells a reader of a reply to their comment.
func replyEmail(siteName string, reply comment.NotifySubject, unsubscribe string) payload {
	c, title := reply.Comment, pageTitle(reply.Page)
	var b strings.Builder
	fmt.Fprintf(&b, "%s replied to your comment on %q:\n\n", oneLine(c.AuthorName, 200), title)
	fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(c.Body))
	if reply.Page.URL != "" {
		fmt.Fprintf(&b, "Read the conversation: %s\n\n", reply.Page.URL)
	}
	fmt.Fprintf(&b, "You get this email because you asked %s to tell you of replies to your comments.\n", oneLine(siteName, 200))
	fmt.Fprintf(&b, "Stop these emails: %s\n", unsubscribe)
	return payload{
		Subject:     fmt.Sprintf("[%s] New reply to your comment on %q", oneLine(siteName, 80), title),
		Text:        b.String(),
		Unsubscribe: unsubscribe,
	}
}

// confirmEmail asks a reader to confirm their address for reply emails.
// It carries the unsubscribe link too, in the text and (from the payload)
// in the List-Unsubscribe headers: an address unsubscribed is sent
// nothing more from the site, not even another confirmation request.
func confirmEmail(siteName string, sub comment.NotifySubject, link, unsubscribe string) payload {
	title := pageTitle(sub.Page)
	site := oneLine(siteName, 200)
	var b strings.Builder
	fmt.Fprintf(&b, "You left a comment on %q on %s and asked to be emailed when someone replies.\n\n", title, site)
	fmt.Fprintf(&b, "To confirm this address, open this link (it works for 7 days):\n%s\n\n", link)
	fmt.Fprintf(&b, "If you did not ask for this, ignore this email: no reply notifications are sent to an address until it is confirmed.\n\n")
	fmt.Fprintf(&b, "Never email me from %s (no more confirmation requests either):\n%s\n", site, unsubscribe)
	return payload{
		Subject:     fmt.Sprintf("[%s] Confirm email notifications of replies", oneLine(siteName, 80)),
		Text:        b.String(),
		Unsubscribe: unsubscribe,
	}
}
