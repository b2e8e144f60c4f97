package warehouse_test

import (
	"testing"

	"acme/acmetest"
)

func TestPickingJobsRoutes(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		_, tok := s.RegisterCustomer(t)
		s.Do(t, "GET", "/api/v1/warehouse/picking-jobs", "", nil).WantError(t, 401, "unauthorized")
		s.Do(t, "GET", "/api/v1/warehouse/picking-jobs", tok, nil).WantError(t, 403, "forbidden")
		r := s.Do(t, "GET", "/api/v1/warehouse/picking-jobs", s.AdminToken, nil).Want(t, 200)
		if len(r.Items()) != 0 || r.Map()["total"].(float64) != 0 {
			t.Fatalf("jobs = %s", r.Body)
		}
		s.Do(t, "GET", "/api/v1/warehouse/picking-jobs?status=LOST", s.AdminToken, nil).WantError(t, 422, "validation_failed")
		s.Do(t, "POST", "/api/v1/warehouse/picking-jobs/0190a000-0000-7000-8000-000000000001/pick", s.AdminToken, nil).WantError(t, 404, "not_found")
		s.Do(t, "POST", "/api/v1/warehouse/picking-jobs/nope/pack", s.AdminToken, nil).WantError(t, 404, "not_found")
	})
}
