package safetext

import "testing"

func TestVisible(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nginx", "nginx"},
		{"ünïcödé 日本", "ünïcödé 日本"},
		{"evil\x1b]0;pwned\x07", `evil\x1b]0;pwned\x07`},
		{"a\nb\tc\rd", `a\x0ab\x09c\x0dd`},
		{"del\x7f", `del\x7f`},
		{"c1\u009b31m", `c1\x9b31m`},
		{"bidi\u202eevil", `bidi\u202eevil`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Visible(tt.in); got != tt.want {
			t.Errorf("Visible(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzVisible(f *testing.F) {
	f.Add("plain")
	f.Add("\x1b[2J\x1b[H")
	f.Fuzz(func(t *testing.T, s string) {
		out := Visible(s)
		for _, r := range out {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("Visible(%q) kept control %U", s, r)
			}
		}
	})
}

func BenchmarkVisiblePlain(b *testing.B) {
	for b.Loop() {
		Visible("/usr/sbin/sshd -D -o AuthorizedKeysCommand=/usr/bin/sss_ssh_authorizedkeys")
	}
}
