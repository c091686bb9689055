package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/commentd/commentd/internal/comment"
	"github.com/commentd/commentd/internal/config"
	"github.com/commentd/commentd/internal/markup"
)

const seedUsage = `usage: commentd seed [--config FILE] --site SITE --pages N --comments N --pending N [--random-seed 1]

Loads scale data into the configured database: N pages /articles/00000…,
--comments approved comments spread evenly over them (about one in four a
reply), then --pending pending ones. The site must be declared in the
configuration.
`

const (
	// seedProgress is how often, in comments, progress goes to stderr.
	seedProgress = 100_000
	// seedStep is the time between two seeded comments.
	seedStep = time.Second
)

// seedCommand runs "commentd seed": it fills the configured database with
// pages and comments of one site, for load tests and query plans at scale.
func seedCommand(ctx context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprint(e.stderr, seedUsage)
		fs.PrintDefaults()
	}
	configPath := configFlag(fs, e)
	siteID := fs.String("site", "", "id of the site to seed (declared in the configuration)")
	pages := fs.Int("pages", 0, "number of pages (at least 1)")
	approved := fs.Int("comments", 0, "number of approved comments")
	pending := fs.Int("pending", 0, "number of pending comments, created after the approved ones")
	randomSeed := fs.Uint64("random-seed", 1, "seed of the generator: the same seed gives the same authors, bodies and threads")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("seed: unexpected argument %q", fs.Arg(0))
	case *siteID == "":
		return errors.New("seed: --site is required")
	case *pages < 1:
		return errors.New("seed: --pages must be at least 1")
	case *approved < 0 || *pending < 0:
		return errors.New("seed: --comments and --pending cannot be negative")
	}

	cfg, err := config.Load(*configPath, e.lookup)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := declareSites(ctx, store, cfg); err != nil {
		return err
	}
	site, err := store.Site(ctx, *siteID)
	if errors.Is(err, comment.ErrNotFound) {
		return fmt.Errorf("seed: no site %q: declare it under sites in the configuration", *siteID)
	}
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	loader, ok := store.(comment.BulkLoader)
	if !ok {
		return errors.New("seed: this store cannot bulk load")
	}
	bodies, err := renderBodies(markup.NewRenderer(), rand.New(rand.NewPCG(*randomSeed, 0)))
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}

	started := time.Now()
	total := *approved + *pending
	gen := newSeeder(site, *pages, *approved, total, bodies, rand.New(rand.NewPCG(*randomSeed, 1)),
		started.Truncate(time.Second).Add(-time.Duration(total)*seedStep))
	// The store pulls the comments as it writes them, so that they need
	// not all be in memory at once; progress is told as it pulls.
	comments := func(yield func(comment.Comment) bool) {
		for i := range total {
			if i > 0 && i%seedProgress == 0 {
				fmt.Fprintf(e.stderr, "seed: %d of %d comments in %.1fs\n", i, total, time.Since(started).Seconds())
			}
			if !yield(gen.comment(i)) {
				return
			}
		}
		if total >= seedProgress {
			fmt.Fprintf(e.stderr, "seed: all %d comments sent in %.1fs; the database is finishing\n", total, time.Since(started).Seconds())
		}
	}
	if err := loader.BulkLoad(ctx, gen.pages(), comments); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(e.stdout, "seeded %d comments (%d pending) over %d pages of site %s in %.1fs\n",
		total, *pending, *pages, site.ID, time.Since(started).Seconds())
	return nil
}

// seeder makes the pages and comments of one site. Comment i (counting
// from 0) is created at base + i×seedStep. The first approved comments are
// approved, comment i on page i mod pages; the rest are pending, the j-th
// of them on page j mod pages.
type seeder struct {
	site     comment.Site
	origin   string
	npages   int
	approved int
	bodies   []seedBody
	rng      *rand.Rand
	base     time.Time
	authors  int
	// recent holds, for each page, the last few approved comments, which
	// later comments of the page may reply to.
	recent [][]seedParent
}

type seedParent struct {
	id    string
	depth int
}

// seedBody is a Markdown body and its HTML.
type seedBody struct{ md, html string }

// seedRecent is how many of a page's latest approved comments a reply may
// answer.
const seedRecent = 8

