package customers

import (
	"time"

	"acme/es"
)

// CustomerRegisteredV1 is the payload of CustomerRegistered (docs/messages.md).
// It never carries the password or its hash: credentials live in the context's
// own credentials table (see the package doc).
type CustomerRegisteredV1 struct {
	CustomerID   string    `json:"customerId"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	Status       string    `json:"status"`
	RegisteredAt time.Time `json:"registeredAt"`
	// VerificationToken is the random token of the email-verification link the
	// notifications context sends.
	VerificationToken string `json:"verificationToken"`
}

// CustomerEmailVerifiedV1 is the payload of CustomerEmailVerified: the
// customer followed the verification link of their welcome email.
type CustomerEmailVerifiedV1 struct {
	CustomerID string    `json:"customerId"`
	Email      string    `json:"email"`
	Status     string    `json:"status"` // ACTIVE
	VerifiedAt time.Time `json:"verifiedAt"`
}

// VerificationEmailRequestedV1 is the payload of VerificationEmailRequested: a
// customer not yet verified asked for a new verification link (their first
// expired, or the email was lost). The new token replaces the previous ones.
type VerificationEmailRequestedV1 struct {
	CustomerID        string    `json:"customerId"`
	Email             string    `json:"email"`
	Name              string    `json:"name"`
	VerificationToken string    `json:"verificationToken"`
	RequestedAt       time.Time `json:"requestedAt"`
}

// VerifyEmailV1 is the VerifyEmail command as clients send it (POST
// /api/v1/customers/verify-email, or the link GET /verify-email?token=). It is
// handled over HTTP only: never stored or published.
type VerifyEmailV1 struct {
	Token string `json:"token"`
}

// EmailReservedV1 is the only event of an email reservation stream
// ("email-<sha256(normaliseEmail(email))>"): the address belongs to CustomerID.
type EmailReservedV1 struct {
	CustomerID string `json:"customerId"`
}

// RegisterCustomerV1 is the RegisterCustomer command as clients send it
// (POST /api/v1/customers). It is handled over HTTP only: never stored or published.
type RegisterCustomerV1 struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// SignInV1 is the Sign In command (POST /api/v1/sessions): a session token for
// a customer's email and password. Handled over HTTP only; the password is
// never stored or published.
type SignInV1 struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// SignOutV1 is the Sign Out command (DELETE /api/v1/sessions/current): the
// session of the request's bearer token ends.
type SignOutV1 struct{}

// RequestVerificationEmailV1 is the command behind POST
// /api/v1/customers/{id}/verification-email.
type RequestVerificationEmailV1 struct {
	CustomerID string `json:"customerId"`
}

// GetCustomerV1 is the Get Customer query (GET /api/v1/customers/{id}).
type GetCustomerV1 struct {
	CustomerID string `json:"customerId"`
}

// The messages customers owns.
var (
	CustomerRegistered = es.Define[CustomerRegisteredV1](es.MessageSpec{
		Name: "CustomerRegistered", Kind: es.KindEvent, Version: "1.0.0", Owner: "customers",
		Producers: []string{"customers"}, Consumers: []string{"notifications"},
		Summary: "A new customer account was created (status REGISTERED); carries the email verification token.",
	})
	CustomerEmailVerified = es.Define[CustomerEmailVerifiedV1](es.MessageSpec{
		Name: "CustomerEmailVerified", Kind: es.KindEvent, Version: "1.0.0", Owner: "customers",
		Producers: []string{"customers"},
		Summary:   "A customer verified their email address with the link of their welcome email (status REGISTERED → ACTIVE).",
	})
	VerificationEmailRequested = es.Define[VerificationEmailRequestedV1](es.MessageSpec{
		Name: "VerificationEmailRequested", Kind: es.KindEvent, Version: "1.0.0", Owner: "customers",
		Producers: []string{"customers"}, Consumers: []string{"notifications"},
		Summary: "A customer not yet verified asked for a new email verification link; carries its token, which replaces the previous ones.",
	})
	VerifyEmail = es.Define[VerifyEmailV1](es.MessageSpec{
		Name: "VerifyEmail", Kind: es.KindCommand, Version: "1.0.0", Owner: "customers",
		Producers: []string{"storefront"}, Consumers: []string{"customers"},
		Summary: "Verify a customer's email address with the token of the verification link (POST /api/v1/customers/verify-email, GET /verify-email?token=).",
	})
	EmailReserved = es.Define[EmailReservedV1](es.MessageSpec{
		Name: "EmailReserved", Kind: es.KindEvent, Version: "1.0.0", Owner: "customers",
		Producers: []string{"customers"},
		Summary:   "An email address (normalised, hashed in the stream id) was claimed by a customer; makes email uniqueness race-free.",
		Internal:  true,
	})
	RegisterCustomer = es.Define[RegisterCustomerV1](es.MessageSpec{
		Name: "RegisterCustomer", Kind: es.KindCommand, Version: "1.0.0", Owner: "customers",
		Producers: []string{"storefront"}, Consumers: []string{"customers"},
		Summary: "Create a customer account (POST /api/v1/customers); the password is hashed with argon2id and never stored or published in clear.",
	})
	SignIn = es.Define[SignInV1](es.MessageSpec{
		Name: "SignIn", Kind: es.KindCommand, Version: "1.0.0", Owner: "customers",
		Producers: []string{"storefront"}, Consumers: []string{"customers"},
		Summary: "Start a session with an email and a password (POST /api/v1/sessions): a bearer token until expiresAt. Sessions are kept in the customers store, not as events.",
	})
	SignOut = es.Define[SignOutV1](es.MessageSpec{
		Name: "SignOut", Kind: es.KindCommand, Version: "1.0.0", Owner: "customers",
		Producers: []string{"storefront"}, Consumers: []string{"customers"},
		Summary: "End the session of the request's bearer token (DELETE /api/v1/sessions/current).",
	})
	RequestVerificationEmail = es.Define[RequestVerificationEmailV1](es.MessageSpec{
		Name: "RequestVerificationEmail", Kind: es.KindCommand, Version: "1.0.0", Owner: "customers",
		Producers: []string{"storefront", "admin"}, Consumers: []string{"customers"},
		Summary: "Send a customer not yet verified a new verification link (POST /api/v1/customers/{id}/verification-email) → VerificationEmailRequested.",
	})
	GetCustomer = es.Define[GetCustomerV1](es.MessageSpec{
		Name: "GetCustomer", Kind: es.KindQuery, Version: "1.0.0", Owner: "customers",
		Producers: []string{"storefront", "admin"}, Consumers: []string{"customers"},
		Summary: "Fetch one customer's profile (GET /api/v1/customers/{id}; the customer themself or an admin).",
	})
)

// Messages lists every message customers owns.
func messages() []es.MessageType {
	return []es.MessageType{CustomerRegistered, CustomerEmailVerified, VerificationEmailRequested, EmailReserved, RegisterCustomer, VerifyEmail,
		SignIn, SignOut, RequestVerificationEmail, GetCustomer}
}
