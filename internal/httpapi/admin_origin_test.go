package httpapi

import (
	"net/http/httptest"
	"testing"
)

func TestCrossOrigin(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		header    map[string]string
		publicURL string
		want      bool
	}{
		{name: "no browser headers", method: "POST", want: false},
		{name: "same origin", method: "POST", header: map[string]string{"Origin": "http://mod.example:8080", "Sec-Fetch-Site": "same-origin"}, want: false},
		{name: "https origin behind a TLS proxy", method: "POST", header: map[string]string{"Origin": "https://mod.example:8080"}, want: false},
		{name: "public URL origin", method: "POST", header: map[string]string{"Origin": "https://comments.example"}, publicURL: "https://comments.example/", want: false},
		{name: "public URL with its default port", method: "POST", header: map[string]string{"Origin": "https://comments.example"}, publicURL: "https://comments.example:443", want: false},
		{name: "public URL with another port", method: "POST", header: map[string]string{"Origin": "https://comments.example"}, publicURL: "https://comments.example:8443", want: true},
		{name: "foreign origin", method: "POST", header: map[string]string{"Origin": "https://evil.example"}, want: true},
		{name: "opaque origin", method: "POST", header: map[string]string{"Origin": "null"}, want: true},
		{name: "host as a suffix", method: "POST", header: map[string]string{"Origin": "http://evil.mod.example:8080"}, want: true},
		{name: "cross-site fetch", method: "POST", header: map[string]string{"Sec-Fetch-Site": "cross-site"}, want: true},
		{name: "same-site fetch", method: "POST", header: map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://mod.example:8080"}, want: true},
		{name: "cross-site read", method: "GET", header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://mod.example:8080/admin/comments/x/approve", nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if got := crossOrigin(r, tt.publicURL); got != tt.want {
				t.Errorf("crossOrigin = %v, want %v", got, tt.want)
			}
		})
	}
}