// newSeeder returns a seeder whose comments start at base.
func newSeeder(site comment.Site, pages, approved, total int, bodies []seedBody, rng *rand.Rand, base time.Time) *seeder {
	origin := "https://example.org"
	if len(site.Origins) > 0 {
		origin = site.Origins[0]
	}
	return &seeder{
		site: site, origin: origin, npages: pages, approved: approved, bodies: bodies, rng: rng, base: base,
		// About eight comments per author; at least a few hundred authors.
		authors: max(500, total/8),
		recent:  make([][]seedParent, pages),
	}
}

// seedPageKey is the key of page i.
func seedPageKey(i int) string { return fmt.Sprintf("/articles/%05d", i) }

// pages returns the site's pages.
func (g *seeder) pages() []comment.Page {
	out := make([]comment.Page, g.npages)
	for i := range out {
		key := seedPageKey(i)
		out[i] = comment.Page{
			SiteID: g.site.ID,
			Key:    key,
			URL:    g.origin + key,
			Title:  fmt.Sprintf("Article %05d: %s", i, seedTopics[i%len(seedTopics)]),
		}
	}
	return out
}

// comment returns comment i. Calls must go in order, since replies answer
// earlier comments.
func (g *seeder) comment(i int) comment.Comment {
	status, page := comment.StatusApproved, i%g.npages
	if i >= g.approved {
		status, page = comment.StatusPending, (i-g.approved)%g.npages
	}
	at := g.base.Add(time.Duration(i) * seedStep)
	a := g.rng.IntN(g.authors)
	body := g.bodies[g.rng.IntN(len(g.bodies))]
	c := comment.Comment{
		ID:          seedID(at, g.rng),
		SiteID:      g.site.ID,
		PageKey:     seedPageKey(page),
		Depth:       1,
		AuthorName:  seedFirstNames[a%len(seedFirstNames)] + " " + seedLastNames[a/len(seedFirstNames)%len(seedLastNames)],
		AuthorEmail: fmt.Sprintf("reader%d@example.org", a),
		Body:        body.md,
		BodyHTML:    body.html,
		Status:      status,
		IP:          seedIP(a),
		UserAgent:   seedUserAgents[a%len(seedUserAgents)],
		CreatedAt:   at,
		UpdatedAt:   at,
	}
	if a%5 == 0 {
		c.AuthorWebsite = fmt.Sprintf("https://reader%d.example.net", a)
	}
	// About one in four answers one of the page's recent approved comments,
	// unless it is as deep as a reply may be.
	if recent := g.recent[page]; len(recent) > 0 && g.rng.IntN(4) == 0 {
		if p := recent[g.rng.IntN(len(recent))]; p.depth < comment.MaxDepth {
			c.ParentID, c.Depth = p.id, p.depth+1
		}
	}
	if status == comment.StatusApproved {
		if len(g.recent[page]) == seedRecent {
			g.recent[page] = g.recent[page][1:]
		}
		g.recent[page] = append(g.recent[page], seedParent{id: c.ID, depth: c.Depth})
	}
	return c
}

// seedID returns a UUIDv7 for a comment created at t: its timestamp is t's
// millisecond, the rest drawn from rng, so that comments created later
// (seedStep apart) have greater ids.
func seedID(t time.Time, rng *rand.Rand) string {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[0:8], uint64(t.UnixMilli())<<16|rng.Uint64()&0xffff)
	binary.BigEndian.PutUint64(u[8:16], rng.Uint64())
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 9562 variant
	return u.String()
}

// seedIP returns author a's address, from the ranges reserved for
// documentation (RFC 5737, RFC 3849).
func seedIP(a int) string {
	switch a % 3 {
	case 0:
		return fmt.Sprintf("192.0.2.%d", a%254+1)
	case 1:
		return fmt.Sprintf("198.51.100.%d", a%254+1)
	}
	return fmt.Sprintf("2001:db8::%x", a%0xffff+1)
}

// seedBodies is how many distinct bodies comments are drawn from; each is
// rendered once.
const seedBodies = 200

