package comment

import (
	"reflect"
	"testing"
)

func TestTruncateIP(t *testing.T) {
	tests := []struct {
		name, ip, want string
	}{
		{"IPv4", "198.51.100.7", "198.51.100.0/24"},
		{"IPv4 already at .0", "198.51.100.0", "198.51.100.0/24"},
		{"IPv4 with spaces", " 203.0.113.255 ", "203.0.113.0/24"},
		{"IPv6", "2001:db8:1234:5678:9abc:def0:1234:5678", "2001:db8:1234::/48"},
		{"IPv6 bits inside the third group", "2001:db8:12ff:ffff::1", "2001:db8:12ff::/48"},
		{"IPv6 loopback", "::1", "::/48"},
		{"IPv6 with a zone", "fe80::1%eth0", "fe80::/48"},
		{"IPv4-mapped IPv6", "::ffff:198.51.100.77", "198.51.100.0/24"},
		{"IPv4-mapped IPv6, hex spelling", "::ffff:c633:644d", "198.51.100.0/24"},
		{"IPv4-compatible IPv6 is IPv6", "::198.51.100.77", "::/48"},
		{"already truncated IPv4", "198.51.100.0/24", "198.51.100.0/24"},
		{"already truncated IPv6", "2001:db8:1234::/48", "2001:db8:1234::/48"},
		{"narrower IPv4 prefix", "198.51.100.128/25", "198.51.100.0/24"},
		{"wider IPv4 prefix kept", "198.51.0.0/16", "198.51.0.0/16"},
		{"wider IPv6 prefix kept", "2001:db8::/32", "2001:db8::/32"},
		{"IPv4-mapped prefix", "::ffff:198.51.100.0/120", "198.51.100.0/24"},
		{"empty", "", ""},
		{"blank", "   ", ""},
		{"garbage", "unknown", ""},
		{"host and port", "198.51.100.7:443", ""},
		{"out of range", "198.51.100.300", ""},
		{"bad prefix", "198.51.100.0/33", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TruncateIP(tt.ip)
			if got != tt.want {
				t.Errorf("TruncateIP(%q) = %q, want %q", tt.ip, got, tt.want)
			}
			if again := TruncateIP(got); again != got {
				t.Errorf("TruncateIP(%q) = %q: truncating twice changes it", got, again)
			}
		})
	}
}

func TestExpire(t *testing.T) {
	r := func(rule, detail string) Reason { return Reason{Rule: rule, Detail: detail} }
	tests := []struct {
		name        string
		mode        ClientDataMode
		ip          string
		reasons     []Reason
		wantIP      string
		wantReasons []Reason
	}{
		{"no reasons", ClientDataTruncate, "192.0.2.1", nil, "192.0.2.0/24", nil},
		{"blocked address, truncate", ClientDataTruncate, "192.0.2.1",
			[]Reason{r("blocked_ip", "192.0.2.1 is on blocked_ips")}, "192.0.2.0/24",
			[]Reason{r("blocked_ip", "192.0.2.0/24 is on blocked_ips")}},
		{"blocked address, delete", ClientDataDelete, "192.0.2.1",
			[]Reason{r("blocked_ip", "192.0.2.1 is in 192.0.0.0/16")}, "",
			[]Reason{r("blocked_ip", "an address is in 192.0.0.0/16")}},
		{"other addresses stay", ClientDataTruncate, "192.0.2.1",
			[]Reason{r("blocked_ip", "192.0.2.10, 192.0.2.1.5, 1192.0.2.1 and 192.0.2.1")}, "192.0.2.0/24",
			[]Reason{r("blocked_ip", "192.0.2.10, 192.0.2.1.5, 1192.0.2.1 and 192.0.2.0/24")}},
		{"IPv6 as the rules spell it", ClientDataTruncate, "2001:0db8:0000::0001",
			[]Reason{r("blocked_ip", "2001:db8::1 is in 2001:db8::/32")}, "2001:db8::/48",
			[]Reason{r("blocked_ip", "2001:db8::/48 is in 2001:db8::/32")}},
		{"pattern matches in client data", ClientDataTruncate, "192.0.2.1",
			[]Reason{r("hold_words", `matched /bot/ ("Googlebot/2.1 \"x\"") in user agent, /^192/ ("192.0.2.1") in IP, /cheap/ ("cheap") in body, and more`)},
			"192.0.2.0/24",
			[]Reason{r("hold_words", `matched /bot/ in user agent, /^192/ in IP, /cheap/ ("cheap") in body, and more`)}},
		{"unparsable address", ClientDataTruncate, "bogus",
			[]Reason{r("max_links", "3 links (the rule fires at 2 or more)")}, "",
			[]Reason{r("max_links", "3 links (the rule fires at 2 or more)")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]Reason(nil), tt.reasons...)
			got := tt.mode.Expire(tt.ip, tt.reasons)
			if got.IP != tt.wantIP {
				t.Errorf("IP = %q, want %q", got.IP, tt.wantIP)
			}
			if !reflect.DeepEqual(got.Reasons, tt.wantReasons) {
				t.Errorf("Reasons = %q, want %q", got.Reasons, tt.wantReasons)
			}
			if !reflect.DeepEqual(tt.reasons, in) {
				t.Errorf("Expire changed its argument: %q, was %q", tt.reasons, in)
			}
		})
	}
}

func TestClientDataModeValid(t *testing.T) {
	for m, want := range map[ClientDataMode]bool{"truncate": true, "delete": true, "": false, "Truncate": false, "keep": false} {
		if got := m.Valid(); got != want {
			t.Errorf("ClientDataMode(%q).Valid() = %v, want %v", m, got, want)
		}
	}
}
