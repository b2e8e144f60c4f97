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
