package search

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/char/asciifolding"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"

	"acme"
	"acme/httpapi"
)

// Sorts.
const (
	SortRelevance = "relevance"
	SortPriceAsc  = "price_asc"
	SortPriceDesc = "price_desc"
	SortNewest    = "newest"
	SortRating    = "rating"
)

// Limits of a query.
const (
	MaxQueryLen = 200     // characters of q
	MaxTokens   = 10      // words of q that count
	MaxDepth    = 10_000  // results reachable by paging
	MaxPrice    = 1 << 50 // minor units
)

// Query is a validated Search Products query.
type Query struct {
	Q          string
	CategoryID string
	MinPrice   int64 // -1 = none
	MaxPrice   int64 // -1 = none
	Sort       string
	Page       int
	PageSize   int
}

// ParseQuery validates the query parameters (422 validation_failed listing every bad one).
// sort defaults to relevance with q and newest without; relevance without q is newest.
func ParseQuery(v url.Values) (Query, error) {
	q := Query{Q: strings.TrimSpace(v.Get("q")), CategoryID: strings.ToLower(v.Get("categoryId")), // ids are lower-case UUIDs
		MinPrice: -1, MaxPrice: -1, Sort: v.Get("sort"), Page: 1, PageSize: 20}
	var fields []acme.FieldError
	bad := func(field, msg string) { fields = append(fields, acme.FieldError{Field: field, Message: msg}) }
	if !utf8.ValidString(q.Q) || utf8.RuneCountInString(q.Q) > MaxQueryLen {
		bad("q", fmt.Sprintf("at most %d characters of valid UTF-8", MaxQueryLen))
	}
	if q.CategoryID != "" && !acme.ValidID(q.CategoryID) {
		bad("categoryId", "must be a category id (UUID)")
	}
	price := func(name string, dst *int64) {
		s := v.Get(name)
		if s == "" {
			return
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if errors.Is(err, strconv.ErrRange) && strings.Trim(s, "0123456789") == "" {
			n, err = MaxPrice, nil // a bound past any price (even past int64) is no bound
		}
		if err != nil || n < 0 {
			bad(name, "must be a non-negative integer amount in minor units")
			return
		}
		*dst = min(n, MaxPrice) // no price is above MaxPrice: a higher bound means the same
	}
	price("minPrice", &q.MinPrice)
	price("maxPrice", &q.MaxPrice)
	if q.MinPrice >= 0 && q.MaxPrice >= 0 && q.MinPrice > q.MaxPrice {
		bad("minPrice", "must not be greater than maxPrice")
	}
	switch q.Sort {
	case "":
		q.Sort = SortNewest
		if q.Q != "" {
			q.Sort = SortRelevance
		}
	case SortRelevance:
		if q.Q == "" {
			q.Sort = SortNewest
		}
	case SortPriceAsc, SortPriceDesc, SortNewest, SortRating:
	default:
		bad("sort", "must be one of relevance, price_asc, price_desc, newest, rating")
	}
	if s := v.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			bad("page", "must be an integer >= 1")
		} else {
			q.Page = n
		}
	}
	if s := v.Get("pageSize"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			bad("pageSize", "must be an integer from 1 to 100")
		} else {
			q.PageSize = n
		}
	}
	if len(fields) == 0 && (q.Page-1) >= MaxDepth/q.PageSize {
		bad("page", fmt.Sprintf("only the first %d results can be paged to", MaxDepth))
	}
	if len(fields) > 0 {
		return Query{}, acme.Invalid(fields...)
	}
	return q, nil
}

var (
	queryMapping = indexMapping()
	english      = queryMapping.(*mapping.IndexMappingImpl).AnalyzerNamed(englishFolded)
	folding      = asciifolding.New()
)

