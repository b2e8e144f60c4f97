package reviews_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"acme"
	"acme/acmetest"
	"acme/redis"
	"acme/testenv"
)

// newProduct creates a category and a product as admin and returns the product id.
func newProduct(t *testing.T, s *acmetest.Server) string {
	t.Helper()
	cat := s.Do(t, "POST", "/api/v1/categories", s.AdminToken, map[string]any{"name": "Lamps " + acme.NewID()}).Want(t, http.StatusCreated)
	p := s.Do(t, "POST", "/api/v1/products", s.AdminToken, map[string]any{
		"name": "Desk lamp", "description": "A lamp for the desk", "price": map[string]any{"amount": 2999, "currency": "USD"},
		"categoryId": cat.Str("categoryId"), "initialStock": 5,
	}).Want(t, http.StatusCreated)
	return p.Str("productId")
}

// submit posts a review, waiting until the reviews context knows the product.
func submit(t *testing.T, s *acmetest.Server, token, productID string, rating any, title, body string) *acmetest.Response {
	t.Helper()
	var r *acmetest.Response
	s.Eventually(t, func() bool {
		r = s.Do(t, "POST", "/api/v1/products/"+productID+"/reviews", token, map[string]any{"rating": rating, "title": title, "body": body})
		return r.Status != http.StatusNotFound
	})
	return r
}

func reviewsOf(t *testing.T, s *acmetest.Server, productID string) *acmetest.Response {
	t.Helper()
	return s.Do(t, "GET", "/api/v1/products/"+productID+"/reviews", "", nil).Want(t, http.StatusOK)
}

// waitRating polls Get Product Reviews until the rating cache shows want.
func waitRating(t *testing.T, s *acmetest.Server, productID string, avg float64, count int) {
	t.Helper()
	s.Eventually(t, func() bool {
		m := reviewsOf(t, s, productID).Map()
		return m["averageRating"] == avg && m["reviewCount"] == float64(count)
	})
}

