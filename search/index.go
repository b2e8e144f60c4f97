package search

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/char/asciifolding"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/token/porter"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/index/scorch/mergeplan"
	"github.com/blevesearch/bleve/v2/mapping"

	"acme/es"
)

// Index fields.
const (
	fName       = "name"        // English analyzer (englishFolded): accents folded, lower case, stop words, stemmed
	fDesc       = "description" // English analyzer
	fNamePlain  = "namePlain"   // accents folded, lower-cased words, not stemmed: prefixes and typos
	fDescPlain  = "descPlain"
	fCategories = "categories" // the category and its ancestors (keyword)
	fPrice      = "price"      // minor units (range filter)
	// Sort keys: fixed-width text with doc values (one term per document;
	// sorting on a numeric field visits all its precision terms).
	sPrice   = "sortPrice"
	sCreated = "sortCreated"
	sRating  = "sortRating" // rating x 100, then review count
	plain    = "plain"
	// englishFolded is Bleve's English analyzer ("en") after ASCII folding:
	// "Crème Brûlée" is found by "creme brulee", and "cafe" by "café".
	englishFolded = "en_folded"
)

var seqKey = []byte("acme.seq")

// formatKey records the index format: an index of another format (its
// analyzers differ) is rebuilt at start. Format 2: accents folded.
var formatKey = []byte("acme.format")

const indexFormat = "2"

func indexMapping() mapping.IndexMapping {
	im := bleve.NewIndexMapping()
	if err := im.AddCustomAnalyzer(plain, map[string]any{
		"type": custom.Name, "char_filters": []string{asciifolding.Name}, "tokenizer": unicode.Name,
		"token_filters": []string{lowercase.Name},
	}); err != nil {
		panic(err) // static configuration
	}
	if err := im.AddCustomAnalyzer(englishFolded, map[string]any{
		"type": custom.Name, "char_filters": []string{asciifolding.Name}, "tokenizer": unicode.Name,
		"token_filters": []string{en.PossessiveName, lowercase.Name, en.StopName, porter.Name},
	}); err != nil {
		panic(err)
	}
	text := func(analyzer string) *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = analyzer
		f.Store = false
		f.IncludeInAll = false
		f.IncludeTermVectors = false
		f.DocValues = false
		return f
	}
	num := func() *mapping.FieldMapping {
		f := bleve.NewNumericFieldMapping()
		f.Store = false
		f.IncludeInAll = false
		f.DocValues = false
		return f
	}
	kw := text(keyword.Name)
	sortKey := text(keyword.Name)
	sortKey.DocValues = true
	doc := bleve.NewDocumentStaticMapping()
	doc.AddFieldMappingsAt(fName, text(englishFolded))
	doc.AddFieldMappingsAt(fDesc, text(englishFolded))
	doc.AddFieldMappingsAt(fNamePlain, text(plain))
	doc.AddFieldMappingsAt(fDescPlain, text(plain))
	doc.AddFieldMappingsAt(fCategories, kw)
	doc.AddFieldMappingsAt(fPrice, num())
	doc.AddFieldMappingsAt(sPrice, sortKey)
	doc.AddFieldMappingsAt(sCreated, sortKey)
	doc.AddFieldMappingsAt(sRating, sortKey)
	im.DefaultMapping = doc
	im.DefaultAnalyzer = plain
	im.StoreDynamic = false
	im.IndexDynamic = false
	im.DocValuesDynamic = false
	return im
}

// indexer keeps a Bleve index in step with the search source tables. The
// index is disposable: it lives in <dir>/<generation>/, the file CURRENT names
// the live generation, and it records the seq it reflects (so a restart
// continues from there). A rebuild builds a new generation beside the live one
// from the tables, catches it up, then swaps it in; searches keep using the old
// one meanwhile.
type indexer struct {
	dir string
	db  es.SQL

	mu  sync.RWMutex // guards idx (searches hold RLock)
	idx bleve.Index

	rebuildMu sync.Mutex   // one rebuild at a time
	syncMu    sync.Mutex   // one writer of the index at a time
	seq       atomic.Int64 // the index reflects every change up to seq (written under syncMu)
	rebuild   int64        // the rebuild request last honoured

	compacted time.Time // when the live index was last merged into one segment (Tick's goroutine only)

	termsMu  sync.Mutex
	terms    map[string]bool // hasTerm's answers for the index as of termsGen
	termsGen int64           // bumped by every change of the index
}

