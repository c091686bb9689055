package moderation

import "testing"

// TestRequestHashNotifyReplies: ticking "notify me of replies" makes
// another submission for the idempotency key, so that a retry cannot turn
// it on or off unseen.
func TestRequestHashNotifyReplies(t *testing.T) {
	sub := Submission{PageKey: "/a", Name: "Ann", Email: "ann@example.org", Body: "Hello."}
	plain := requestHash(sub)
	if again := requestHash(sub); again != plain {
		t.Fatalf("hash not stable: %s, %s", plain, again)
	}
	sub.NotifyReplies = true
	if ticked := requestHash(sub); ticked == plain {
		t.Errorf("ticking notify_replies left the hash at %s", plain)
	}
	// The field cannot be imitated by the text of another field.
	sub.NotifyReplies = false
	sub.Honeypot = "\x00notify_replies"
	if requestHash(sub) == requestHash(Submission{PageKey: "/a", Name: "Ann", Email: "ann@example.org", Body: "Hello.", NotifyReplies: true}) {
		t.Errorf("a honeypot value imitates notify_replies")
	}
}