func TestReviews(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		product := newProduct(t, s)
		_, ada := s.RegisterCustomer(t)
		_, bob := s.RegisterCustomer(t)

		t.Run("validation", func(t *testing.T) {
			s.Do(t, "POST", "/api/v1/products/"+product+"/reviews", "", map[string]any{"rating": 5, "title": "t", "body": "b"}).
				WantError(t, http.StatusUnauthorized, "unauthorized")
			for _, rating := range []any{0, 6, 4.5, -1, nil} {
				submit(t, s, ada, product, rating, "Nice", "Works.").WantError(t, 422, "invalid_rating")
			}
			for _, rating := range []any{"5", true, []int{5}, map[string]int{"n": 5}} { // wrong types
				submit(t, s, ada, product, rating, "Nice", "Works.").WantError(t, 400, "bad_request")
			}
			submit(t, s, ada, product, 4, "", "Works.").WantError(t, 422, "validation_failed")
			submit(t, s, ada, product, 4, "Nice", string(make([]byte, 5001))).WantError(t, 422, "validation_failed")
			submit(t, s, ada, product, 4, "bad\x00title", "Works.").WantError(t, 422, "validation_failed")
			submit(t, s, ada, product, 4, "Nice", "x\x00y\a").WantError(t, 422, "validation_failed")
			s.Do(t, "POST", "/api/v1/products/"+acme.NewID()+"/reviews", ada, map[string]any{"rating": 5, "title": "t", "body": "b"}).
				WantError(t, http.StatusNotFound, "not_found")
			s.Do(t, "POST", "/api/v1/products/"+product+"/reviews", s.AdminToken, map[string]any{"rating": 5, "title": "t", "body": "b"}).
				WantError(t, http.StatusForbidden, "forbidden")
			s.Do(t, "GET", "/api/v1/products/"+acme.NewID()+"/reviews", "", nil).WantError(t, http.StatusNotFound, "not_found")
		})

		t.Run("clean review is published and rated", func(t *testing.T) {
			r := submit(t, s, ada, product, 4, "Bright", "Lights the whole desk.").Want(t, http.StatusCreated)
			if r.Str("status") != "PUBLISHED" || r.Map()["verifiedPurchase"] != false || !acme.ValidID(r.Str("reviewId")) ||
				r.Header.Get("Location") != "/api/v1/reviews/"+r.Str("reviewId") {
				t.Fatalf("submit = %s %v", r.Body, r.Header)
			}
			s.Do(t, "GET", r.Header.Get("Location"), ada, nil).Want(t, http.StatusOK)
			submit(t, s, ada, product, 5, "Again", "Another text.").WantError(t, http.StatusConflict, "already_reviewed")
			list := reviewsOf(t, s, product)
			if items := list.Items(); len(items) != 1 || items[0]["reviewId"] != r.Str("reviewId") || list.Map()["total"] != float64(1) {
				t.Fatalf("published reviews = %s", list.Body)
			}
			waitRating(t, s, product, 4, 1)

			// The same text on another product is published too: the contract
			// holds only a link or a listed word.
			again := submit(t, s, ada, newProduct(t, s), 4, "Bright", "Lights the whole desk.").Want(t, http.StatusCreated)
			if again.Str("status") != "PUBLISHED" {
				t.Fatalf("the same text on another product = %s; want PUBLISHED", again.Body)
			}
		})

		t.Run("link waits for moderation, then approve", func(t *testing.T) {
			r := submit(t, s, bob, product, 1, "Meh", "See https://example.com/better-lamps").Want(t, http.StatusCreated)
			if r.Str("status") != "PENDING_MODERATION" {
				t.Fatalf("a review with a link = %s; want PENDING_MODERATION", r.Body)
			}
			id := r.Str("reviewId")
			if l := reviewsOf(t, s, product); len(l.Items()) != 1 || l.Map()["total"] != float64(1) {
				t.Fatalf("a held review is listed: %s", l.Body)
			}
			s.Do(t, "POST", "/api/v1/reviews/"+id+"/approve", bob, nil).WantError(t, http.StatusForbidden, "forbidden")
			a := s.Do(t, "POST", "/api/v1/reviews/"+id+"/approve", s.AdminToken, nil).Want(t, http.StatusOK)
			if a.Str("status") != "PUBLISHED" {
				t.Fatalf("approve = %s", a.Body)
			}
			s.Do(t, "POST", "/api/v1/reviews/"+id+"/approve", s.AdminToken, nil).WantError(t, http.StatusConflict, "invalid_transition")
			s.Do(t, "POST", "/api/v1/reviews/"+id+"/reject", s.AdminToken, nil).WantError(t, http.StatusConflict, "invalid_transition")
			waitRating(t, s, product, 2.5, 2)
		})

		t.Run("three flags take a review back to moderation", func(t *testing.T) {
			p2 := newProduct(t, s)
			_, author := s.RegisterCustomer(t)
			r := submit(t, s, author, p2, 5, "Great", "Best lamp ever.").Want(t, http.StatusCreated)
			id := r.Str("reviewId")
			waitRating(t, s, p2, 5, 1)
			flaggers := make([]string, 3)
			for i := range flaggers {
				_, flaggers[i] = s.RegisterCustomer(t)
			}
			s.Do(t, "POST", "/api/v1/reviews/"+id+"/flag", flaggers[0], map[string]any{"reason": "spam"}).Want(t, http.StatusAccepted)
			s.Do(t, "POST", "/api/v1/reviews/"+id+"/flag", flaggers[0], map[string]any{"reason": "spam"}).WantError(t, http.StatusConflict, "already_flagged")
			s.Do(t, "POST", "/api/v1/reviews/"+id+"/flag", flaggers[1], map[string]any{"reason": ""}).WantError(t, 422, "validation_failed")
			s.Do(t, "POST", "/api/v1/reviews/"+id+"/flag", s.AdminToken, map[string]any{"reason": "spam"}).WantError(t, http.StatusForbidden, "forbidden")
			// The contract's reason is free text: an unknown one is recorded as "other".
			s.Do(t, "POST", "/api/v1/reviews/"+id+"/flag", flaggers[1], map[string]any{"reason": "rude language"}).Want(t, http.StatusAccepted)
			if n := len(reviewsOf(t, s, p2).Items()); n != 1 {
				t.Fatalf("after two flags the review must still be shown; items = %d", n)
			}
			s.Do(t, "POST", "/api/v1/reviews/"+id+"/flag", flaggers[2], map[string]any{"reason": "other"}).Want(t, http.StatusAccepted)
			if l := reviewsOf(t, s, p2); len(l.Items()) != 0 || l.Map()["total"] != float64(0) {
				t.Fatalf("after three flags the review is still shown: %s", l.Body)
			}
			waitRating(t, s, p2, 0, 0)
			s.Do(t, "POST", "/api/v1/reviews/"+acme.NewID()+"/flag", flaggers[0], map[string]any{"reason": "spam"}).WantError(t, http.StatusNotFound, "not_found")
		})

		t.Run("rating cache flush gives the same answers", func(t *testing.T) {
			before := reviewsOf(t, s, product).Map()
			if s.Mode != acmetest.Embedded {
				opts, _ := goredis.ParseURL(testenv.RedisURL(t))
				c := goredis.NewClient(opts)
				defer c.Close()
				if err := redis.NewRatingCache(c, "acme:"+s.App.Config().SchemaPrefix).Clear(context.Background()); err != nil {
					t.Fatal(err)
				}
			} else {
				s.Restart(t) // the in-process cache starts empty and is rebuilt
			}
			after := reviewsOf(t, s, product).Map()
			if fmt.Sprint(before["averageRating"], before["reviewCount"]) != fmt.Sprint(after["averageRating"], after["reviewCount"]) {
				t.Fatalf("rating before flush %v/%v, after %v/%v", before["averageRating"], before["reviewCount"], after["averageRating"], after["reviewCount"])
			}
		})
	})
}

