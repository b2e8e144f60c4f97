package sqlite

import (
	"fmt"
	"slices"
	"testing"

	"acme/es"
)

func positions(evs []es.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Position
	}
	return out
}

func evs(ps ...int64) []es.Event {
	out := make([]es.Event, len(ps))
	for i, p := range ps {
		out[i] = es.Event{Position: p, ID: fmt.Sprint(p), Data: []byte(`{}`)}
	}
	return out
}

// The cache answers a read only from a contiguous run that starts right
// after the reader's position, stops at a gap (another process's events) and
// at the limit, and forgets the oldest events when full.
func TestTailCache(t *testing.T) {
	c := newTailCache(6)
	if _, ok, _ := c.read(0, 10); ok {
		t.Fatal("empty cache answered")
	}
	c.add(evs(1, 2, 3))
	c.add(evs(6, 7)) // 4 and 5 were another process's
	for _, tc := range []struct {
		after int64
		limit int
		want  []int64
		ok    bool
		gap   bool
	}{
		{0, 10, []int64{1, 2, 3}, true, true}, // stops at the gap
		{0, 3, []int64{1, 2, 3}, true, false},
		{0, 2, []int64{1, 2}, true, false},
		{1, 10, []int64{2, 3}, true, true},
		{3, 10, nil, false, false}, // 4 is not here
		{4, 10, nil, false, false},
		{5, 10, []int64{6, 7}, true, false}, // up to the newest
		{7, 10, nil, false, false},          // past the newest
	} {
		got, ok, gap := c.read(tc.after, tc.limit)
		if ok != tc.ok || gap != tc.gap || !slices.Equal(positions(got), tc.want) {
			t.Errorf("read(%d, %d) = %v %v %v, want %v %v %v", tc.after, tc.limit, positions(got), ok, gap, tc.want, tc.ok, tc.gap)
		}
	}
	c.add(evs(8, 9, 10)) // full at 6: 1, 2 forgotten
	if _, ok, _ := c.read(0, 10); ok {
		t.Fatal("a forgotten event answered")
	}
	if got, ok, _ := c.read(2, 10); !ok || !slices.Equal(positions(got), []int64{3}) {
		t.Fatalf("read(2) after wrapping = %v %v", positions(got), ok)
	}
	if got, ok, _ := c.read(5, 10); !ok || !slices.Equal(positions(got), []int64{6, 7, 8, 9, 10}) {
		t.Fatalf("read(5) after wrapping = %v %v", positions(got), ok)
	}
	// The cache keeps its own copy of the payload.
	e := evs(11)
	c.add(e)
	e[0].Data[0] = 'X'
	if got, _, _ := c.read(10, 1); string(got[0].Data) != `{}` {
		t.Fatalf("payload changed with the committer's buffer: %s", got[0].Data)
	}
}