// terms splits q into lower-cased words with accents folded, as the index
// has them, dropping English stop words (unless nothing else is left).
func terms(q string) []string {
	q = string(folding.Filter([]byte(strings.ReplaceAll(strings.ToLower(q), "’", "'"))))
	words := strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' })
	var out, all []string
	for _, w := range words {
		// A possessive is its word ("chef's" is "chef", as the index's
		// English analyzer has it); other apostrophes stay ("don't").
		w = strings.Trim(strings.TrimSuffix(w, "'s"), "'")
		if w == "" {
			continue
		}
		all = append(all, w)
		if len(english.Analyze([]byte(w))) > 0 {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		out = all
	}
	return out[:min(len(out), MaxTokens)]
}

// textQuery: every word must match name or description, each word by any of
// its stem (English analyzer), as a prefix, or within one typo; matches in the
// name weigh more, exact stems more than prefixes, prefixes more than typos.
// A word the catalog has as it is (known) is not looked up with a typo: its
// fuzzy expansion (every word one edit away) was most of a common word's cost,
// and a shopper who typed a word the catalog knows meant that word.
func textQuery(q string, known func(word string) bool) query.Query {
	words := terms(q)
	if len(words) == 0 {
		return bleve.NewMatchNoneQuery()
	}
	conj := make([]query.Query, 0, len(words))
	for _, w := range words {
		var dis []query.Query
		add := func(q interface {
			query.Query
			SetField(string)
			SetBoost(float64)
		}, field string, boost float64) {
			q.SetField(field)
			q.SetBoost(boost)
			dis = append(dis, q)
		}
		m := bleve.NewMatchQuery(w)
		m.Analyzer = englishFolded
		add(m, fName, 5)
		m = bleve.NewMatchQuery(w)
		m.Analyzer = englishFolded
		add(m, fDesc, 2)
		if utf8.RuneCountInString(w) >= 2 {
			add(bleve.NewPrefixQuery(w), fNamePlain, 2)
			add(bleve.NewPrefixQuery(w), fDescPlain, 0.6)
		}
		if utf8.RuneCountInString(w) >= 4 && !known(w) {
			f := bleve.NewFuzzyQuery(w)
			f.SetFuzziness(1)
			add(f, fNamePlain, 1)
			f = bleve.NewFuzzyQuery(w)
			f.SetFuzziness(1)
			add(f, fDescPlain, 0.3)
		}
		conj = append(conj, bleve.NewDisjunctionQuery(dis...))
	}
	if len(conj) == 1 {
		return conj[0]
	}
	return bleve.NewConjunctionQuery(conj...)
}

// Search runs a query: with q on the Bleve index (after bringing it up to
// the source tables), without q on the source tables' SQL indexes.
func (s *Service) Search(ctx context.Context, q Query) (httpapi.List[Summary], error) {
	if q.Q == "" {
		return s.browse(ctx, q)
	}
	if _, err := s.idx.CatchUp(ctx); err != nil {
		return httpapi.List[Summary]{}, err
	}
	known := func(w string) bool { return s.idx.hasTerm(fNamePlain, w) || s.idx.hasTerm(fDescPlain, w) }
	parts := append([]query.Query{textQuery(q.Q, known)}, filters(q)...)
	req := bleve.NewSearchRequestOptions(all(parts), q.PageSize, (q.Page-1)*q.PageSize, false)
	// Sort keys are score and doc values only: sorting by _id (or any
	// stored field) would decompress every hit's stored document. Price
	// sorts are not scored: scoring every hit of a common word halved their
	// speed at 100,000 products, and only ties on the exact price would use it.
	switch q.Sort {
	case SortRelevance: // the default order: score, descending
	case SortPriceAsc:
		req.SortBy([]string{sPrice})
		req.Score = "none"
	case SortPriceDesc:
		req.SortBy([]string{"-" + sPrice})
		req.Score = "none"
	case SortNewest:
		req.SortBy([]string{"-" + sCreated})
		req.Score = "none" // the score is not used
	case SortRating:
		req.SortBy([]string{"-" + sRating, "-_score"})
	}
	res, err := s.idx.search(ctx, req)
	if err != nil {
		return httpapi.List[Summary]{}, fmt.Errorf("search: %w", err)
	}
	ids := make([]string, len(res.Hits))
	for i, h := range res.Hits {
		ids[i] = h.ID
	}
	items, err := s.summaries(ctx, ids)
	if err != nil {
		return httpapi.List[Summary]{}, err
	}
	return httpapi.List[Summary]{Items: items, Total: int(res.Total), Page: q.Page, PageSize: q.PageSize}, nil
}

// all matches what every one of parts (at least one) matches.
func all(parts []query.Query) query.Query {
	if len(parts) == 1 {
		return parts[0]
	}
	return bleve.NewConjunctionQuery(parts...)
}

// filters are the index queries of q's category and price filters.
func filters(q Query) []query.Query {
	var parts []query.Query
	if q.CategoryID != "" {
		t := bleve.NewTermQuery(q.CategoryID)
		t.SetField(fCategories)
		parts = append(parts, t)
	}
	if q.MinPrice >= 0 || q.MaxPrice >= 0 {
		var lo, hi *float64
		if q.MinPrice >= 0 {
			f := float64(q.MinPrice)
			lo = &f
		}
		if q.MaxPrice >= 0 {
			f := float64(q.MaxPrice)
			hi = &f
		}
		yes := true
		r := bleve.NewNumericRangeInclusiveQuery(lo, hi, &yes, &yes)
		r.SetField(fPrice)
		parts = append(parts, r)
	}
	return parts
}

// browse serves a query without text from the SQL indexes of search_products.
func (s *Service) browse(ctx context.Context, q Query) (httpapi.List[Summary], error) {
	where := []string{"active = $1"}
	args := []any{true}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if q.CategoryID != "" {
		cats, err := s.descendants(ctx, q.CategoryID)
		if err != nil {
			return httpapi.List[Summary]{}, err
		}
		ph := make([]string, len(cats))
		for i, c := range cats {
			ph[i] = arg(c)
		}
		where = append(where, "category_id IN ("+strings.Join(ph, ", ")+")")
	}
	if q.MinPrice >= 0 {
		where = append(where, "price_amount >= "+arg(q.MinPrice))
	}
	if q.MaxPrice >= 0 {
		where = append(where, "price_amount <= "+arg(q.MaxPrice))
	}
	cond := strings.Join(where, " AND ")
	total, err := s.count(ctx, q, cond, args)
	if err != nil {
		return httpapi.List[Summary]{}, err
	}
	order := map[string]string{
		SortNewest:    "created_at DESC, product_id DESC",
		SortPriceAsc:  "price_amount ASC, product_id ASC",
		SortPriceDesc: "price_amount DESC, product_id DESC",
		SortRating:    "rating_x100 DESC, review_count DESC, product_id DESC",
	}[q.Sort]
	lim, off := arg(q.PageSize), arg((q.Page-1)*q.PageSize)
	rows, err := s.db.QueryContext(ctx, `SELECT product_id FROM search_products WHERE `+cond+` ORDER BY `+order+` LIMIT `+lim+` OFFSET `+off, args...)
	if err != nil {
		return httpapi.List[Summary]{}, fmt.Errorf("search: browse: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return httpapi.List[Summary]{}, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return httpapi.List[Summary]{}, err
	}
	items, err := s.summaries(ctx, ids)
	if err != nil {
		return httpapi.List[Summary]{}, err
	}
	return httpapi.List[Summary]{Items: items, Total: total, Page: q.Page, PageSize: q.PageSize}, nil
}

// count is how many active products pass q's filters: without a category,
// from SQL (the maintained count when unfiltered, else the price index); with
// one, on the index, whose postings answer a category (and its descendants)
// as one bitmap where SQL would read every row of a root category. (For a
// price range alone SQL used less CPU: the index ORs the range's terms, then
// visits each of its matches to count them.)
func (s *Service) count(ctx context.Context, q Query, cond string, args []any) (int, error) {
	if q.CategoryID == "" {
		countQ := `SELECT COUNT(*) FROM search_products WHERE ` + cond
		if len(args) == 1 { // no filter: the maintained count of active products
			countQ, args = `SELECT active FROM search_meta WHERE id = 1`, nil
		}
		var n int
		if err := s.db.QueryRowContext(ctx, countQ, args...).Scan(&n); err != nil {
			return 0, fmt.Errorf("search: count: %w", err)
		}
		return n, nil
	}
	if _, err := s.idx.CatchUp(ctx); err != nil {
		return 0, err
	}
	parts := filters(q)
	req := bleve.NewSearchRequestOptions(all(parts), 0, 0, false)
	req.Score = "none"
	res, err := s.idx.search(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("search: count: %w", err)
	}
	return int(res.Total), nil
}

// descendants returns a category and every category below it.
func (s *Service) descendants(ctx context.Context, categoryID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT category_id FROM search_categories WHERE path LIKE $1`, "%"+categoryID+"%")
	if err != nil {
		return nil, fmt.Errorf("search: categories: %w", err)
	}
	defer rows.Close()
	out := []string{categoryID}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		if id != categoryID {
			out = append(out, id)
		}
	}
	return out, rows.Err()
}

// summaries loads the result rows of ids, in that order (inactive or unknown ids are dropped).
func (s *Service) summaries(ctx context.Context, ids []string) ([]Summary, error) {
	items := []Summary{}
	if len(ids) == 0 {
		return items, nil
	}
	ph := make([]string, len(ids))
	args := make([]any, 0, len(ids)+1)
	args = append(args, int64(0))
	for i, id := range ids {
		ph[i] = "$" + strconv.Itoa(i+2)
		args = append(args, id)
	}
	byID := make(map[string]Summary, len(ids))
	// Only the primary key in the WHERE clause: with "active = ..." too, SQLite
	// may pick the (active, ...) index and scan every active product.
	rows, err := s.db.QueryContext(ctx, `SELECT p.product_id, p.name, p.price_amount, p.price_currency, p.category_id, p.rating_x100, p.review_count,
		EXISTS (SELECT 1 FROM search_stock s WHERE s.product_id = p.product_id AND s.available > $1
			AND (s.variant_id <> '' OR NOT EXISTS (SELECT 1 FROM search_stock v WHERE v.product_id = p.product_id AND v.variant_id <> ''))), p.active
		FROM search_products p WHERE p.product_id IN (`+strings.Join(ph, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("search: load results: %w", err)
	}
	for rows.Next() {
		var r Summary
		var x100 int64
		var active bool
		if err := rows.Scan(&r.ProductID, &r.Name, &r.Price.Amount, &r.Price.Currency, &r.CategoryID, &x100, &r.ReviewCount, &r.InStock, &active); err != nil {
			rows.Close()
			return nil, err
		}
		if !active {
			continue
		}
		r.AverageRating = float64(x100) / 100
		byID[r.ProductID] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			items = append(items, r)
		}
	}
	return items, nil
}
