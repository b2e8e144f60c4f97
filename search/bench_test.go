package search

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"acme"
	"acme/es"
	"acme/es/estest"
	"acme/sqlite"
)

// Benchmarks (see docs/benchmarks/search.md):
//
//	go test -run XXX -bench 'SearchProducts' -benchtime 2000x ./search
//	go test -run XXX -bench 'IndexCatchUp' -benchtime 1x ./search
//
// -short skips the 100,000-product catalog; ACME_SEARCH_BENCH_KIND="word+price+sort"
// runs one query kind of the mix only (for a profile).

var (
	adjectives = strings.Fields(`red blue green black white grey brown yellow orange purple pink navy olive classic modern vintage
		rustic compact portable wireless electric manual heavy light slim soft hard smooth rough waterproof breathable warm cool
		deluxe premium basic ergonomic foldable adjustable durable elegant casual formal sporty retro minimalist luxury organic
		handmade recycled bamboo silent quick smart solar magnetic digital analog`)
	materials = strings.Fields(`cotton linen wool leather denim silk steel aluminium copper brass oak walnut pine glass ceramic
		stone marble rubber canvas nylon`)
	nouns = strings.Fields(`jacket shirt trousers shoes boots hat scarf gloves socks sweater hoodie dress skirt belt wallet
		backpack suitcase umbrella watch bracelet necklace ring lamp chair table desk sofa shelf cabinet mirror clock rug
		pillow blanket towel mug kettle teapot pan pot knife spoon plate bowl bottle speaker headphones keyboard mouse monitor
		charger cable camera tripod drone bicycle helmet tent sleeping-bag stove lantern compass`)
	fillers = strings.Fields(`perfect for everyday use with a durable finish designed to last made from quality materials easy
		to clean lightweight and comfortable ideal gift travel home office outdoor kitchen garden weekend adventure storage
		protection style comfort fit size fits most hand wash only includes warranty crafted by independent makers sustainably
		sourced features extra pockets reinforced seams stitched detail`)
)

type benchCatalog struct {
	dir  string
	st   es.Store
	svc  *Service
	cats []string // 10 roots, each with 5 children with 4 grandchildren
	n    int
	kept bool          // in ACME_SEARCH_BENCH_DIR: not removed
	load time.Duration // seeding the tables
	idx  time.Duration // full index build
}

var (
	benchMu   sync.Mutex
	benchCats = map[int]*benchCatalog{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, c := range benchCats {
		c.svc.idx.Close()
		c.st.Close()
		if !c.kept {
			os.RemoveAll(c.dir)
		}
	}
	os.Exit(code)
}

func productMessage(r *rand.Rand, i int, cats []string, at time.Time) es.Message {
	name := fmt.Sprintf("%s %s %s", adjectives[r.IntN(len(adjectives))], materials[r.IntN(len(materials))], nouns[r.IntN(len(nouns))])
	var desc []string
	for range 8 + r.IntN(8) {
		desc = append(desc, fillers[r.IntN(len(fillers))])
	}
	desc = append(desc, adjectives[r.IntN(len(adjectives))], nouns[r.IntN(len(nouns))])
	b := fmt.Appendf(nil, `{"productId":%q,"name":%q,"description":%q,"price":{"amount":%d,"currency":"USD"},"categoryId":%q,"initialStock":0,"createdAt":%q}`,
		acme.NewID(), name, strings.Join(desc, " "), 100+r.IntN(100000), cats[r.IntN(len(cats))], at.Add(time.Duration(i)*time.Second).Format(time.RFC3339))
	return es.Message{ID: acme.NewID(), Type: "ProductCreated", SchemaVersion: 1, Data: b}
}

func openBench(tb testing.TB, dir string) (es.Store, *Service) {
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "search.db"))
	if err != nil {
		tb.Fatal(err)
	}
	m := New(dir, WithCatchUpInterval(0))
	if err := m.Start(context.Background(), estest.NewHost(owner, st, nil)); err != nil {
		tb.Fatal(err)
	}
	return st, m.svc
}

