package testenv

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// XSSPayload is one entry of the stored-XSS corpus.
type XSSPayload struct {
	ID   string
	Text string
}

// XSSCorpus parses testdata/xss/payloads.txt at the top of the module (its
// header describes the format): entries after lines that are exactly
// "----", each starting with an "id: NAME" line. The test fails if the file
// cannot be read or an entry has no id.
func XSSCorpus(t testing.TB) []XSSPayload {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("find the module root: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(root, "testdata", "xss", "payloads.txt"))
	if err != nil {
		t.Fatalf("read the corpus: %v", err)
	}
	var (
		out   []XSSPayload
		cur   *XSSPayload
		lines []string
	)
	flush := func() {
		if cur != nil {
			cur.Text = strings.Join(lines, "\n")
			out = append(out, *cur)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "----":
			flush()
			cur, lines = &XSSPayload{}, nil
		case cur == nil:
			// the header
		case cur.ID == "":
			id, ok := strings.CutPrefix(line, "id: ")
			if !ok || strings.TrimSpace(id) == "" {
				t.Fatalf("corpus entry %d starts with %q, want \"id: NAME\"", len(out)+1, line)
			}
			cur.ID = strings.TrimSpace(id)
		default:
			lines = append(lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read the corpus: %v", err)
	}
	flush()
	return out
}

// moduleRoot is the nearest directory at or above the working directory
// that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