// maxCachedTerms bounds hasTerm's cache (it starts over when full).
const maxCachedTerms = 10000

// changed forgets hasTerm's answers: the index changed.
func (x *indexer) changed() {
	x.termsMu.Lock()
	x.terms, x.termsGen = nil, x.termsGen+1
	x.termsMu.Unlock()
}

func openIndexer(ctx context.Context, dir string, db es.SQL) (*indexer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("search: index dir: %w", err)
	}
	x := &indexer{dir: dir, db: db, compacted: time.Now()} // the first merge waits compactEvery: start-up has enough to do
	if cur, err := os.ReadFile(filepath.Join(dir, "CURRENT")); err == nil {
		path := filepath.Join(dir, strings.TrimSpace(string(cur)))
		if idx, err := bleve.Open(path); err == nil {
			if f, err := idx.GetInternal(formatKey); err != nil || string(f) != indexFormat {
				idx.Close() // built with other analyzers: rebuilt below
			} else {
				x.idx = idx
				if b, err := idx.GetInternal(seqKey); err == nil && len(b) > 0 {
					seq, _ := strconv.ParseInt(string(b), 10, 64)
					x.seq.Store(seq)
				}
			}
		}
	}
	var req int64
	if err := db.QueryRowContext(ctx, `SELECT rebuild FROM search_meta WHERE id = 1`).Scan(&req); err != nil {
		return nil, fmt.Errorf("search: read meta: %w", err)
	}
	x.rebuild = req
	if x.idx == nil {
		if err := x.Rebuild(ctx); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// Close closes the live index.
func (x *indexer) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.idx == nil {
		return nil
	}
	err := x.idx.Close()
	x.idx = nil
	return err
}

// search runs req on the live index.
func (x *indexer) search(ctx context.Context, req *bleve.SearchRequest) (*bleve.SearchResult, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.idx == nil {
		return nil, errors.New("search: index closed")
	}
	return x.idx.SearchInContext(ctx, req)
}

// hasTerm reports whether term is in field's dictionary on the live index.
// Answers are kept until the index changes: a dictionary lookup opens every
// segment's term dictionary (a tenth of a two-word query).
func (x *indexer) hasTerm(field, term string) bool {
	key := field + "\x00" + term
	x.termsMu.Lock()
	known, ok := x.terms[key]
	gen := x.termsGen
	x.termsMu.Unlock()
	if ok {
		return known
	}
	known = x.lookupTerm(field, term)
	x.termsMu.Lock()
	defer x.termsMu.Unlock()
	if x.termsGen == gen { // not changed meanwhile
		if x.terms == nil || len(x.terms) >= maxCachedTerms {
			x.terms = map[string]bool{}
		}
		x.terms[key] = known
	}
	return known
}

func (x *indexer) lookupTerm(field, term string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.idx == nil {
		return false
	}
	d, err := x.idx.FieldDictRange(field, []byte(term), []byte(term))
	if err != nil {
		return false
	}
	defer d.Close()
	e, err := d.Next()
	return err == nil && e != nil && e.Term == term
}

// head is the seq of the newest change in the source tables, and the rebuild counter.
func (x *indexer) head(ctx context.Context) (seq, rebuild int64, err error) {
	err = x.db.QueryRowContext(ctx, `SELECT seq, rebuild FROM search_meta WHERE id = 1`).Scan(&seq, &rebuild)
	return seq, rebuild, err
}

// progress is the change counter the index reflects and how many changes of
// the tables it has not indexed yet (the admin's projection list).
func (x *indexer) progress(ctx context.Context) (position, lag int64, err error) {
	head, _, err := x.head(ctx)
	if err != nil {
		return 0, 0, err
	}
	seq := x.seq.Load()
	return seq, head - seq, nil
}

// CatchUp indexes every change newer than the index (a no-op costs one
// point query). It returns how many products it (re)indexed.
func (x *indexer) CatchUp(ctx context.Context) (int, error) {
	head, req, err := x.head(ctx)
	if err != nil {
		return 0, err
	}
	_ = req
	x.syncMu.Lock()
	defer x.syncMu.Unlock()
	if head <= x.seq.Load() {
		return 0, nil
	}
	x.mu.RLock()
	idx := x.idx
	x.mu.RUnlock()
	if idx == nil {
		return 0, errors.New("search: index closed")
	}
	n, seq, err := x.indexChanges(ctx, idx, x.seq.Load())
	if n > 0 {
		x.changed()
	}
	if err != nil {
		return n, err
	}
	// Changes that stamp no product row (a category, a rating before its
	// product) leave nothing to index: the index reflects them too.
	x.seq.Store(max(seq, head))
	return n, nil
}

