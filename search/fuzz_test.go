package search

import (
	"net/url"
	"testing"

	"acme"
)

// FuzzParseQuery: any query string gives a valid Query or a 422
// validation_failed with field errors, never a panic; the text query builds.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"q=jacket", "q=JACKETS&sort=price_asc&page=2&pageSize=10", "minPrice=10&maxPrice=5",
		"minPrice=abc", "sort=cheapest", "categoryId=nope", "pageSize=101", "page=0", "q=%ff%fe", "q=the+a+of",
		"q=" + string(make([]byte, 300)), "page=99999999999999999999", "maxPrice=1e5", "q=日本語+ok", "q=Crème+Brûlée+½+ß+Æ", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseQuery(v)
		if err != nil {
			if e, ok := err.(*acme.Error); !ok || e.Code != acme.CodeValidationFailed || len(e.Fields) == 0 {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		if q.Page < 1 || q.PageSize < 1 || q.PageSize > 100 || (q.Page-1)*q.PageSize >= MaxDepth {
			t.Fatalf("%q: paging %+v", raw, q)
		}
		if q.MinPrice >= 0 && q.MaxPrice >= 0 && q.MinPrice > q.MaxPrice {
			t.Fatalf("%q: prices %+v", raw, q)
		}
		switch q.Sort {
		case SortRelevance, SortPriceAsc, SortPriceDesc, SortNewest, SortRating:
		default:
			t.Fatalf("%q: sort %q", raw, q.Sort)
		}
		if q.Sort == SortRelevance && q.Q == "" {
			t.Fatalf("%q: relevance without q", raw)
		}
		if len(terms(q.Q)) > MaxTokens || textQuery(q.Q, func(w string) bool { return len(w)%2 == 0 }) == nil {
			t.Fatalf("%q: text query", raw)
		}
	})
}