// catalog returns a search store holding n products (built once per size).
func catalog(b *testing.B, n int) *benchCatalog {
	benchMu.Lock()
	defer benchMu.Unlock()
	if c := benchCats[n]; c != nil {
		return c
	}
	// ACME_SEARCH_BENCH_DIR keeps the seeded catalogs between runs (the
	// 100,000-product one takes minutes to build on a busy 2-core machine).
	keep := os.Getenv("ACME_SEARCH_BENCH_DIR")
	var dir string
	if keep != "" {
		dir = filepath.Join(keep, fmt.Sprint(n))
		if _, err := os.Stat(filepath.Join(dir, "cats.txt")); err == nil {
			st, svc := openBench(b, dir)
			cats, _ := os.ReadFile(filepath.Join(dir, "cats.txt"))
			c := &benchCatalog{dir: dir, st: st, svc: svc, n: n, cats: strings.Fields(string(cats)), kept: true}
			benchCats[n] = c
			return c
		}
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
	} else {
		var err error
		if dir, err = os.MkdirTemp("", "acme-search-bench"); err != nil {
			b.Fatal(err)
		}
	}
	st, svc := openBench(b, dir)
	c := &benchCatalog{dir: dir, st: st, svc: svc, n: n, kept: keep != ""}
	ctx := context.Background()
	var msgs []es.Message
	for i := range 10 {
		root := acme.NewID()
		msgs = append(msgs, category(root, ""))
		c.cats = append(c.cats, root)
		for j := range 5 {
			child := acme.NewID()
			msgs = append(msgs, category(child, root))
			c.cats = append(c.cats, child)
			for range 4 {
				gc := acme.NewID()
				msgs = append(msgs, category(gc, child))
				c.cats = append(c.cats, gc)
			}
			_ = j
		}
		_ = i
	}
	r := rand.New(rand.NewPCG(1, uint64(n)))
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		msgs = append(msgs, productMessage(r, i, c.cats, at))
	}
	// Ratings for a tenth of the products.
	for i := 0; i < n; i += 10 {
		var p struct {
			ProductID string `json:"productId"`
		}
		_ = json.Unmarshal(msgs[len(msgs)-n+i].Data, &p)
		msgs = append(msgs, es.Message{ID: acme.NewID(), Type: "RatingUpdated", SchemaVersion: 1,
			Data: fmt.Appendf(nil, `{"productId":%q,"averageRating":%.2f,"reviewCount":%d}`, p.ProductID, 1+4*r.Float64(), r.IntN(200))})
	}
	start := time.Now()
	for i := 0; i < len(msgs); i += 5000 {
		commitAll(b, st, msgs[i:min(i+5000, len(msgs))])
	}
	c.load = time.Since(start)
	start = time.Now()
	if err := svc.Rebuild(ctx); err != nil {
		b.Fatal(err)
	}
	c.idx = time.Since(start)
	if keep != "" {
		if err := os.WriteFile(filepath.Join(dir, "cats.txt"), []byte(strings.Join(c.cats, " ")), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	benchCats[n] = c
	return c
}

func category(id, parent string) es.Message {
	return es.Message{ID: acme.NewID(), Type: "CategoryCreated", SchemaVersion: 1,
		Data: fmt.Appendf(nil, `{"categoryId":%q,"name":"c","parentId":%q}`, id, parent)}
}

// commitAll applies msgs in one commit (bulk seeding, not the consumer path).
func commitAll(tb testing.TB, st es.Store, msgs []es.Message) {
	c, err := ApplyBatch(msgs)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := st.Commit(context.Background(), c); err != nil {
		tb.Fatal(err)
	}
}

// queryMix is the benchmark's query population: text (exact, typo, prefix,
// two words, with filters and sorts) and browsing (no q).
func queryMix(r *rand.Rand, cats []string) (kind, query string) {
	noun := nouns[r.IntN(len(nouns))]
	switch r.IntN(9) {
	case 0:
		return "word", "q=" + noun
	case 1:
		i := 1 + r.IntN(len(noun)-1)
		return "typo", "q=" + noun[:i] + noun[i+1:]
	case 2:
		return "prefix", "q=" + noun[:min(4, len(noun))]
	case 3:
		return "two words", "q=" + adjectives[r.IntN(len(adjectives))] + "+" + noun
	case 4:
		return "word+category", "q=" + noun + "&categoryId=" + cats[r.IntN(10)*25]
	case 5:
		lo := r.IntN(50000)
		return "word+price+sort", fmt.Sprintf("q=%s&minPrice=%d&maxPrice=%d&sort=price_asc", noun, lo, lo+20000)
	case 6:
		return "browse category", "categoryId=" + cats[r.IntN(len(cats))]
	case 7:
		lo := r.IntN(50000)
		return "browse price", fmt.Sprintf("minPrice=%d&maxPrice=%d&sort=price_asc&page=%d", lo, lo+20000, 1+r.IntN(5))
	default:
		return "browse newest", fmt.Sprintf("sort=newest&page=%d", 1+r.IntN(5))
	}
}

// BenchmarkSearchProducts reports p50 and p99 of Search Products (parse +
// index/SQL + result rows) over the query mix, at 1,000 and 100,000 products.
func BenchmarkSearchProducts(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("products=%d", n), func(b *testing.B) {
			if n > 10_000 && testing.Short() {
				b.Skip("-short")
			}
			c := catalog(b, n)
			r := rand.New(rand.NewPCG(7, 7))
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			byKind := map[string][]time.Duration{}
			cpu0 := cpuTime()
			b.ResetTimer()
			only := os.Getenv("ACME_SEARCH_BENCH_KIND") // one query kind (for a profile)
			for range b.N {
				kind, raw := queryMix(r, c.cats)
				for only != "" && kind != only {
					kind, raw = queryMix(r, c.cats)
				}
				v, _ := url.ParseQuery(raw)
				start := time.Now()
				q, err := ParseQuery(v)
				if err != nil {
					b.Fatal(raw, err)
				}
				if _, err := c.svc.Search(ctx, q); err != nil {
					b.Fatal(raw, err)
				}
				d := time.Since(start)
				lat = append(lat, d)
				byKind[kind] = append(byKind[kind], d)
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric(pct(lat, 50), "p50-µs")
			b.ReportMetric(pct(lat, 99), "p99-µs")
			if b.N >= 100 {
				kinds := make([]string, 0, len(byKind))
				for k := range byKind {
					kinds = append(kinds, k)
				}
				slices.Sort(kinds)
				for _, k := range kinds {
					b.Logf("n=%d %-16s p50 %7.0f µs  p99 %7.0f µs  (%d queries)", n, k, pct(byKind[k], 50), pct(byKind[k], 99), len(byKind[k]))
				}
				b.Logf("n=%d seeding the tables %s, full index build %s (%.0f products/s)", n, c.load.Round(time.Millisecond),
					c.idx.Round(time.Millisecond), float64(n)/c.idx.Seconds())
			}
		})
	}
}