// renderBodies returns seedBodies bodies of two to five sentences, some
// with Markdown, rendered by the service's renderer.
func renderBodies(r *markup.Renderer, rng *rand.Rand) ([]seedBody, error) {
	out := make([]seedBody, seedBodies)
	for i := range out {
		var paragraphs []string
		var p []string
		for range 2 + rng.IntN(4) {
			p = append(p, seedSentences[rng.IntN(len(seedSentences))])
			if len(p) > 1 && rng.IntN(3) == 0 {
				paragraphs, p = append(paragraphs, strings.Join(p, " ")), nil
			}
		}
		if len(p) > 0 {
			paragraphs = append(paragraphs, strings.Join(p, " "))
		}
		if rng.IntN(2) == 0 {
			paragraphs = append(paragraphs, seedMarkdown[rng.IntN(len(seedMarkdown))])
		}
		md := strings.Join(paragraphs, "\n\n")
		html, err := r.Render(md)
		if err != nil {
			return nil, fmt.Errorf("render body %d: %w", i, err)
		}
		out[i] = seedBody{md: md, html: html}
	}
	return out, nil
}

var seedTopics = []string{
	"Why the harbour bridge took ten years", "A week without a phone", "Notes on sourdough hydration",
	"The case for boring technology", "Cycling the coast road", "What the council budget means for libraries",
	"Restoring a 1970s synthesiser", "Night trains are back", "Learning Welsh at forty", "The quiet rise of heat pumps",
	"Reading the tide tables", "How we moved our database", "A field guide to city moths", "Small fixes, big savings",
	"Ten years of the allotment", "Making peace with the inbox",
}

var seedSentences = []string{
	"Thanks for writing this up, it matches what I saw last year.",
	"I disagree with the second point, but the rest is spot on.",
	"Has anyone tried this with older hardware?",
	"We ran into the same problem and ended up rewriting the whole thing.",
	"The numbers in the third table look off to me.",
	"This is the clearest explanation I have read so far.",
	"My grandmother used to say much the same, without the charts.",
	"Could you share the source for the figures on cost?",
	"It took me three attempts before it finally worked.",
	"Interesting, although the weather makes a bigger difference than you suggest.",
	"I would love a follow-up on what happened next.",
	"The library near us closed last spring, so this hits home.",
	"Every time I read one of these I learn something new.",
	"That photo of the estuary at dawn is wonderful.",
	"Not convinced, but I appreciate the careful argument.",
	"We tried it at work and the team still talks about it.",
	"Small correction: the line reopened in March, not April.",
	"The comments here are always better than elsewhere.",
	"I printed this and pinned it above my desk.",
	"Worth noting that prices have gone up since this was written.",
	"Brilliant piece, shared it with my neighbours.",
	"Does the same apply to smaller towns?",
	"The part about patience is the real lesson here.",
	"I tested it over a long weekend and the results were mixed.",
}

var seedMarkdown = []string{
	"**Update:** it still works a month later.",
	"The key line was `retry_after = 30`, nothing else changed.",
	"More detail in [the manual](https://example.org/manual) if anyone is curious.",
	"> Measure twice, cut once.\n\nStill the best advice.",
	"What worked for me:\n\n- start small\n- write everything down\n- ask for help early",
	"I *really* did not expect that ending.",
	"Steps:\n\n1. unplug it\n2. wait a minute\n3. plug it back in",
	"See https://example.org/notes for my notes.",
}

var seedFirstNames = []string{
	"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis",
	"Radia", "Tim", "Sophie", "John", "Hedy", "Niklaus", "Karen", "Leslie", "Mary", "Claude",
	"Evelyn", "Rob", "Joan", "Peter", "Lynn", "Brian", "Anita", "Guido", "Susan", "Bjarne",
	"Katherine", "Linus", "Jean", "Larry", "Ruth", "Rasmus", "Adele", "Yukihiro", "Carol", "Ward",
}

var seedLastNames = []string{
	"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Ritchie",
	"Perlman", "Berners-Lee", "Wilson", "McCarthy", "Lamarr", "Wirth", "Jones", "Lamport", "Keller", "Shannon",
	"Boyd", "Pike", "Clarke", "Naur", "Conway", "Kernighan", "Borg", "Rossum", "Kare", "Stroustrup",
	"Johnson", "Torvalds", "Sammet", "Wall", "Teitelbaum", "Lerdorf", "Goldberg", "Matsumoto", "Shaw", "Cunningham",
}

var seedUserAgents = []string{
	"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
}
