package natsbus

import "testing"

func TestAtLeast(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{{"2.9.10", false}, {"2.10.0", true}, {"2.15.2", true}, {"3.0.0", true}, {"1.20.1", false}, {"", false}, {"x.y", false}} {
		if got := atLeast(tc.v, 2, 10); got != tc.want {
			t.Errorf("atLeast(%q, 2, 10) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestSubjectMatches(t *testing.T) {
	for _, c := range []struct {
		filter, subject string
		want            bool
	}{
		{"", "acme.cmd.a.B", true},
		{"acme.cmd.a.B", "acme.cmd.a.B", true},
		{"acme.cmd.a.B", "acme.cmd.a.C", false},
		{"acme.cmd.*.B", "acme.cmd.a.B", true},
		{"acme.cmd.*", "acme.cmd.a.B", false},
		{"acme.cmd.>", "acme.cmd.a.B", true},
		{"acme.cmd.a.>", "acme.cmd.a", false},
		{"acme.cmd.a.B.c", "acme.cmd.a.B", false},
		{"acme.evt.>", "acme.cmd.a.B", false},
	} {
		if got := subjectMatches(c.filter, c.subject); got != c.want {
			t.Errorf("subjectMatches(%q, %q) = %v", c.filter, c.subject, got)
		}
	}
}
