package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestPaddedJSON(t *testing.T) {
	for _, n := range []int{12, 13, 433, 3549, 40189} {
		got := paddedJSON(n)
		if len(got) != n {
			t.Errorf("paddedJSON(%d) has %d bytes", n, len(got))
		}
		var v map[string]string
		if err := json.Unmarshal(got, &v); err != nil {
			t.Errorf("paddedJSON(%d) is not JSON: %v", n, err)
		}
	}
}

func TestBannerWriter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"one write", []string{"commentd listening on http://127.0.0.1:1234\n  demo article: x\n"}, "http://127.0.0.1:1234"},
		{"split line", []string{"noise\ncommentd listen", "ing on http://[::1]:80", "\n"}, "http://[::1]:80"},
		{"CRLF", []string{"commentd listening on http://h:1\r\n"}, "http://h:1"},
		{"never", []string{"commentd listening on http://h:1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "log"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			found := make(chan string, 1)
			w := &bannerWriter{out: f, banner: "commentd listening on ", found: found}
			for _, s := range tt.writes {
				if _, err := io.WriteString(w, s); err != nil {
					t.Fatal(err)
				}
			}
			got := ""
			select {
			case got = <-found:
			default:
			}
			if got != tt.want {
				t.Errorf("found %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTally(t *testing.T) {
	tl := &tally{expect: statusIs(http.StatusNotModified), codes: map[int]int{}, failures: map[string]int{}}
	start := time.Unix(1000, 0)
	for i := range 100 {
		r := &vegeta.Result{Code: http.StatusNotModified, Timestamp: start.Add(time.Duration(i) * 10 * time.Millisecond), Latency: time.Duration(i+1) * time.Millisecond}
		switch i {
		case 10:
			r.Code = http.StatusOK
		case 20:
			r.Code, r.Error = 0, "connection refused"
		}
		tl.add(r)
	}
	if got, want := tl.errors(), 2; got != want {
		t.Errorf("errors %d, want %d", got, want)
	}
	if got, want := tl.answered2xx(), 1; got != want {
		t.Errorf("2xx %d, want %d", got, want)
	}
	if got, want := tl.quantile(0.5), 50*time.Millisecond; got != want {
		t.Errorf("p50 %s, want %s", got, want)
	}
	if got, want := tl.quantile(0.99), 99*time.Millisecond; got != want {
		t.Errorf("p99 %s, want %s", got, want)
	}
	// 100 requests from t=0 to the last answer at 990 ms + 100 ms.
	if got, want := tl.rate(), 100/1.09; got < want-0.01 || got > want+0.01 {
		t.Errorf("rate %.2f, want %.2f", got, want)
	}
	if got, want := statusSummary(tl), "200 ×1, 304 ×98, no answer ×1 (connection refused)"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

func TestSubmitTargeterUnique(t *testing.T) {
	tr := submitTargeter("http://h", pageKeys(3), "run")
	seen := map[string]bool{}
	for range 1000 {
		var tg vegeta.Target
		if err := tr(&tg); err != nil {
			t.Fatal(err)
		}
		var s submission
		if err := json.Unmarshal(tg.Body, &s); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"ip " + tg.Header.Get("X-Forwarded-For"), "email " + s.Email, "body " + s.Body} {
			if seen[k] {
				t.Fatalf("repeated %s", k)
			}
			seen[k] = true
		}
	}
}

func TestParseOptions(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"defaults", nil, false},
		{"scale", []string{"-pages", "10000", "-comments", "1000000", "-pending", "100000", "-duration", "30s", "-store", "postgres", "-queue"}, false},
		{"bad store", []string{"-store", "mysql"}, true},
		{"no pages", []string{"-pages", "0"}, true},
		{"stray argument", []string{"now"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseOptions(tt.args, noEnv, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Errorf("error %v, want error: %t", err, tt.wantErr)
			}
		})
	}
}