// Tick is the background step: a requested rebuild, else a catch-up.
func (x *indexer) Tick(ctx context.Context) error {
	_, req, err := x.head(ctx)
	if err != nil {
		return err
	}
	x.syncMu.Lock()
	seen := x.rebuild
	x.syncMu.Unlock()
	if req > seen {
		return x.Rebuild(ctx)
	}
	if _, err = x.CatchUp(ctx); err != nil {
		return err
	}
	return x.maybeCompact(ctx)
}

// compactEvery is how often the live index is merged into one segment when
// changes have split it. Merging 100,000 products takes a few seconds of one
// core; the merge policy alone leaves up to ten segments per size tier, and
// every query pays per segment.
const compactEvery = 5 * time.Minute

// maybeCompact merges the live index into one segment if it has more and the
// last merge is older than compactEvery. Searches go on meanwhile.
func (x *indexer) maybeCompact(ctx context.Context) error {
	if time.Since(x.compacted) < compactEvery {
		return nil
	}
	x.mu.RLock()
	idx := x.idx
	x.mu.RUnlock()
	if idx == nil || segments(idx) <= 1 {
		return nil
	}
	x.compacted = time.Now()
	return compact(ctx, idx)
}

// indexChanges indexes products with seq > from into idx, in batches; it
// returns the count and the highest seq applied.
func (x *indexer) indexChanges(ctx context.Context, idx bleve.Index, from int64) (int, int64, error) {
	total := 0
	for {
		docs, last, err := x.load(ctx, `WHERE p.seq > $1 ORDER BY p.seq LIMIT 5000`, from)
		if err != nil {
			return total, from, err
		}
		if len(docs) == 0 {
			return total, from, nil
		}
		if err := apply(idx, docs, last); err != nil {
			return total, from, err
		}
		total += len(docs)
		from = last
	}
}

// Rebuild builds a new index generation from the source tables and swaps it in.
func (x *indexer) Rebuild(ctx context.Context) error {
	x.rebuildMu.Lock()
	defer x.rebuildMu.Unlock()
	head, req, err := x.head(ctx)
	if err != nil {
		return err
	}
	gen := strconv.FormatInt(time.Now().UnixNano(), 36)
	path := filepath.Join(x.dir, gen)
	idx, err := bleve.New(path, indexMapping())
	if err != nil {
		return fmt.Errorf("search: new index: %w", err)
	}
	fail := func(err error) error {
		idx.Close()
		os.RemoveAll(path)
		return err
	}
	if err := idx.SetInternal(formatKey, []byte(indexFormat)); err != nil {
		return fail(fmt.Errorf("search: record the index format: %w", err))
	}
	// Everything as of now (rows newer than head are included too: indexing is an upsert).
	var after string
	for {
		docs, _, err := x.load(ctx, `WHERE p.product_id > $1 ORDER BY p.product_id LIMIT 5000`, after)
		if err != nil {
			return fail(err)
		}
		if len(docs) == 0 {
			break
		}
		if err := apply(idx, docs, 0); err != nil {
			return fail(err)
		}
		after = docs[len(docs)-1].id
	}
	if err := compact(ctx, idx); err != nil {
		return fail(err)
	}
	// Catch up and swap under the writer lock, so no change is lost between the two.
	x.syncMu.Lock()
	defer x.syncMu.Unlock()
	_, seq, err := x.indexChanges(ctx, idx, head)
	if err != nil {
		return fail(err)
	}
	if err := setSeq(idx, seq); err != nil {
		return fail(err)
	}
	tmp := filepath.Join(x.dir, "CURRENT.tmp")
	if err := os.WriteFile(tmp, []byte(gen+"\n"), 0o644); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, filepath.Join(x.dir, "CURRENT")); err != nil {
		return fail(err)
	}
	x.mu.Lock()
	old := x.idx
	x.idx = idx
	x.mu.Unlock()
	x.changed()
	x.seq.Store(seq)
	x.rebuild = max(x.rebuild, req)
	if old != nil {
		old.Close()
	}
	// Remove every other generation.
	entries, _ := os.ReadDir(x.dir)
	for _, e := range entries {
		if e.IsDir() && e.Name() != gen {
			os.RemoveAll(filepath.Join(x.dir, e.Name()))
		}
	}
	return nil
}

