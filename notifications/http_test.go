package notifications_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"acme/acmetest"
)

func TestCustomerRegisteredIsNotifiedOnce(t *testing.T) {
	acmetest.Run(t, func(t *testing.T, s *acmetest.Server) {
		id, _ := s.RegisterCustomer(t)
		s.Do(t, "GET", "/api/v1/notifications", "", nil).WantError(t, http.StatusUnauthorized, "unauthorized")
		list := func() []map[string]any {
			return s.Do(t, "GET", "/api/v1/notifications?kind=customer_registered&customerId="+id, s.AdminToken, nil).Want(t, http.StatusOK).Items()
		}
		s.Eventually(t, func() bool { return len(list()) == 1 })
		n := list()[0]
		if n["channel"] != "email" || n["status"] != "SENT" || !strings.HasPrefix(n["to"].(string), "c-") || n["sentAt"] == "" {
			t.Fatalf("notification = %v", n)
		}
		s.Do(t, "GET", "/api/v1/notifications?kind=nonsense", s.AdminToken, nil).WantError(t, 422, "validation_failed")
		s.Do(t, "GET", "/api/v1/notifications?customerId=abc", s.AdminToken, nil).WantError(t, 422, "validation_failed")
		if s.Mode == acmetest.Embedded {
			raw, err := os.ReadFile(filepath.Join(s.DataDir, "mail", n["notificationId"].(string)+".eml"))
			if err != nil {
				t.Fatalf("the .eml file of the notification: %v", err)
			}
			if !strings.Contains(string(raw), "verify-email?token=") {
				t.Fatalf("the registration email has no verification link:\n%s", raw)
			}
		}
		// A restart replays nothing twice: still exactly one notification.
		s.Restart(t)
		s.RegisterCustomer(t) // a later fact is processed, so the earlier one had its chance to repeat
		s.Eventually(t, func() bool {
			return len(s.Do(t, "GET", "/api/v1/notifications?kind=customer_registered", s.AdminToken, nil).Items()) == 2
		})
		if got := len(list()); got != 1 {
			t.Fatalf("after a restart the customer has %d registration notifications; want 1", got)
		}
	})
}