// cpuTime is the process's user+system CPU time: unlike wall-clock
// latencies it does not grow when other processes load the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func pct(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := min(len(s)-1, (len(s)*p+99)/100-1)
	return float64(s[max(i, 0)].Microseconds())
}

// BenchmarkIndexCatchUp measures how fast product events reach the index:
// each event through the consumer path (its own commit with its inbox id, as
// the platform stores it) while the indexer catches up from the tables beside
// it. It reports the consumer's rate, the end-to-end rate (events / time until
// the last one is searchable) and the indexer's rate alone (a full rebuild).
// workers=N applies one event per commit with N workers (the baseline);
// batch=N applies N events per commit, as the platform's batch consumer does
// with a backlog.
func BenchmarkIndexCatchUp(b *testing.B) {
	const events = 20_000
	for _, mode := range []struct{ workers, batch int }{{1, 1}, {8, 1}, {1, 64}, {1, 256}} {
		name := fmt.Sprintf("workers=%d", mode.workers)
		if mode.batch > 1 {
			name = fmt.Sprintf("batch=%d", mode.batch)
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				dir := b.TempDir()
				st, svc := openBench(b, dir)
				r := rand.New(rand.NewPCG(3, 3))
				cats := []string{acme.NewID()}
				commitAll(b, st, []es.Message{category(cats[0], "")})
				msgs := make([]es.Message, events)
				for i := range msgs {
					msgs[i] = productMessage(r, i, cats, time.Now())
				}
				ctx := context.Background()
				b.StartTimer()
				start, cpu0 := time.Now(), cpuTime()
				// The indexer runs beside the consumer, as in the process (its 50 ms
				// loop: batches of what arrived meanwhile, not one segment per event).
				stop := make(chan struct{})
				indexerDone := make(chan int)
				go func() {
					total := 0
					for {
						n, err := svc.CatchUp(ctx)
						if err != nil {
							b.Error(err)
						}
						total += n
						select {
						case <-stop:
							n, _ := svc.CatchUp(ctx)
							indexerDone <- total + n
							return
						default:
						}
						time.Sleep(50 * time.Millisecond) // the module loop's interval
					}
				}()
				var wg sync.WaitGroup
				next := make(chan []es.Message)
				for range mode.workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for ms := range next {
							c, err := ApplyBatch(ms)
							if err != nil {
								b.Error(err)
								return
							}
							for _, m := range ms {
								c.InboxIDs = append(c.InboxIDs, ConsumerName+"/"+m.ID)
							}
							if _, err := st.Commit(ctx, c); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				for ms := range slices.Chunk(msgs, mode.batch) {
					next <- ms
				}
				close(next)
				wg.Wait()
				applied := time.Since(start)
				close(stop)
				if n := <-indexerDone; n < events {
					b.Fatalf("indexed %d of %d", n, events)
				}
				total, cpu := time.Since(start), cpuTime()-cpu0
				b.StopTimer()
				b.ReportMetric(events/applied.Seconds(), "applied-events/s")
				b.ReportMetric(events/total.Seconds(), "end-to-end-events/s")
				// Events per CPU-second of this process (consumer + indexer): what
				// one otherwise idle core would sustain, whatever else loads the machine.
				b.ReportMetric(events/cpu.Seconds(), "events/cpu-s")
				// The indexer alone: a full rebuild from the tables.
				t0, c0 := time.Now(), cpuTime()
				if err := svc.Rebuild(ctx); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(events/time.Since(t0).Seconds(), "rebuild-events/s")
				b.ReportMetric(events/(cpuTime()-c0).Seconds(), "rebuild-events/cpu-s")
				svc.idx.Close()
				st.Close()
			}
		})
	}
}
