package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/comment"
)

// privacyFixture is one reader's comments (a reply by someone else under
// one of them, so that deletion has a tombstone to leave), a revision,
// list entries and a moderator account, next to another author's data.
type privacyFixture struct {
	site, other comment.Site
	email       string // as the reader spells it when asking
	stored      string // as their comments spell it
	mine        []comment.Comment
	parent      comment.Comment // one of mine, replied to by someone else
	reply       comment.Comment // someone else's
	others      comment.Comment // someone else's, top-level
	userID      string
}

func newPrivacyFixture(t *testing.T, s comment.Store) privacyFixture {
	t.Helper()
	ctx := ctxFor(t)
	local := "reader-" + newID()
	f := privacyFixture{
		site: mustSite(t, s), other: mustSite(t, s),
		email: "  " + strings.ToUpper(local) + "@Example.ORG ", stored: local + "@example.org",
	}
	mk := func(site, key, email string, at time.Time) comment.Comment {
		c := newComment(site, key, at)
		c.AuthorEmail = email
		c.IP = "198.51.100.7"
		c.UserAgent = "reader-browser/1.0"
		c.Reasons = []comment.Reason{{Rule: "blocked_ip", Detail: "198.51.100.7 is on blocked_ips"}}
		return c
	}
	a := mk(f.site.ID, "/a", f.stored, t0)
	if err := s.CreateComment(ctx, a, comment.Page{SiteID: a.SiteID, Key: a.PageKey, URL: "https://blog.example/a", Title: "A"}); err != nil {
		t.Fatalf("CreateComment: %v", err)
	}
	b := mustCreate(t, s, mk(f.other.ID, "/b", strings.ToUpper(f.stored), t0.Add(time.Minute)))
	own := mk(f.site.ID, "/a", f.stored, t0.Add(2*time.Minute))
	own.ParentID, own.Depth = a.ID, 2
	own = mustCreate(t, s, own)
	// b is replied to by someone else; a only by the reader.
	f.reply = mk(f.other.ID, "/b", "someone@example.net", t0.Add(3*time.Minute))
	f.reply.ParentID, f.reply.Depth, f.reply.IP = b.ID, 2, "192.0.2.9"
	f.reply = mustCreate(t, s, f.reply)
	f.others = mustCreate(t, s, mk(f.site.ID, "/a", "someone@example.net", t0.Add(4*time.Minute)))
	f.mine, f.parent = []comment.Comment{a, b, own}, b

	if _, err := s.EditComment(ctx, comment.Edit{ID: a.ID, AuthorName: "Ada L.", Body: "Edited.",
		BodyHTML: "<p>Edited.</p>", Actor: "mod", At: t0.Add(5 * time.Minute)}); err != nil {
		t.Fatalf("EditComment: %v", err)
	}
	for _, e := range []comment.ListEntry{
		{SiteID: f.site.ID, List: comment.ListTrustedEmails, Value: f.stored, CreatedBy: "mod", CreatedAt: t0},
		{SiteID: f.other.ID, List: comment.ListBlockedEmails, Value: f.stored, CreatedBy: "mod", CreatedAt: t0},
		{SiteID: f.site.ID, List: comment.ListTrustedEmails, Value: "someone@example.net", CreatedBy: "mod", CreatedAt: t0},
	} {
		if err := s.AddListEntry(ctx, e); err != nil {
			t.Fatalf("AddListEntry: %v", err)
		}
	}
	f.userID = newID()
	if err := s.CreateUser(ctx, comment.User{ID: f.userID, Email: f.stored, PasswordHash: "$argon2id$secret", CreatedAt: t0}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := s.SetGrant(ctx, comment.Grant{UserID: f.userID, SiteID: f.site.ID, Role: comment.RoleModerator}); err != nil {
		t.Fatalf("SetGrant: %v", err)
	}
	return f
}

func personalIDs(cs []comment.PersonalComment) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func testPersonalData(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	f := newPrivacyFixture(t, s)
	d, err := s.PersonalData(ctx, f.email)
	if err != nil {
		t.Fatalf("PersonalData: %v", err)
	}
	if d.Email != f.stored {
		t.Errorf("Email = %q, want %q", d.Email, f.stored)
	}
	if got, want := personalIDs(d.Comments), ids(f.mine); !slices.Equal(got, want) {
		t.Errorf("comments = %v, want %v (oldest first, other authors left out)", got, want)
	}
	first := d.Comments[0]
	if first.SiteID != f.site.ID || first.PageKey != "/a" || first.PageURL != "https://blog.example/a" || first.PageTitle != "A" ||
		first.IP != "198.51.100.7" || first.UserAgent != "reader-browser/1.0" || first.AuthorName != "Ada L." ||
		first.Body != "Edited." || len(first.Reasons) != 1 || first.Status != comment.StatusPending {
		t.Errorf("first comment = %+v", first)
	}
	if d.Comments[2].ParentID != f.mine[0].ID {
		t.Errorf("reply's parent = %q, want %q", d.Comments[2].ParentID, f.mine[0].ID)
	}
	if len(d.Revisions) != 1 || d.Revisions[0].CommentID != f.mine[0].ID || d.Revisions[0].Body != "Nice post." {
		t.Errorf("revisions = %+v, want the one before the edit", d.Revisions)
	}
	wantLists := []comment.PersonalListEntry{
		{SiteID: f.site.ID, List: comment.ListTrustedEmails, CreatedAt: t0},
		{SiteID: f.other.ID, List: comment.ListBlockedEmails, CreatedAt: t0},
	}
	slices.SortFunc(wantLists, func(a, b comment.PersonalListEntry) int { return strings.Compare(a.SiteID, b.SiteID) })
	if !slices.Equal(d.ListEntries, wantLists) {
		t.Errorf("list entries = %+v, want %+v", d.ListEntries, wantLists)
	}
	if d.User == nil || d.User.ID != f.userID || d.User.Roles[f.site.ID] != comment.RoleModerator {
		t.Errorf("user = %+v, want %s, moderator of %s", d.User, f.userID, f.site.ID)
	}

	none, err := s.PersonalData(ctx, "nobody-"+newID()+"@example.org")
	if err != nil {
		t.Fatalf("PersonalData(unknown): %v", err)
	}
	if none.Comments == nil || len(none.Comments) != 0 || len(none.Revisions) != 0 || len(none.ListEntries) != 0 || none.User != nil {
		t.Errorf("PersonalData(unknown) = %+v, want empty, non-nil slices", none)
	}
}

// auditKey keys the audit subjects the suite writes and expects.
var auditKey = []byte("storetest audit key")

// checkAudit checks that the newest audit entry about subject is action by
// actor and holds no trace of the email.
func checkAudit(t *testing.T, s comment.Store, email, action string) comment.AuditEntry {
	t.Helper()
	entries, err := s.AuditEntries(ctxFor(t), 1000)
	if err != nil {
		t.Fatalf("AuditEntries: %v", err)
	}
	subject := comment.EmailSubject(auditKey, email)
	for _, e := range entries {
		if e.Subject != subject {
			continue
		}
		if e.Action != action || e.Actor != "user-1" {
			t.Errorf("audit entry = %+v, want %s by user-1", e, action)
		}
		return e
	}
	t.Fatalf("no audit entry with subject %s", subject)
	return comment.AuditEntry{}
}

func testErasePersonalDataKeep(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	f := newPrivacyFixture(t, s)
	before, err := s.RulesVersion(ctx, f.site.ID)
	if err != nil {
		t.Fatalf("RulesVersion: %v", err)
	}
	audit := comment.AuditEntry{At: t0, Actor: "user-1", Action: comment.AuditGDPRErase, Subject: comment.EmailSubject(auditKey, f.email)}
	sum, err := s.ErasePersonalData(ctx, f.email, false, audit)
	if err != nil {
		t.Fatalf("ErasePersonalData: %v", err)
	}
	wantSites := []string{f.site.ID, f.other.ID}
	slices.Sort(wantSites)
	if sum.Scrubbed != 3 || sum.Deleted != 0 || sum.Tombstoned != 0 || sum.ListEntries != 2 || !slices.Equal(sum.Sites, wantSites) {
		t.Errorf("summary = %+v, want 3 scrubbed, 2 list entries, sites %v", sum, wantSites)
	}
	if len(sum.Pages) != 0 {
		t.Errorf("pages = %+v, want none: keeping comments changes no public thread", sum.Pages)
	}
	for _, c := range f.mine {
		got, err := s.Comment(ctx, c.ID)
		if err != nil {
			t.Fatalf("Comment(%s): %v", c.ID, err)
		}
		if got.AuthorEmail != "" || got.IP != "" || got.UserAgent != "" {
			t.Errorf("comment %s kept email %q, ip %q, user agent %q", c.ID, got.AuthorEmail, got.IP, got.UserAgent)
		}
		if got.AuthorName == "" || got.Body == "" || got.Status != c.Status {
			t.Errorf("comment %s lost its content: %+v", c.ID, got)
		}
		for _, r := range got.Reasons {
			if strings.Contains(r.Detail, "198.51.100.7") {
				t.Errorf("comment %s reasons still name the address: %+v", c.ID, got.Reasons)
			}
		}
	}
	checkUntouched(t, s, f)
	if after, _ := s.RulesVersion(ctx, f.site.ID); after <= before {
		t.Errorf("rules version %d after erase, want above %d", after, before)
	}
	e := checkAudit(t, s, f.email, comment.AuditGDPRErase)
	if e.Details["scrubbed"] != 3 || e.Details["list_entries"] != 2 {
		t.Errorf("audit details = %v, want the summary's counts", e.Details)
	}
	checkErased(t, s, f)
}

func testErasePersonalDataDelete(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	f := newPrivacyFixture(t, s)
	audit := comment.AuditEntry{At: t0, Actor: "user-1", Action: comment.AuditGDPRErase, Subject: comment.EmailSubject(auditKey, f.email)}
	sum, err := s.ErasePersonalData(ctx, f.email, true, audit)
	if err != nil {
		t.Fatalf("ErasePersonalData: %v", err)
	}
	if sum.Deleted != 2 || sum.Tombstoned != 1 || sum.Revisions != 1 || sum.Scrubbed != 0 || sum.ListEntries != 2 {
		t.Errorf("summary = %+v, want 2 deleted, 1 tombstone, 1 revision, 2 list entries", sum)
	}
	wantPages := []comment.Page{{SiteID: f.site.ID, Key: "/a"}, {SiteID: f.other.ID, Key: "/b"}}
	slices.SortFunc(wantPages, func(a, b comment.Page) int { return strings.Compare(a.SiteID, b.SiteID) })
	if !slices.Equal(sum.Pages, wantPages) {
		t.Errorf("pages = %+v, want %+v", sum.Pages, wantPages)
	}
	for _, c := range []comment.Comment{f.mine[0], f.mine[2]} {
		if _, err := s.Comment(ctx, c.ID); err == nil {
			t.Errorf("Comment(%s) still there after delete", c.ID)
		}
	}
	tomb, err := s.Comment(ctx, f.parent.ID)
	if err != nil {
		t.Fatalf("Comment(tombstone): %v", err)
	}
	if tomb.Status != comment.StatusDeleted || tomb.AuthorName != "" || tomb.AuthorEmail != "" || tomb.Body != "" ||
		tomb.BodyHTML != "" || tomb.IP != "" || tomb.UserAgent != "" || len(tomb.Reasons) != 0 {
		t.Errorf("tombstone = %+v, want deleted and emptied", tomb)
	}
	checkUntouched(t, s, f)
	checkAudit(t, s, f.email, comment.AuditGDPRErase)
	checkErased(t, s, f)
}

// checkUntouched checks that the other author's comments, list entry and
// the reader's moderator account survived an erasure.
func checkUntouched(t *testing.T, s comment.Store, f privacyFixture) {
	t.Helper()
	ctx := ctxFor(t)
	for _, c := range []comment.Comment{f.reply, f.others} {
		got, err := s.Comment(ctx, c.ID)
		if err != nil {
			t.Fatalf("Comment(%s): %v", c.ID, err)
		}
		if got.AuthorEmail != c.AuthorEmail || got.IP != c.IP || got.Body != c.Body || got.ParentID != c.ParentID {
			t.Errorf("other author's comment changed: %+v, want %+v", got, c)
		}
	}
	entries, err := s.ListEntries(ctx, f.site.ID, comment.ListTrustedEmails)
	if err != nil {
		t.Fatalf("ListEntries: %v", err)
	}
	if len(entries) != 1 || entries[0].Value != "someone@example.net" {
		t.Errorf("trusted emails = %+v, want only someone@example.net", entries)
	}
	if _, err := s.UserByEmail(ctx, f.stored); err != nil {
		t.Errorf("moderator account gone: %v", err)
	}
}

// checkErased checks that nothing about the reader's comments or lists is
// left, and that a second erasure finds nothing to do.
func checkErased(t *testing.T, s comment.Store, f privacyFixture) {
	t.Helper()
	ctx := ctxFor(t)
	d, err := s.PersonalData(ctx, f.email)
	if err != nil {
		t.Fatalf("PersonalData: %v", err)
	}
	if len(d.Comments) != 0 || len(d.Revisions) != 0 || len(d.ListEntries) != 0 {
		t.Errorf("after erase PersonalData = %+v, want no comments, revisions or list entries", d)
	}
	sum, err := s.ErasePersonalData(ctx, f.email, true, comment.AuditEntry{At: t0, Actor: "user-1",
		Action: comment.AuditGDPRErase, Subject: comment.EmailSubject(auditKey, f.email)})
	if err != nil {
		t.Fatalf("second ErasePersonalData: %v", err)
	}
	if sum.Scrubbed+sum.Deleted+sum.Tombstoned+sum.Revisions+sum.ListEntries != 0 || len(sum.Sites) != 0 {
		t.Errorf("second erase = %+v, want nothing", sum)
	}
}

func testAddAudit(t *testing.T, s comment.Store) {
	ctx := ctxFor(t)
	email := "Audit-" + newID() + "@example.org"
	e := comment.AuditEntry{At: t0, Actor: "user-1", Action: comment.AuditGDPRExport,
		Subject: comment.EmailSubject(auditKey, email), Details: map[string]int{"comments": 2}}
	if err := s.AddAudit(ctx, e); err != nil {
		t.Fatalf("AddAudit: %v", err)
	}
	got := checkAudit(t, s, email, comment.AuditGDPRExport)
	if !got.At.Equal(t0) || got.Details["comments"] != 2 {
		t.Errorf("audit entry = %+v, want %+v", got, e)
	}
	if comment.EmailSubject(auditKey, " "+strings.ToUpper(email)) != e.Subject {
		t.Errorf("EmailSubject differs by case or spaces")
	}
	if _, err := s.ErasePersonalData(ctx, " ", false, e); err == nil {
		t.Errorf("ErasePersonalData(blank) succeeded, want a validation error")
	}
}

// notifyFixture is a reader with reply notifications on two sites: a
// comment asking for them (approved, replied to by someone else), a held
// one asking too, a confirmation email (sent), a reply email (due), and
// emails that are not the reader's: the reply email to another reader
// (whose comment asks for replies too and was replied to by the same
// author) and the moderators' email about the held comment.
type notifyFixture struct {
	email              string // as the reader typed it
	other, mod         string // another reader's and a moderator's
	siteA, siteB       string
	top, held, rep     comment.Comment
	otherTop, otherRep comment.Comment
	confirmSentAt      time.Time
}

func newNotifyFixture(t *testing.T, s comment.Store) notifyFixture {
	t.Helper()
	ctx := ctxFor(t)
	id := newID()
	f := notifyFixture{email: "Nora.Reader-" + id + "@Example.org", other: "other-reader-" + id + "@example.org",
		mod: "mod-" + id + "@example.org", siteA: mustSite(t, s).ID, siteB: mustSite(t, s).ID}
	f.top = newComment(f.siteA, "/n", t0)
	f.top.AuthorEmail, f.top.Status, f.top.NotifyReplies = f.email, comment.StatusApproved, true
	f.rep = newComment(f.siteA, "/n", t0.Add(time.Minute))
	f.rep.AuthorEmail, f.rep.Status, f.rep.ParentID, f.rep.Depth = "sam@example.net", comment.StatusApproved, f.top.ID, 2
	f.held = newComment(f.siteA, "/n", t0.Add(2*time.Minute))
	f.held.AuthorEmail, f.held.NotifyReplies = f.email, true
	f.otherTop = newComment(f.siteA, "/n", t0.Add(3*time.Minute))
	f.otherTop.AuthorEmail, f.otherTop.Status, f.otherTop.NotifyReplies = f.other, comment.StatusApproved, true
	f.otherRep = newComment(f.siteA, "/n", t0.Add(4*time.Minute))
	f.otherRep.AuthorEmail, f.otherRep.Status, f.otherRep.ParentID, f.otherRep.Depth = f.rep.AuthorEmail, comment.StatusApproved, f.otherTop.ID, 2
	for _, c := range []comment.Comment{f.top, f.rep, f.held, f.otherTop, f.otherRep} {
		mustCreate(t, s, c)
	}
	jobs, err := s.ClaimNotifyJobs(ctx, t0.Add(time.Hour), t0.Add(2*time.Hour), 100)
	if err != nil {
		t.Fatalf("ClaimNotifyJobs: %v", err)
	}
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	delivery := func(kind comment.NotifyKind, commentID, to string, created time.Time) comment.NotifyDelivery {
		return comment.NotifyDelivery{ID: newID(), SiteID: f.siteA, Kind: kind, Channel: comment.ChannelEmail, Recipient: to,
			CommentID: commentID, Payload: []byte(`{"text":"Sam replied: secret words"}`), State: comment.DeliveryDue,
			NextAt: created, CreatedAt: created}
	}
	f.confirmSentAt = at(10)
	confirm := delivery(comment.NotifyConfirm, f.top.ID, f.email, at(10))
	var outcomes []comment.JobOutcome
	for _, j := range jobs {
		o := comment.JobOutcome{JobID: j.ID}
		switch {
		case j.Kind == comment.NotifyConfirm && j.CommentID == f.top.ID:
			o.Deliveries = []comment.NotifyDelivery{confirm}
			o.Confirm = &comment.ConfirmRequest{SiteID: f.siteA, EmailLower: strings.ToLower(f.email), CommentID: f.top.ID,
				At: f.confirmSentAt, NotSince: t0}
		case j.Kind == comment.NotifyReply && j.CommentID == f.rep.ID:
			o.Deliveries = []comment.NotifyDelivery{delivery(comment.NotifyReply, f.rep.ID, f.email, at(11))}
		case j.Kind == comment.NotifyReply && j.CommentID == f.otherRep.ID:
			o.Deliveries = []comment.NotifyDelivery{delivery(comment.NotifyReply, f.otherRep.ID, f.other, at(12))}
		case j.Kind == comment.NotifyHeld:
			o.Deliveries = []comment.NotifyDelivery{delivery(comment.NotifyHeld, f.held.ID, f.mod, at(13))}
		}
		outcomes = append(outcomes, o)
	}
	added, err := s.FinishNotifyJobs(ctx, outcomes)
	if err != nil {
		t.Fatalf("FinishNotifyJobs: %v", err)
	}
	total := 0
	for _, n := range added {
		total += n
	}
	if total != 4 {
		t.Fatalf("FinishNotifyJobs inserted %d deliveries, want 4 (jobs %v)", total, jobs)
	}
	skipped, err := s.MarkNotifyDeliveries(ctx, []comment.DeliveryResult{{ID: confirm.ID, State: comment.DeliverySent, Attempts: 1, At: at(20)}})
	if err != nil || len(skipped) > 0 {
		t.Fatalf("MarkNotifyDeliveries: %v, skipped %v", err, skipped)
	}
	if _, err := s.ConfirmReader(ctx, f.siteA, f.email, at(30)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UnsubscribeReader(ctx, f.siteB, f.email, at(31)); err != nil {
		t.Fatal(err)
	}
	return f
}

// deliveriesTo returns "kind state" of each notification email to email in
// its export.
func deliveriesTo(t *testing.T, s comment.Store, email string) []string {
	t.Helper()
	d, err := s.PersonalData(ctxFor(t), email)
	if err != nil {
		t.Fatalf("PersonalData: %v", err)
	}
	out := []string{}
	for _, x := range d.NotifyDeliveries {
		out = append(out, string(x.Kind)+" "+string(x.State))
	}
	return out
}

// testPersonalNotifyData: the export has the reader's states for reply
// notifications and the emails to them, and nothing of the emails to
// others.
func testPersonalNotifyData(t *testing.T, s comment.Store) {
	f := newNotifyFixture(t, s)
	d, err := s.PersonalData(ctxFor(t), "  "+strings.ToUpper(f.email))
	if err != nil {
		t.Fatalf("PersonalData: %v", err)
	}
	notify := map[string]bool{}
	for _, c := range d.Comments {
		notify[c.ID] = c.NotifyReplies
	}
	if !notify[f.top.ID] || !notify[f.held.ID] || len(notify) != 2 {
		t.Errorf("comments' notify_replies = %v, want both of the reader's true", notify)
	}
	a, b := f.siteA, f.siteB
	if b < a {
		a, b = b, a
	}
	if len(d.ReaderAddresses) != 2 || d.ReaderAddresses[0].SiteID != a || d.ReaderAddresses[1].SiteID != b {
		t.Fatalf("reader addresses = %+v, want one per site, by site", d.ReaderAddresses)
	}
	for _, ra := range d.ReaderAddresses {
		switch ra.SiteID {
		case f.siteA:
			if ra.State != comment.ReaderConfirmed || ra.ConfirmSentAt == nil || !ra.ConfirmSentAt.Equal(f.confirmSentAt) ||
				!ra.ChangedAt.Equal(t0.Add(30*time.Minute)) {
				t.Errorf("site A: %+v, want confirmed, asked at %v, changed at +30m", ra, f.confirmSentAt)
			}
		case f.siteB:
			if ra.State != comment.ReaderUnsubscribed || ra.ConfirmSentAt != nil || !ra.ChangedAt.Equal(t0.Add(31*time.Minute)) {
				t.Errorf("site B: %+v, want unsubscribed, never asked, changed at +31m", ra)
			}
		}
	}
	if len(d.NotifyDeliveries) != 2 {
		t.Fatalf("deliveries = %+v, want the confirmation and the reply email", d.NotifyDeliveries)
	}
	sent, due := d.NotifyDeliveries[0], d.NotifyDeliveries[1]
	if sent.Kind != comment.NotifyConfirm || sent.State != comment.DeliverySent || sent.Attempts != 1 ||
		sent.DoneAt == nil || !sent.DoneAt.Equal(t0.Add(20*time.Minute)) || sent.SiteID != f.siteA ||
		!sent.CreatedAt.Equal(t0.Add(10*time.Minute)) || sent.Channel != comment.ChannelEmail {
		t.Errorf("confirmation delivery = %+v", sent)
	}
	if due.Kind != comment.NotifyReply || due.State != comment.DeliveryDue || due.DoneAt != nil {
		t.Errorf("reply delivery = %+v", due)
	}
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{f.other, f.mod, f.rep.AuthorEmail, "secret words", f.rep.ID, f.otherTop.ID, f.otherRep.ID} {
		if strings.Contains(strings.ToLower(string(raw)), strings.ToLower(other)) {
			t.Errorf("export holds %q: %s", other, raw)
		}
	}
	counts := d.PersonalCounts()
	if counts["reader_addresses"] != 2 || counts["notify_deliveries"] != 2 {
		t.Errorf("counts = %v", counts)
	}
}

// testErasePersonalNotifyData: erasing, keeping or deleting the comments,
// removes the reader's states and the emails to them, turns reply
// notifications off on the comments kept, and leaves others' emails alone
// (but for notifications about deleted comments, whose messages quote
// them).
func testErasePersonalNotifyData(t *testing.T, s comment.Store) {
	for _, deleteComments := range []bool{false, true} {
		t.Run(fmt.Sprintf("delete comments %v", deleteComments), func(t *testing.T) {
			ctx := ctxFor(t)
			f := newNotifyFixture(t, s)
			sum, err := s.ErasePersonalData(ctx, f.email, deleteComments, comment.AuditEntry{At: t0, Actor: "user-1",
				Action: comment.AuditGDPRErase, Subject: comment.EmailSubject(auditKey, f.email)})
			if err != nil {
				t.Fatalf("ErasePersonalData: %v", err)
			}
			wantDeliveries := 2
			if deleteComments {
				wantDeliveries = 3 // and the moderators' email about the deleted held comment
			}
			if sum.ReaderAddresses != 2 || sum.NotifyDeliveries != wantDeliveries {
				t.Errorf("summary = %+v, want 2 reader addresses and %d deliveries", sum, wantDeliveries)
			}
			if c := sum.Counts(); c["reader_addresses"] != 2 || c["notify_deliveries"] != wantDeliveries {
				t.Errorf("counts = %v", c)
			}
			if audit := checkAudit(t, s, f.email, comment.AuditGDPRErase); audit.Details["reader_addresses"] != 2 {
				t.Errorf("audit details = %v", audit.Details)
			}
			d, err := s.PersonalData(ctx, f.email)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.ReaderAddresses) != 0 || len(d.NotifyDeliveries) != 0 {
				t.Errorf("after erase: %+v", d)
			}
			for _, site := range []string{f.siteA, f.siteB} {
				if st, err := s.ReaderState(ctx, site, f.email); err != nil || st != comment.ReaderUnknown {
					t.Errorf("state on %s after erase = %q, %v", site, st, err)
				}
			}
			// Kept comments (scrubbed, or the tombstone of the one replied
			// to) ask for nothing any more.
			for _, id := range []string{f.top.ID, f.held.ID} {
				c, err := s.Comment(ctx, id)
				if errors.Is(err, comment.ErrNotFound) && deleteComments && id == f.held.ID {
					continue
				}
				if err != nil {
					t.Fatalf("Comment(%s): %v", id, err)
				}
				if c.NotifyReplies {
					t.Errorf("comment %s kept notify_replies", id)
				}
			}
			if got := deliveriesTo(t, s, f.other); len(got) != 1 {
				t.Errorf("another reader's emails = %v, want theirs kept", got)
			}
			wantMod := 1
			if deleteComments {
				wantMod = 0
			}
			if got := deliveriesTo(t, s, f.mod); len(got) != wantMod {
				t.Errorf("moderators' emails = %v, want %d", got, wantMod)
			}
		})
	}
}
