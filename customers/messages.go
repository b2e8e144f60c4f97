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

// EmailReservedV1 is the only event of an email reservation stream
// ("email-<sha256(lower(email))>"): the address belongs to CustomerID.
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
	GetCustomer = es.Define[GetCustomerV1](es.MessageSpec{
		Name: "GetCustomer", Kind: es.KindQuery, Version: "1.0.0", Owner: "customers",
		Producers: []string{"storefront", "admin"}, Consumers: []string{"customers"},
		Summary: "Fetch one customer's profile (GET /api/v1/customers/{id}; the customer themself or an admin).",
	})
)

// Messages lists every message customers owns.
func messages() []es.MessageType {
	return []es.MessageType{CustomerRegistered, EmailReserved, RegisterCustomer, GetCustomer}
}