// doc is one product as the index and the results see it.
type doc struct {
	id         string
	name, desc string
	categories []string
	price      int64
	created    int64
	rating     int64
	reviews    int64
	active     bool
	seq        int64
}

func (d doc) fields() map[string]any {
	return map[string]any{
		fName: d.name, fDesc: d.desc, fNamePlain: d.name, fDescPlain: d.desc,
		fCategories: d.categories, fPrice: float64(d.price),
		sPrice: fmt.Sprintf("%019d", max(d.price, 0)), sCreated: fmt.Sprintf("%019d", max(d.created, 0)),
		sRating: fmt.Sprintf("%06d%012d", max(d.rating, 0), max(d.reviews, 0)),
	}
}

// load reads products (with their category paths) selected by where.
func (x *indexer) load(ctx context.Context, where string, arg any) ([]doc, int64, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT p.product_id, p.name, p.description, p.price_amount, p.created_at,
		p.rating_x100, p.review_count, p.active, p.seq, p.category_id, COALESCE(c.path, '')
		FROM search_products p LEFT JOIN search_categories c ON c.category_id = p.category_id `+where, arg)
	if err != nil {
		return nil, 0, fmt.Errorf("search: load products: %w", err)
	}
	defer rows.Close()
	var out []doc
	var last int64
	for rows.Next() {
		var d doc
		var created, category, path string
		if err := rows.Scan(&d.id, &d.name, &d.desc, &d.price, &created, &d.rating, &d.reviews, &d.active, &d.seq, &category, &path); err != nil {
			return nil, 0, err
		}
		if t, err := time.Parse(time.RFC3339Nano, created); err == nil {
			d.created = t.UnixMicro()
		}
		d.categories = strings.Fields(path)
		if len(d.categories) == 0 && category != "" {
			d.categories = []string{category}
		}
		last = max(last, d.seq)
		out = append(out, d)
	}
	return out, last, rows.Err()
}

// apply upserts active products and deletes inactive ones in one batch;
// seq > 0 is recorded with it.
func apply(idx bleve.Index, docs []doc, seq int64) error {
	b := idx.NewBatch()
	for _, d := range docs {
		if !d.active {
			b.Delete(d.id)
			continue
		}
		if err := b.Index(d.id, d.fields()); err != nil {
			return fmt.Errorf("search: index %s: %w", d.id, err)
		}
	}
	if seq > 0 {
		b.SetInternal(seqKey, []byte(strconv.FormatInt(seq, 10)))
	}
	if err := idx.Batch(b); err != nil {
		return fmt.Errorf("search: index batch: %w", err)
	}
	return nil
}

// compact merges idx into one segment: a query runs its term lookups, range
// expansion and doc-value reads once per segment, and the merge policy leaves
// a freshly built 100,000-product index in eleven (one of 50,000 and ten of
// 5,000); merged, the benchmark's p99 halves.
func compact(ctx context.Context, idx bleve.Index) error {
	s := scorchOf(idx)
	if s == nil {
		return nil
	}
	// A forced merge merges at most ten segments at a time.
	for range 5 {
		if err := s.ForceMerge(ctx, &mergeplan.SingleSegmentMergePlanOptions); err != nil {
			return fmt.Errorf("search: compact: %w", err)
		}
		if segments(idx) <= 1 {
			return nil
		}
	}
	return nil
}

// segments is how many segments idx has (0 if it cannot tell).
func segments(idx bleve.Index) uint64 {
	s := scorchOf(idx)
	if s == nil {
		return 0
	}
	st := s.StatsMap()
	files, _ := st["num_root_filesegments"].(uint64)
	mem, _ := st["num_root_memorysegments"].(uint64)
	return files + mem
}

func scorchOf(idx bleve.Index) *scorch.Scorch {
	adv, err := idx.Advanced()
	if err != nil {
		return nil
	}
	s, _ := adv.(*scorch.Scorch)
	return s
}

func setSeq(idx bleve.Index, seq int64) error {
	return idx.SetInternal(seqKey, []byte(strconv.FormatInt(seq, 10)))
}
