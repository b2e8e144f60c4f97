package search_test

import (
	"net/url"
	"slices"
	"testing"

	"acme/acmetest"
)

func usd(n int64) map[string]any { return map[string]any{"amount": n, "currency": "USD"} }

// TestSearchHTTP covers the contract's GET /api/v1/products row and search
// paragraph, success and every kind of bad parameter, in both modes.
func TestSearchHTTP(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		admin := s.AdminToken
		var pos string
		post := func(path string, body any, want int) *acmetest.Response {
			r := s.Do(t, "POST", path, admin, body).Want(t, want)
			pos = r.Header.Get("Acme-Position")
			return r
		}
		search := func(query string) *acmetest.Response {
			return s.DoWith(t, "GET", "/api/v1/products?"+query, "", nil, map[string]string{"Acme-Min-Position": pos})
		}
		names := func(r *acmetest.Response) []string {
			var out []string
			for _, it := range r.Items() {
				out = append(out, it["name"].(string))
			}
			return out
		}

		home := post("/api/v1/categories", map[string]any{"name": "Home"}, 201).Str("categoryId")
		kitchen := post("/api/v1/categories", map[string]any{"name": "Kitchen", "parentId": home}, 201).Str("categoryId")
		garden := post("/api/v1/categories", map[string]any{"name": "Garden"}, 201).Str("categoryId")
		product := func(name, desc, cat string, price, stock int64) string {
			return post("/api/v1/products", map[string]any{"name": name, "description": desc, "price": usd(price),
				"categoryId": cat, "initialStock": stock}, 201).Str("productId")
		}
		kettle := product("Electric Kettle", "Boils water quickly", kitchen, 3999, 4)
		pan := product("Frying Pan", "Non-stick pan for frying eggs", kitchen, 2599, 0)
		hose := product("Garden Hose", "Flexible hose, 20 m", garden, 1999, 1)
		lamp := product("Desk Lamp", "Warm light for reading", home, 4599, 2)

		// Text search: stems, typos, prefixes, case.
		for q, want := range map[string][]string{
			"kettles":      {"Electric Kettle"},
			"KETLE":        {"Electric Kettle"},
			"fry":          {"Frying Pan"},
			"hoes":         {"Garden Hose"}, // one typo
			"boiling":      {"Electric Kettle"},
			"light+lamp":   {"Desk Lamp"},
			"nothingmatch": nil,
		} {
			r := search("q="+q).Want(t, 200)
			if got := names(r); !slices.Equal(got, want) {
				t.Fatalf("q=%s: %v, want %v (%s)", q, got, want, r.Body)
			}
		}
		// The summary fields.
		r := search("q=kettle").Want(t, 200)
		it := r.Items()[0]
		if it["productId"] != kettle || it["categoryId"] != kitchen || it["averageRating"] != 0.0 || it["reviewCount"] != 0.0 ||
			it["inStock"] != true || it["price"].(map[string]any)["amount"] != 3999.0 || r.Map()["total"] != 1.0 ||
			r.Map()["page"] != 1.0 || r.Map()["pageSize"] != 20.0 {
			t.Fatalf("summary: %s", r.Body)
		}
		// inStock follows inventory's levels.
		acmetest.Eventually(t, 10e9, func() bool {
			items := search("q=pan").Want(t, 200).Items()
			return len(items) == 1 && items[0]["inStock"] == false
		})
		rs := s.Do(t, "POST", "/api/v1/inventory/"+pan+"/restock", admin, map[string]any{"quantity": 2}).Want(t, 200)
		s.Eventually(t, func() bool {
			items := s.DoWith(t, "GET", "/api/v1/products?q=pan", "", nil, map[string]string{"Acme-Min-Position": rs.Header.Get("Acme-Position")}).Want(t, 200).Items()
			return len(items) == 1 && items[0]["inStock"] == true
		})

		// Category filter includes sub-categories; browse sorts.
		if got := names(search("categoryId="+home+"&sort=price_asc").Want(t, 200)); !slices.Equal(got, []string{"Frying Pan", "Electric Kettle", "Desk Lamp"}) {
			t.Fatalf("home: %v", got)
		}
		if got := names(search("categoryId="+kitchen+"&sort=price_desc").Want(t, 200)); !slices.Equal(got, []string{"Electric Kettle", "Frying Pan"}) {
			t.Fatalf("kitchen: %v", got)
		}
		if got := names(search("").Want(t, 200)); !slices.Equal(got, []string{"Desk Lamp", "Garden Hose", "Frying Pan", "Electric Kettle"}) {
			t.Fatalf("newest: %v", got)
		}
		if got := names(search("minPrice=2000&maxPrice=4000").Want(t, 200)); !sameSet(got, []string{"Frying Pan", "Electric Kettle"}) {
			t.Fatalf("price range: %v", got)
		}
		// a bound past any price is no bound, however large (even past int64)
		for _, q := range []string{"minPrice=2000&maxPrice=9007199254740991", "minPrice=2000&maxPrice=99999999999999999999999"} {
			if got := names(search(q).Want(t, 200)); len(got) < 2 || !slices.Contains(got, "Frying Pan") {
				t.Fatalf("%s: %v", q, got)
			}
		}
		if got := names(search("minPrice=9223372036854775807").Want(t, 200)); len(got) != 0 {
			t.Fatalf("a minimum past any price: %v", got)
		}
		r = search("sort=price_asc&pageSize=2&page=2").Want(t, 200)
		if got := names(r); !slices.Equal(got, []string{"Electric Kettle", "Desk Lamp"}) || r.Map()["total"] != 4.0 || r.Map()["page"] != 2.0 {
			t.Fatalf("page 2: %s", r.Body)
		}
		product("Kettle Descaler", "Removes limescale from a kettle", kitchen, 599, 1)
		if got := names(search("q=kettle&sort=price_asc&categoryId="+kitchen).Want(t, 200)); !slices.Equal(got, []string{"Kettle Descaler", "Electric Kettle"}) {
			t.Fatalf("q with category and sort: %v", got)
		}
		if got := names(search("q=kettle&categoryId="+garden).Want(t, 200)); len(got) != 0 {
			t.Fatalf("q in another category: %v", got)
		}
		if got := names(search("q=light&categoryId="+home).Want(t, 200)); !slices.Equal(got, []string{"Desk Lamp"}) {
			t.Fatalf("q in a root category: %v", got)
		}
		_ = hose
		_ = lamp

		// Deactivated products never appear; updates are searchable.
		post("/api/v1/products/"+hose+"/deactivate", nil, 200)
		if got := names(search("q=hose").Want(t, 200)); len(got) != 0 {
			t.Fatalf("deactivated: %v", got)
		}
		if got := names(search("categoryId="+garden).Want(t, 200)); len(got) != 0 {
			t.Fatalf("deactivated in browse: %v", got)
		}
		r = s.Do(t, "PATCH", "/api/v1/products/"+lamp, admin, map[string]any{"name": "Reading Lantern"}).Want(t, 200)
		pos = r.Header.Get("Acme-Position")
		if got := names(search("q=lantern").Want(t, 200)); !slices.Equal(got, []string{"Reading Lantern"}) {
			t.Fatalf("renamed: %v", got)
		}

		// 422 on bad parameters.
		for _, q := range []string{
			"sort=cheapest", "minPrice=abc", "maxPrice=1.5", "minPrice=-1", "minPrice=500&maxPrice=100",
			"categoryId=not-a-uuid", "page=0", "page=x", "pageSize=0", "pageSize=101", "page=1000&pageSize=100",
			"q=" + url.QueryEscape(string(make([]byte, 201))),
		} {
			r := search(q)
			r.WantError(t, 422, "validation_failed")
			if len(r.Map()["errors"].([]any)) == 0 {
				t.Fatalf("%s: no field errors: %s", q, r.Body)
			}
		}
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