// TestRatingHonoursMinPosition: the rating is made by a consumer (the
// aggregator appends RatingUpdated) and served by a projection of it (the
// rating cache) and by search. A read with the Acme-Min-Position of an
// approval or of the flag that hides a review sees the new rating, not the one
// before: Await waits for what the consumer appended to be applied.
func TestRatingHonoursMinPosition(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		flaggers := make([]string, 3)
		for i := range flaggers {
			_, flaggers[i] = s.RegisterCustomer(t)
		}
		_, ada := s.RegisterCustomer(t)
		_, bob := s.RegisterCustomer(t)
		read := func(productID, pos string) (float64, float64, int) {
			t.Helper()
			// search first (its copy of the rating comes from the
			// aggregator's RatingUpdated, one hop further), with the token
			var inSearch map[string]any
			for _, it := range s.DoWith(t, "GET", "/api/v1/products?q=desk&pageSize=100", "", nil,
				map[string]string{"Acme-Min-Position": pos}).Want(t, http.StatusOK).Items() {
				if it["productId"] == productID {
					inSearch = it
				}
			}
			m := s.DoWith(t, "GET", "/api/v1/products/"+productID+"/reviews", "", nil,
				map[string]string{"Acme-Min-Position": pos}).Want(t, http.StatusOK)
			avg, n := m.Map()["averageRating"].(float64), m.Map()["reviewCount"].(float64)
			if inSearch == nil || inSearch["averageRating"] != avg || inSearch["reviewCount"] != n {
				t.Fatalf("search shows %v, the reviews %v/%v", inSearch, avg, n)
			}
			return avg, n, len(m.Items())
		}
		for i := range 8 {
			product := newProduct(t, s)
			r := submit(t, s, ada, product, 4, "Fine", "Works well.").Want(t, http.StatusCreated)
			if avg, n, items := read(product, r.Header.Get("Acme-Position")); avg != 4 || n != 1 || items != 1 {
				t.Fatalf("round %d, after submit: %v %v %d", i, avg, n, items)
			}
			held := submit(t, s, bob, product, 2, "Meh", "see http://spam.example").Want(t, http.StatusCreated).Str("reviewId")
			r = s.Do(t, "POST", "/api/v1/reviews/"+held+"/approve", s.AdminToken, nil).Want(t, http.StatusOK)
			if avg, n, items := read(product, r.Header.Get("Acme-Position")); avg != 3 || n != 2 || items != 2 {
				t.Fatalf("round %d, after approve: %v %v %d", i, avg, n, items)
			}
			for _, f := range flaggers {
				r = s.Do(t, "POST", "/api/v1/reviews/"+held+"/flag", f, map[string]any{"reason": "spam"}).Want(t, http.StatusAccepted)
			}
			if avg, n, items := read(product, r.Header.Get("Acme-Position")); avg != 4 || n != 1 || items != 1 {
				t.Fatalf("round %d, after the third flag: %v %v %d", i, avg, n, items)
			}
		}
	})
}
