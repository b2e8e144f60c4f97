package search

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"acme"
	"acme/es"
	"acme/es/estest"
	"acme/sqlite"
)

type env struct {
	t     *testing.T
	m     *Module
	h     *estest.Host
	pos   int64
	clock time.Time
	held  *[]es.Message // when set, send holds messages here instead of applying them
}

func newEnv(t *testing.T, dir string) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "search.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := es.NewRegistry(SearchProducts)
	if err != nil {
		t.Fatal(err)
	}
	h := estest.NewHost(owner, st, reg)
	m := New(dir, WithCatchUpInterval(0))
	if err := m.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = m.Close() // the loop ends and closes the index
		st.Close()
	})
	return &env{t: t, m: m, h: h, clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// send delivers one message as the platform does (inbox, retries on ErrConcurrency).
func (e *env) send(typ string, data any) {
	e.t.Helper()
	e.pos++
	m := estest.Message(e.t, typ, "", data)
	m.Position, m.Time = e.pos, e.clock
	if e.held != nil {
		*e.held = append(*e.held, m)
		return
	}
	if _, err := e.h.Apply(context.Background(), m); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) category(name, parent string) string {
	id := acme.NewID()
	e.send("CategoryCreated", map[string]any{"categoryId": id, "name": name, "parentId": parent})
	return id
}

func (e *env) product(name, desc, category string, price int64) string {
	id := acme.NewID()
	e.clock = e.clock.Add(time.Minute)
	e.send("ProductCreated", map[string]any{"productId": id, "name": name, "description": desc, "categoryId": category,
		"price": acme.Money{Amount: price, Currency: "USD"}, "initialStock": 0, "createdAt": e.clock.Format(time.RFC3339)})
	return id
}

func (e *env) search(params string) []Summary {
	e.t.Helper()
	v, err := url.ParseQuery(params)
	if err != nil {
		e.t.Fatal(err)
	}
	q, err := ParseQuery(v)
	if err != nil {
		e.t.Fatalf("%s: %v", params, err)
	}
	res, err := e.m.Service().Search(context.Background(), q)
	if err != nil {
		e.t.Fatalf("%s: %v", params, err)
	}
	if res.Total < len(res.Items) {
		e.t.Fatalf("%s: total %d < %d items", params, res.Total, len(res.Items))
	}
	return res.Items
}

type catalogFixture struct {
	clothing, outerwear, jackets, shirts, electronics, audio         string
	hiking, shoes, linen, headphones, speaker, denim, leather, stand string
}

func seed(e *env) catalogFixture {
	var f catalogFixture
	f.clothing = e.category("Clothing", "")
	f.outerwear = e.category("Outerwear", f.clothing)
	f.jackets = e.category("Jackets", f.outerwear)
	f.shirts = e.category("Shirts", f.clothing)
	f.electronics = e.category("Electronics", "")
	f.audio = e.category("Audio", f.electronics)
	f.hiking = e.product("Waterproof Hiking Jacket", "A breathable shell for running and hiking in the rain", f.jackets, 12999)
	f.shoes = e.product("Running Shoes", "Lightweight shoes for runners", f.clothing, 8999)
	f.linen = e.product("Linen Shirt", "Relaxed summer shirt", f.shirts, 3999)
	f.headphones = e.product("Wireless Headphones", "Noise cancelling over-ear headphones with Bluetooth", f.audio, 19999)
	f.speaker = e.product("Bluetooth Speaker", "Portable speaker, waterproof", f.audio, 5999)
	f.denim = e.product("Denim Jacket", "Classic blue jacket", f.jackets, 7999)
	f.leather = e.product("Leather Jacket", "Genuine leather jacket", f.jackets, 24999)
	f.stand = e.product("Phone Stand", "Holds your phone next to the speaker", f.electronics, 1999)
	e.send("ProductDeactivated", map[string]any{"productId": f.leather})
	return f
}

func ids(items []Summary) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = s.ProductID
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// The search quality table: what each query must return (as a set, or in order).
func TestSearchQuality(t *testing.T) {
	e := newEnv(t, t.TempDir())
	f := seed(e)
	tests := []struct {
		query   string
		want    []string
		ordered bool
	}{
		{"q=jacket", []string{f.hiking, f.denim}, false},
		{"q=JACKETS", []string{f.hiking, f.denim}, false},                         // case and plural stem
		{"q=jackt", []string{f.hiking, f.denim}, false},                           // one typo (deletion)
		{"q=jacjet", []string{f.hiking, f.denim}, false},                          // one typo (substitution)
		{"q=jac", []string{f.hiking, f.denim}, false},                             // prefix
		{"q=headphone", []string{f.headphones}, false},                            // stem
		{"q=hedphones", []string{f.headphones}, false},                            // typo
		{"q=wirel", []string{f.headphones}, false},                                // prefix
		{"q=runs", []string{f.hiking, f.shoes}, false},                            // stem: running, runs
		{"q=run", []string{f.hiking, f.shoes}, false},                             // prefix and stem
		{"q=waterproof", []string{f.hiking, f.speaker}, false},                    // name or description
		{"q=waterproof+jacket", []string{f.hiking}, false},                        // every word
		{"q=the+waterproof+jacket", []string{f.hiking}, false},                    // stop words dropped
		{"q=bluetooth", []string{f.headphones, f.speaker}, false},                 // case-insensitive description
		{"q=speakr", []string{f.speaker, f.stand}, false},                         // typo
		{"q=speaker", []string{f.speaker, f.stand}, true},                         // a name match ranks first
		{"q=leather", nil, false},                                                 // deactivated never appears
		{"q=jacket&categoryId=" + f.clothing, []string{f.hiking, f.denim}, false}, // sub-sub-categories
		{"q=jacket&categoryId=" + f.outerwear, []string{f.hiking, f.denim}, false},
		{"q=jacket&categoryId=" + strings.ToUpper(f.outerwear), []string{f.hiking, f.denim}, false}, // an id in capitals
		{"q=jacket's", []string{f.hiking, f.denim}, false},                                          // a possessive
		{"q=jacket’s+waterproof", []string{f.hiking}, false},
		{"q=jacket&categoryId=" + f.audio, nil, false},
		{"q=shirt&categoryId=" + f.clothing, []string{f.linen}, false},
		{"q=jacket&maxPrice=10000", []string{f.denim}, false},
		{"q=jacket&minPrice=7999&maxPrice=7999", []string{f.denim}, false},
		{"q=jacket&sort=price_asc", []string{f.denim, f.hiking}, true},
		{"q=jacket&sort=price_desc", []string{f.hiking, f.denim}, true},
		{"q=jacket&sort=newest", []string{f.denim, f.hiking}, true},
		{"q=xylophone", nil, false},
		{"categoryId=" + f.clothing, []string{f.denim, f.linen, f.shoes, f.hiking}, true}, // browse: newest first
		{"categoryId=" + f.audio + "&sort=price_asc", []string{f.speaker, f.headphones}, true},
		{"categoryId=" + strings.ToUpper(f.audio) + "&sort=price_asc", []string{f.speaker, f.headphones}, true},
		{"minPrice=5000&maxPrice=9000&sort=price_desc", []string{f.shoes, f.denim, f.speaker}, true},
		{"sort=relevance&maxPrice=2000", []string{f.stand}, true},
		{"categoryId=" + acme.NewID(), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			e.t = t
			got := ids(e.search(tt.query))
			ok := sameSet(got, tt.want)
			if tt.ordered {
				ok = slices.Equal(got, tt.want)
			}
			if !ok {
				t.Fatalf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestSearchFieldsRatingsStockAndUpdates(t *testing.T) {
	e := newEnv(t, t.TempDir())
	f := seed(e)
	e.send("RatingUpdated", map[string]any{"productId": f.hiking, "averageRating": 4.25, "reviewCount": 4})
	e.send("RatingUpdated", map[string]any{"productId": f.denim, "averageRating": 4.5, "reviewCount": 2})
	for _, q := range []string{"q=jacket&sort=rating", "categoryId=" + f.jackets + "&sort=rating"} {
		if got := ids(e.search(q)); !slices.Equal(got, []string{f.denim, f.hiking}) {
			t.Fatalf("%s: %v", q, got)
		}
	}
	level := func(p string, avail int64) map[string]any {
		return map[string]any{"levels": []map[string]any{{"productId": p, "variantId": "", "onHand": avail, "reserved": 0, "available": avail}}}
	}
	e.send("InventoryRestocked", level(f.hiking, 5))
	stalePos := e.pos
	e.send("InventoryReserved", level(f.hiking, 0))
	items := e.search("q=hiking")
	want := Summary{ProductID: f.hiking, Name: "Waterproof Hiking Jacket", Price: acme.Money{Amount: 12999, Currency: "USD"},
		CategoryID: f.jackets, AverageRating: 4.25, ReviewCount: 4, InStock: false}
	if len(items) != 1 || items[0] != want {
		t.Fatalf("got %+v\nwant %+v", items, want)
	}
	e.send("InventoryReleased", level(f.hiking, 3))
	if items := e.search("q=hiking"); !items[0].InStock {
		t.Fatal("not in stock after release")
	}
	// A stale level (older inventory position) does not win.
	b, _ := json.Marshal(level(f.hiking, 0))
	c, err := Apply(es.Message{ID: acme.NewID(), Type: "InventoryDeducted", Data: b, Position: stalePos})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.h.Store().Commit(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if items := e.search("q=hiking"); !items[0].InStock {
		t.Fatal("a stale level overwrote a newer one")
	}

	// Updates move a product between words, prices and categories.
	e.send("ProductUpdated", map[string]any{"productId": f.linen, "updatedFields": []string{"name", "description", "categoryId", "price"},
		"name": "Linen Blouse", "description": "Relaxed summer top", "categoryId": f.outerwear, "price": acme.Money{Amount: 4999, Currency: "USD"}})
	if got := e.search("q=shirt"); len(got) != 0 {
		t.Fatalf("old name still found: %v", ids(got))
	}
	got := e.search("q=blouse&categoryId=" + f.outerwear)
	if len(got) != 1 || got[0].Price.Amount != 4999 || got[0].Name != "Linen Blouse" {
		t.Fatalf("updated product: %+v", got)
	}
	if got := e.search("categoryId=" + f.shirts); len(got) != 0 {
		t.Fatalf("old category still lists it: %v", ids(got))
	}
	e.send("ProductDeactivated", map[string]any{"productId": f.linen})
	if got := e.search("q=blouse"); len(got) != 0 {
		t.Fatal("deactivated product found")
	}
	if got := e.search("categoryId=" + f.outerwear); !sameSet(ids(got), []string{f.hiking, f.denim}) {
		t.Fatalf("browse after deactivation: %v", ids(got))
	}
	// The unfiltered total is the maintained count of active products (8 created, 2 deactivated).
	e.send("ProductDeactivated", map[string]any{"productId": f.linen}) // again: no double count
	res, err := e.m.Service().Search(context.Background(), Query{Sort: SortNewest, Page: 1, PageSize: 100, MinPrice: -1, MaxPrice: -1})
	if err != nil || res.Total != 6 || len(res.Items) != 6 {
		t.Fatalf("unfiltered browse: total %d, %d items, %v", res.Total, len(res.Items), err)
	}
}

func TestSearchPaging(t *testing.T) {
	e := newEnv(t, t.TempDir())
	cat := e.category("Things", "")
	var all []string
	for i := range 25 {
		all = append(all, e.product("Widget "+string(rune('A'+i)), "a useful widget", cat, int64(100+i)))
	}
	for _, q := range []string{"q=widget&sort=price_asc", "sort=price_asc"} {
		var got []string
		for page := 1; page <= 3; page++ {
			v, _ := url.ParseQuery(q + "&pageSize=10&page=" + string(rune('0'+page)))
			pq, err := ParseQuery(v)
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.m.Service().Search(context.Background(), pq)
			if err != nil {
				t.Fatal(err)
			}
			if res.Total != 25 || res.Page != page || res.PageSize != 10 {
				t.Fatalf("%s page %d: total %d page %d size %d", q, page, res.Total, res.Page, res.PageSize)
			}
			got = append(got, ids(res.Items)...)
		}
		if !slices.Equal(got, all) {
			t.Fatalf("%s: pages\n%v\nwant %v", q, got, all)
		}
	}
}

// The index is derived: after a rebuild, and after a restart on the same data
// dir (the index continues from its recorded seq), results are the same.
func TestRebuildAndRestart(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	f := seed(e)
	before := ids(e.search("q=jacket&sort=price_asc"))
	if err := e.m.Service().Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ids(e.search("q=jacket&sort=price_asc")); !slices.Equal(got, before) {
		t.Fatalf("after rebuild %v, before %v", got, before)
	}
	// A rebuild requested through the projection runner's Reset.
	c := es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error { return e.h.Projections()[0].Reset(ctx, tx) }}
	if _, err := e.h.Store().Commit(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if err := e.m.svc.idx.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.m.svc.idx.rebuild != 1 {
		t.Fatalf("rebuild request not honoured: %d", e.m.svc.idx.rebuild)
	}
	e.send("ProductCreated", map[string]any{"productId": acme.NewID(), "name": "Rain Jacket", "price": acme.Money{Amount: 1, Currency: "USD"}, "categoryId": f.jackets})
	if got := e.search("q=jacket"); len(got) != 3 {
		t.Fatalf("after rebuild + create: %v", ids(got))
	}
}

// A restart on the same data dir reopens the index where it was (its recorded
// seq) and indexes only what changed while it was down.
func TestRestartContinuesFromRecordedSeq(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	f := seed(e)
	if got := e.search("q=jacket"); len(got) != 2 {
		t.Fatalf("before restart: %v", ids(got))
	}
	seqBefore := e.m.svc.idx.seq.Load()
	e.h.Store().Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.m.svc.idx.mu.RLock()
		closed := e.m.svc.idx.idx == nil
		e.m.svc.idx.mu.RUnlock()
		if closed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the index was not closed after the store closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e2 := newEnv(t, dir)
	if got := e2.m.svc.idx.seq.Load(); got != seqBefore {
		t.Fatalf("reopened at seq %d, want %d", got, seqBefore)
	}
	e2.send("ProductCreated", map[string]any{"productId": acme.NewID(), "name": "Rain Jacket", "price": acme.Money{Amount: 1, Currency: "USD"}, "categoryId": f.jackets})
	if got := e2.search("q=jacket"); len(got) != 3 {
		t.Fatalf("after restart: %v", ids(got))
	}
	if n, err := e2.m.Service().CatchUp(context.Background()); err != nil || n != 0 {
		t.Fatalf("catch-up after the search: %d %v", n, err)
	}
}

// Close stops the catch-up loop promptly and waits for it: the loop has ended
// (and closed the index) when Close returns, while the store is still open.
func TestCloseStopsLoop(t *testing.T) {
	if err := New(t.TempDir()).Close(); err != nil { // never started: nothing to stop
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "search.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := es.NewRegistry(SearchProducts)
	if err != nil {
		t.Fatal(err)
	}
	m := New(t.TempDir(), WithCatchUpInterval(time.Millisecond))
	if err := m.Start(context.Background(), estest.NewHost(owner, st, reg)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // let the loop tick a few times
	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	select {
	case <-m.done:
	default:
		t.Fatal("the loop is still running after Close")
	}
	m.svc.idx.mu.RLock()
	idxClosed := m.svc.idx.idx == nil
	m.svc.idx.mu.RUnlock()
	if !idxClosed {
		t.Fatal("the index is still open after Close")
	}
	if _, err := st.StreamVersion(context.Background(), "x"); err != nil {
		t.Fatalf("Close closed the store: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// The products consumer's batch (ApplyBatch: one commit for many messages)
// leaves the read model as applying them one at a time does.
func TestBatchAppliesLikeOneAtATime(t *testing.T) {
	var msgs []es.Message
	held := newEnv(t, t.TempDir())
	held.held = &msgs
	f := seed(held)
	level := map[string]any{"levels": []map[string]any{{"productId": f.hiking, "variantId": "", "onHand": 5, "reserved": 0, "available": 5}}}
	held.send("RatingUpdated", map[string]any{"productId": f.hiking, "averageRating": 4.25, "reviewCount": 4})
	held.send("InventoryRestocked", level)
	held.send("ProductUpdated", map[string]any{"productId": f.linen, "updatedFields": []string{"name"}, "name": "Linen Blouse",
		"description": "Relaxed summer top", "categoryId": f.shirts, "price": acme.Money{Amount: 4999, Currency: "USD"}})
	held.send("ProductDeactivated", map[string]any{"productId": f.denim})
	held.send("ProductDeactivated", map[string]any{"productId": f.denim})

	single, batch := newEnv(t, t.TempDir()), newEnv(t, t.TempDir())
	for _, m := range msgs {
		if _, err := single.h.Apply(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	c, err := ApplyBatch(msgs)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		c.InboxIDs = append(c.InboxIDs, ConsumerName+"/"+m.ID)
	}
	if _, err := batch.h.Store().Commit(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"sort=newest&pageSize=100", "q=jacket&sort=rating", "q=blouse", "q=denim",
		"categoryId=" + f.clothing, "inStock=true", "minPrice=5000&sort=price_asc"} {
		a, b := single.search(q), batch.search(q)
		if len(a) == 0 && q == "sort=newest&pageSize=100" {
			t.Fatal("nothing applied")
		}
		if !slices.Equal(a, b) {
			t.Fatalf("%s: one at a time %+v\nbatched %+v", q, a, b)
		}
	}
	// a message the batch cannot apply fails the whole batch, leaving it to
	// the platform's one-at-a-time fallback
	bad := es.Message{ID: acme.NewID(), Type: "ProductCreated", Data: []byte(`{"name":"no id"}`)}
	if _, err := ApplyBatch(append(slices.Clone(msgs), bad)); !es.IsPermanent(err) {
		t.Fatalf("batch with an undecodable message: %v, want a permanent error", err)
	}
}

// A word the catalog does not contain is matched within one typo; once a
// product brings the word in, it is matched as typed (what the index knows
// is not remembered past a change).
func TestTypoOnlyForUnknownWords(t *testing.T) {
	e := newEnv(t, t.TempDir())
	cat := e.category("Home", "")
	chair := e.product("Red Chair", "Solid oak", cat, 5000)
	if got := ids(e.search("q=chain")); !slices.Equal(got, []string{chair}) {
		t.Fatalf("chain before any chain: %v, want the chair (one typo away)", got)
	}
	chain := e.product("Gold Chain", "Fine links", cat, 9000)
	if got := ids(e.search("q=chain")); !slices.Equal(got, []string{chain}) {
		t.Fatalf("chain once the catalog has one: %v, want only the chain", got)
	}
}

// A price-sorted text query with a price window gives the matches in price
// order with their total: pages, both directions, windows of every width.
func TestPriceSortedTextQueryMatchesFullSort(t *testing.T) {
	e := newEnv(t, t.TempDir())
	cat := e.category("Home", "")
	r := rand.New(rand.NewPCG(1, 2))
	type prod struct {
		id    string
		price int64
	}
	var tables []prod
	used := map[int64]bool{}
	for i := range 240 {
		price := int64(100 + r.IntN(100000))
		for used[price] {
			price++
		}
		used[price] = true
		if i%2 == 0 {
			tables = append(tables, prod{e.product(fmt.Sprintf("Oak Table %d", i), "Sturdy", cat, price), price})
		} else {
			e.product(fmt.Sprintf("Steel Lamp %d", i), "Bright", cat, price)
		}
	}
	for _, w := range [][2]int64{{0, 200000}, {100, 100}, {20000, 40000}, {99000, 99999}, {5000, 5200}} {
		for _, sort := range []string{SortPriceAsc, SortPriceDesc} {
			var want []string
			in := slices.Clone(tables)
			slices.SortFunc(in, func(a, b prod) int { return cmp.Compare(a.price, b.price) })
			if sort == SortPriceDesc {
				slices.Reverse(in)
			}
			for _, p := range in {
				if p.price >= w[0] && p.price <= w[1] {
					want = append(want, p.id)
				}
			}
			for page := 1; page <= 3; page++ {
				q := Query{Q: "table", Sort: sort, Page: page, PageSize: 20, MinPrice: w[0], MaxPrice: w[1]}
				res, err := e.m.Service().Search(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				lo, hi := min((page-1)*20, len(want)), min(page*20, len(want))
				if res.Total != len(want) || !slices.Equal(ids(res.Items), want[lo:hi]) {
					t.Fatalf("window %v %s page %d: total %d, %v; want %d, %v", w, sort, page, res.Total, ids(res.Items), len(want), want[lo:hi])
				}
			}
		}
	}
}

// Catch-ups split the live index into segments (one per batch); the
// background step merges them into one, and searches answer as before.
func TestTickCompactsSplitIndex(t *testing.T) {
	e := newEnv(t, t.TempDir())
	f := seed(e)
	x := e.m.svc.idx
	deadline := time.Now().Add(10 * time.Second)
	for price := int64(5000); segments(x.idx) < 3; price++ { // distinct prices: equal ones are in no set order
		if time.Now().After(deadline) {
			t.Fatalf("catch-ups left %d segments, want several to merge", segments(x.idx))
		}
		e.product("Storm Jacket", "waterproof shell", f.jackets, price)
		if _, err := x.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	before := ids(e.search("q=jacket&sort=price_asc&pageSize=100"))
	x.compacted = time.Time{} // as if compactEvery had passed since the start
	if err := x.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := segments(x.idx); n != 1 {
		t.Fatalf("after Tick: %d segments, want 1", n)
	}
	if got := ids(e.search("q=jacket&sort=price_asc&pageSize=100")); !slices.Equal(got, before) {
		t.Fatalf("after compaction %v, before %v", got, before)
	}
	// The next merge waits compactEvery. (Whether it ran is read from its
	// time, not from the segment count: bleve's own merger may change the
	// count at any moment.)
	if x.compacted.IsZero() {
		// bleve's merger got to one segment before Tick did: as if Tick had.
		x.compacted = time.Now()
	}
	merged := x.compacted
	for price := int64(9000); segments(x.idx) < 2; price++ {
		if time.Now().After(deadline) {
			t.Fatalf("catch-ups left %d segments, want a split index", segments(x.idx))
		}
		e.product("Storm Jacket", "waterproof shell", f.jackets, price)
		if _, err := x.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !x.compacted.Equal(merged) {
		t.Fatalf("Tick merged again within compactEvery (last merge %s, now %s)", merged, x.compacted)
	}
}

// A browse without q counts its filtered total on the index: the count
// covers sub-categories and inclusive price bounds, and leaves out what was
// deactivated, exactly as the page rows do.
func TestFilteredBrowseTotals(t *testing.T) {
	e := newEnv(t, t.TempDir())
	root := e.category("Home", "")
	child := e.category("Kitchen", root)
	other := e.category("Garden", "")
	type prod struct {
		id, cat string
		price   int64
	}
	var all []prod
	for i := range 60 {
		cat := []string{root, child, other}[i%3]
		price := int64(100 + 10*i)
		all = append(all, prod{e.product(fmt.Sprintf("Item %d", i), "thing", cat, price), cat, price})
	}
	gone := all[4] // in child, price 140
	e.send("ProductDeactivated", map[string]any{"productId": gone.id})
	for _, c := range []struct {
		params string
		keep   func(p prod) bool
	}{
		{"categoryId=" + root, func(p prod) bool { return p.cat == root || p.cat == child }},
		{"categoryId=" + child, func(p prod) bool { return p.cat == child }},
		{"minPrice=140&maxPrice=300", func(p prod) bool { return p.price >= 140 && p.price <= 300 }},
		{"minPrice=600", func(p prod) bool { return p.price >= 600 }},
		{"maxPrice=99", func(p prod) bool { return false }},
		{"categoryId=" + other + "&maxPrice=400", func(p prod) bool { return p.cat == other && p.price <= 400 }},
	} {
		want := 0
		for _, p := range all {
			if p.id != gone.id && c.keep(p) {
				want++
			}
		}
		v, _ := url.ParseQuery(c.params + "&sort=price_asc&pageSize=100")
		q, err := ParseQuery(v)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.m.Service().Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != want || len(res.Items) != want {
			t.Errorf("%s: total %d, %d items; want %d", c.params, res.Total, len(res.Items), want)
		}
	}
}

// Accents are folded on both sides: "creme" finds "Crème Brûlée Torch",
// "café" finds "Cafe Table", as whole words, stems and prefixes.
func TestAccentsAreFolded(t *testing.T) {
	e := newEnv(t, t.TempDir())
	cat := e.category("Kitchen", "")
	torch := e.product("Crème Brûlée Torch", "Caramelises sugar; a favourite of every café", cat, 3999)
	table := e.product("Cafe Table", "Round, for two", cat, 12999)
	other := e.product("Kettle", "Boils water", cat, 2999)
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"creme", []string{torch}},
		{"Crème", []string{torch}},
		{"CRÈME BRÛLÉE", []string{torch}},
		{"brulee torch", []string{torch}},
		{"brû", []string{torch}},          // prefix
		{"caramelise", []string{torch}},   // stem of the description's word
		{"café", []string{torch, table}},  // the table's name, the torch's description
		{"cafe", []string{torch, table}},  // the same without the accent
		{"cafés", []string{torch, table}}, // plural, stemmed
		{"kettle", []string{other}},
	} {
		if got := ids(e.search("q=" + url.QueryEscape(c.q))); !sameSet(got, c.want) {
			t.Errorf("q=%s: %v, want %v", c.q, got, c.want)
		}
	}
}

// An index of an earlier format (other analyzers) is rebuilt at start:
// searches then use the format's analyzers on both sides.
func TestIndexOfAnotherFormatIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	cat := e.category("Kitchen", "")
	torch := e.product("Crème Brûlée Torch", "Caramelises sugar", cat, 3999)
	x := e.m.svc.idx
	x.mu.RLock()
	err := x.idx.DeleteInternal(formatKey) // as an index written before formats were recorded
	x.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := os.ReadFile(filepath.Join(dir, "search", "CURRENT"))
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	e.h.Store().Close()

	e2 := newEnv(t, dir)
	now, _ := os.ReadFile(filepath.Join(dir, "search", "CURRENT"))
	if string(now) == string(cur) {
		t.Fatalf("the index generation %q was reopened, not rebuilt", cur)
	}
	if got := ids(e2.search("q=creme")); !sameSet(got, []string{torch}) {
		t.Fatalf("q=creme after the rebuild: %v", got)
	}
}

// The admin's projection list shows the index's own progress: the change
// counter it reflects and the changes of the tables not indexed yet.
func TestIndexProgress(t *testing.T) {
	e := newEnv(t, t.TempDir())
	seed(e)
	var progress func(context.Context) (int64, int64, error)
	for _, p := range e.h.Projections() {
		if p.Name == ProjectionName {
			progress = p.Progress
		}
	}
	if progress == nil {
		t.Fatal("search.index registers no Progress")
	}
	ctx := context.Background()
	if _, err := e.m.svc.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	pos, lag, err := progress(ctx)
	if err != nil || pos == 0 || lag != 0 {
		t.Fatalf("caught up: position %d lag %d err %v, want a position > 0 and lag 0", pos, lag, err)
	}
	e.send("ProductCreated", map[string]any{"productId": acme.NewID(), "name": "Parka", "price": acme.Money{Amount: 1, Currency: "USD"}, "categoryId": acme.NewID()})
	if p2, lag, err := progress(ctx); err != nil || p2 != pos || lag != 1 {
		t.Fatalf("one change not indexed: position %d lag %d err %v, want %d and 1", p2, lag, err, pos)
	}
	if _, err := e.m.svc.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if p3, lag, err := progress(ctx); err != nil || p3 != pos+1 || lag != 0 {
		t.Fatalf("after catch-up: position %d lag %d err %v, want %d and 0", p3, lag, err, pos+1)
	}
	// A change that stamps no product (a new, empty category) leaves nothing
	// behind once caught up.
	e.category("Empty", "")
	if _, err := e.m.svc.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if p4, lag, err := progress(ctx); err != nil || p4 <= pos+1 || lag != 0 {
		t.Fatalf("after an empty category: position %d lag %d err %v, want past %d and 0", p4, lag, err, pos+1)
	}
}
