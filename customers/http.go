package customers

import (
	"net/http"
	"strings"
	"time"

	"acme"
	"acme/httpapi"
)

// loginRequest is the body of POST /api/v1/sessions.
type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Routes registers the customers and sessions routes.
func (m *Module) Routes(api *httpapi.API) {
	api.Handle("POST /api/v1/customers", httpapi.Anonymous, m.handleRegister,
		httpapi.Summary("Register a customer (RegisterCustomer). 409 email_taken (addresses compare case-insensitively, "+
			"Unicode-normalised (NFC), an internationalised domain as its ASCII form: the same rule signs in); 422 weak_password "+
			"(under 10 characters, no letter, no digit, or a common password); 422 validation_failed (email syntax, name 1–100 "+
			"characters, not only spaces or invisible characters)."),
		httpapi.Body(RegisterCustomerV1{}), httpapi.Returns(http.StatusCreated, View{}))
	api.Handle("GET /api/v1/customers/{id}", httpapi.Customer, m.handleGet,
		httpapi.Summary("Get a customer's profile (the customer themself or an admin; anyone else gets 404)."),
		httpapi.Returns(http.StatusOK, View{}))
	api.Handle("POST /api/v1/customers/verify-email", httpapi.Anonymous, m.handleVerifyBody,
		httpapi.Summary("Verify a customer's email address (VerifyEmail) with the token of the link in the customer_registered email: "+
			"status REGISTERED → ACTIVE. Idempotent: the same token again answers the same. 404 not_found for an unknown token "+
			"(or one replaced by a newer link); 410 token_expired for a link older than 7 days (ask for a new one: "+
			"POST /api/v1/customers/{id}/verification-email); 422 validation_failed without one."),
		httpapi.Body(VerifyEmailV1{}), httpapi.Returns(http.StatusOK, View{}))
	api.Handle("POST /api/v1/customers/{id}/verification-email", httpapi.Customer, m.handleRequestVerification,
		httpapi.Summary("Send a new verification link (VerificationEmailRequested → an email_verification notification), the customer themself "+
			"or an admin: a link works for 7 days (410 token_expired after), and a new one replaces the previous ones. "+
			"409 already_verified for an ACTIVE customer; 404 for anyone else's."),
		httpapi.Returns(http.StatusAccepted, View{}), httpapi.NoBody())
	api.Handle("GET /verify-email", httpapi.Anonymous, m.handleVerifyLink,
		httpapi.Query("token", "string", "The token of the verification link."),
		httpapi.Summary("The verification link of the customer_registered email (…/verify-email?token=): "+
			"POST /api/v1/customers/verify-email for a link, with the same answers."),
		httpapi.Returns(http.StatusOK, View{}))
	api.Handle("POST /api/v1/sessions", httpapi.Anonymous, m.handleLogin,
		httpapi.Summary("Sign in: a bearer token valid until expiresAt. 401 invalid_credentials for an unknown email or a wrong password alike."),
		httpapi.Body(loginRequest{}), httpapi.Returns(http.StatusCreated, Session{}))
	api.Handle("DELETE /api/v1/sessions/current", httpapi.Customer, m.handleLogout,
		httpapi.Summary("Sign out: revoke the session token of this request. 401 without a live session token; 403 forbidden with the admin token (it is not a session)."),
		httpapi.Returns(http.StatusNoContent, nil), httpapi.NoBody())
}

func (m *Module) handleRegister(w http.ResponseWriter, r *http.Request) error {
	var req RegisterCustomerV1
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	res, err := m.Register(r.Context(), req)
	if err != nil {
		return err
	}
	httpapi.SetPosition(w, "customers", res.Position)
	w.Header().Set("Location", "/api/v1/customers/"+res.Customer.CustomerID)
	return httpapi.JSON(w, http.StatusCreated, res.Customer)
}

func (m *Module) handleGet(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	c := httpapi.CallerFrom(r.Context())
	if c.Role != httpapi.Admin && c.CustomerID != id {
		return acme.Errorf(acme.CodeNotFound, "customer not found")
	}
	v, err := m.Customer(r.Context(), id)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, v)
}

func (m *Module) handleRequestVerification(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	c := httpapi.CallerFrom(r.Context())
	if c.Role != httpapi.Admin && c.CustomerID != id {
		return acme.Errorf(acme.CodeNotFound, "customer not found")
	}
	res, err := m.RequestVerification(r.Context(), id)
	if err != nil {
		return err
	}
	httpapi.SetPosition(w, "customers", res.Position)
	return httpapi.JSON(w, http.StatusAccepted, res.Customer)
}

func (m *Module) handleVerifyBody(w http.ResponseWriter, r *http.Request) error {
	var req VerifyEmailV1
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	return m.verify(w, r, req.Token)
}

func (m *Module) handleVerifyLink(w http.ResponseWriter, r *http.Request) error {
	return m.verify(w, r, r.URL.Query().Get("token"))
}

func (m *Module) verify(w http.ResponseWriter, r *http.Request, token string) error {
	res, err := m.VerifyEmail(r.Context(), token)
	if err != nil {
		return err
	}
	httpapi.SetPosition(w, "customers", res.Position)
	return httpapi.JSON(w, http.StatusOK, res.Customer)
}

func (m *Module) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	s, err := m.Login(r.Context(), req.Email, req.Password)
	if err != nil {
		return err
	}
	m.setHead(w, r)
	return httpapi.JSON(w, http.StatusCreated, struct {
		Token      string `json:"token"`
		CustomerID string `json:"customerId"`
		ExpiresAt  string `json:"expiresAt"`
	}{s.Token, s.CustomerID, s.ExpiresAt.UTC().Format(time.RFC3339)})
}

func (m *Module) handleLogout(w http.ResponseWriter, r *http.Request) error {
	if httpapi.CallerFrom(r.Context()).Role == httpapi.Admin {
		return acme.Errorf(acme.CodeForbidden, "the admin token is not a session: it cannot sign out")
	}
	if err := m.Logout(r.Context(), bearer(r)); err != nil {
		return err
	}
	m.setHead(w, r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setHead sets Acme-Position to the head of the customers log: a session write
// stores no event, but every 2xx command response carries a token (this one
// is satisfied at once).
func (m *Module) setHead(w http.ResponseWriter, r *http.Request) {
	if head, err := m.store().Head(r.Context()); err == nil && head > 0 {
		httpapi.SetPosition(w, "customers", head)
	}
}

// bearer returns the token of the Authorization header ("" if none).
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}
