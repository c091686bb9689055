package notify

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// erasingStore erases an address's personal data (keeping its comments,
// scrubbed) at the start of the first FinishNotifyJobs: after planning
// read the comments, before their outcomes are written.
type erasingStore struct {
	Store
	erase func(ctx context.Context) error
	once  sync.Once
}

func (e *erasingStore) FinishNotifyJobs(ctx context.Context, outcomes []comment.JobOutcome) ([]int, error) {
	var err error
	e.once.Do(func() { err = e.erase(ctx) })
	if err != nil {
		return nil, err
	}
	return e.Store.FinishNotifyJobs(ctx, outcomes)
}

// TestEraseBetweenPlanAndWrite: an erasure that commits while a
// confirmation request is being planned is not undone: the address is not
// stored again and is sent nothing. Another reader's request, planned in
// the same round, goes out with its unsubscribe link in the text and the
// List-Unsubscribe headers.
func TestEraseBetweenPlanAndWrite(t *testing.T) {
	e := newNotifyEnv(t)
	srv := startMailServer(t)
	ctx := context.Background()
	erased := e.create(t, "", "Erased@Example.org", comment.StatusPending, true)
	kept := e.create(t, "", "kept@example.org", comment.StatusPending, true)
	store := &erasingStore{Store: e.s, erase: func(ctx context.Context) error {
		_, err := e.s.ErasePersonalData(ctx, "erased@example.org", false, comment.AuditEntry{
			At: e.clk.now(), Actor: "test", Action: comment.AuditGDPRErase, Subject: "erase"})
		return err
	}}
	w := e.worker(t, store, srv.addr, Site{Replies: true}, nil, nil)
	w.Tick(ctx)
	e.clk.add(time.Hour)
	w.Tick(ctx)

	if got := deliveryStates(t, e.path, comment.NotifyConfirm, erased.ID); len(got) != 0 {
		t.Errorf("confirmations to the erased address: %+v, want none", got)
	}
	if st, err := e.s.ReaderState(ctx, "blog", "erased@example.org"); err != nil || st != comment.ReaderUnknown {
		t.Errorf("erased address's state = %q, %v; want unknown", st, err)
	}
	if got := deliveryStates(t, e.path, comment.NotifyConfirm, kept.ID); len(got) != 1 || got[0].state != "sent" {
		t.Fatalf("confirmations to the other reader: %+v, want one sent", got)
	}
	msgs, hdrs := srv.messages(), srv.messageHeaders()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1 (the other reader's confirmation):\n%s", len(msgs), strings.Join(msgs, "\n---\n"))
	}
	if to := hdrs[0].Get("To"); !strings.Contains(to, "kept@example.org") {
		t.Errorf("message to %q, want the other reader", to)
	}
	unsub := strings.TrimSuffix(strings.TrimPrefix(hdrs[0].Get("List-Unsubscribe"), "<"), ">")
	tok, ok := strings.CutPrefix(unsub, "https://comments.example/notify/unsubscribe?t=")
	if !ok || !strings.Contains(msgs[0], unsub) {
		t.Fatalf("List-Unsubscribe %q is not the unsubscribe link in the text:\n%s", hdrs[0].Get("List-Unsubscribe"), msgs[0])
	}
	if site, email, err := OpenReaderToken([]byte("0123456789abcdef0123456789abcdef"), PurposeUnsubscribe, tok, e.clk.now()); err != nil ||
		site != "blog" || email != "kept@example.org" {
		t.Errorf("unsubscribe token opens to %q %q %v", site, email, err)
	}
	if got := hdrs[0].Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
}

// TestNoConfirmationToUnsubscribed: an address unsubscribed on the site
// is not asked to confirm again when a comment asks for replies from it.
func TestNoConfirmationToUnsubscribed(t *testing.T) {
	e := newNotifyEnv(t)
	srv := startMailServer(t)
	ctx := context.Background()
	if _, err := e.s.UnsubscribeReader(ctx, "blog", "victim@example.org", e.clk.now()); err != nil {
		t.Fatal(err)
	}
	w := e.worker(t, nil, srv.addr, Site{Replies: true}, nil, nil)
	for day := range 3 {
		c := e.create(t, "", "Victim@example.org", comment.StatusApproved, true)
		w.Tick(ctx)
		if got := deliveryStates(t, e.path, comment.NotifyConfirm, c.ID); len(got) != 0 {
			t.Errorf("day %d: confirmations to an unsubscribed address: %+v", day, got)
		}
		e.clk.add(25 * time.Hour)
	}
	if n := len(srv.messages()); n != 0 {
		t.Errorf("%d messages went out", n)
	}
	if st, _ := e.s.ReaderState(ctx, "blog", "victim@example.org"); st != comment.ReaderUnsubscribed {
		t.Errorf("state = %q, want still unsubscribed", st)
	}
}

// scrubbedView shows some comments as an erasure leaves them when it keeps
// them: no address, and no longer asking for replies.
type scrubbedView struct {
	Store
	ids map[string]bool
}

func (v scrubbedView) Comment(ctx context.Context, id string) (comment.Comment, error) {
	c, err := v.Store.Comment(ctx, id)
	if err == nil && v.ids[id] {
		c.AuthorEmail, c.NotifyReplies = "", false
	}
	return c, err
}

// TestRecheckedAgainstComment: at send time a confirmation request is
// dropped when its comment no longer asks for replies from the address,
// and a reply email when the parent no longer does.
func TestRecheckedAgainstComment(t *testing.T) {
	e := newNotifyEnv(t)
	ctx := context.Background()
	w := e.worker(t, nil, closedAddr(t), Site{Replies: true}, nil, nil)
	parent := e.create(t, "", "parent@example.org", comment.StatusApproved, true)
	asks := e.create(t, "", "asks@example.org", comment.StatusPending, true)
	w.Tick(ctx) // the confirmation requests fail: no server
	if _, err := e.s.ConfirmReader(ctx, "blog", "parent@example.org", e.clk.now()); err != nil {
		t.Fatal(err)
	}
	reply := e.create(t, parent.ID, "other@example.org", comment.StatusApproved, false)
	w.Tick(ctx) // the reply email fails too
	if got := deliveryStates(t, e.path, comment.NotifyReply, reply.ID); len(got) != 1 || got[0].state != "due" {
		t.Fatalf("replies = %+v, want one due", got)
	}
	if got := deliveryStates(t, e.path, comment.NotifyConfirm, asks.ID); len(got) != 1 || got[0].state != "due" {
		t.Fatalf("confirmations = %+v, want one due", got)
	}

	srv := startMailServer(t)
	e.clk.add(24 * time.Hour)
	view := scrubbedView{Store: e.s, ids: map[string]bool{parent.ID: true, asks.ID: true}}
	e.worker(t, view, srv.addr, Site{Replies: true}, nil, nil).Tick(ctx)
	if got := deliveryStates(t, e.path, comment.NotifyConfirm, asks.ID); len(got) != 1 || got[0].state != "dropped" {
		t.Errorf("confirmations = %+v, want one dropped", got)
	}
	if got := deliveryStates(t, e.path, comment.NotifyReply, reply.ID); len(got) != 1 || got[0].state != "dropped" {
		t.Errorf("replies = %+v, want one dropped", got)
	}
	if n := len(srv.messages()); n != 0 {
		t.Errorf("%d messages went out", n)
	}
}
