package acmetest_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"acme/acmetest"
)

// Concurrent admin writes to one product (restocks of its stock item, price
// changes and variants of its catalog stream) all succeed: a command that
// loses a race decides again after a short random wait, and none is a 5xx.
func TestConcurrentWritesToOneProduct(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		admin := s.AdminToken
		usd := func(n int64) map[string]any { return map[string]any{"amount": n, "currency": "USD"} }
		cat := s.Do(t, "POST", "/api/v1/categories", admin, map[string]any{"name": "Contention"}).Want(t, 201).Str("categoryId")
		pid := s.Do(t, "POST", "/api/v1/products", admin, map[string]any{"name": "Busy lamp", "description": "A lamp",
			"price": usd(1000), "categoryId": cat, "initialStock": 0}).Want(t, 201).Str("productId")
		s.Do(t, "POST", "/api/v1/inventory/"+pid+"/restock", admin, map[string]any{"quantity": 1}).Want(t, 200)

		const n = 30
		var wg sync.WaitGroup
		statuses := make(chan string, 2*n)
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				r := s.Do(t, "POST", "/api/v1/inventory/"+pid+"/restock", admin, map[string]any{"quantity": 1})
				if r.Status != http.StatusOK {
					statuses <- fmt.Sprintf("restock: %d %s", r.Status, r.Body)
				}
			}()
			go func() {
				defer wg.Done()
				r := s.Do(t, "PUT", "/api/v1/products/"+pid+"/price", admin, map[string]any{"price": usd(int64(1000 + i))})
				if r.Status != http.StatusOK {
					statuses <- fmt.Sprintf("price: %d %s", r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
		close(statuses)
		for st := range statuses {
			t.Error(st)
		}
		lvl := s.Do(t, "GET", "/api/v1/inventory/"+pid, "", nil).Want(t, http.StatusOK).Map()
		if lvl["onHand"] != float64(n+1) {
			t.Fatalf("onHand %v after %d restocks of 1", lvl["onHand"], n+1)
		}
	})
}
