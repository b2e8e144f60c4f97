package testenv

import "testing"

func TestVersionLess(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{{"2.9.10", "2.10.0", true}, {"2.10.0", "2.10.0", false}, {"2.15.2", "2.10.0", false}, {"v2.9", "2.10", true}, {"3.0.0", "2.10.0", false}} {
		if got := versionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("versionLess(%q, %q) = %v; want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
