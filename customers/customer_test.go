package customers

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"acme"
)

var (
	t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(10 * time.Minute)
)

func register(email, name, password string) registerCustomer {
	return registerCustomer{CustomerID: "c1", Email: email, Name: name, Password: password, At: t0, VerificationToken: "vt"}
}

func TestCustomerDecider(t *testing.T) {
	registered := CustomerRegisteredV1{CustomerID: "c1", Email: "ann@example.com", Name: "Ann", Status: StatusRegistered, RegisteredAt: t0, VerificationToken: "vt"}
	tests := []struct {
		name     string
		given    []any
		when     any
		then     []any
		wantCode string
		fields   []string
	}{
		{name: "registers", when: register("ann@example.com", "Ann", "correct7horse"), then: []any{registered}},
		{name: "already registered", given: []any{registered}, when: register("ann@example.com", "Ann", "correct7horse"), wantCode: acme.CodeConflict},
		{name: "email syntax", when: register("not-an-email", "Ann", "correct7horse"), wantCode: acme.CodeValidationFailed, fields: []string{"email"}},
		{name: "domain without a dot", when: register("a@b", "Ann", "correct7horse"), wantCode: acme.CodeValidationFailed, fields: []string{"email"}},
		{name: "broken character", when: register("\ufffd@example.com", "Ann", "correct7horse"), wantCode: acme.CodeValidationFailed, fields: []string{"email"}},
		{name: "localhost", when: register("user@localhost", "Ann", "correct7horse"), wantCode: acme.CodeValidationFailed, fields: []string{"email"}},
		{name: "label starting with a hyphen", when: register("user@-example.com", "Ann", "correct7horse"), wantCode: acme.CodeValidationFailed, fields: []string{"email"}},
		{name: "underscore in the domain", when: register("user@ex_ample.com", "Ann", "correct7horse"), wantCode: acme.CodeValidationFailed, fields: []string{"email"}},
		{name: "empty label", when: register("user@example..com", "Ann", "correct7horse"), wantCode: acme.CodeValidationFailed, fields: []string{"email"}},
		{name: "numeric top-level label", when: register("user@10.0.0.1", "Ann", "correct7horse"), wantCode: acme.CodeValidationFailed, fields: []string{"email"}},
		{name: "display name refused", when: register("Ann <ann@example.com>", "Ann", "correct7horse"), wantCode: acme.CodeValidationFailed, fields: []string{"email"}},
		{name: "empty email", when: register("", "Ann", "correct7horse"), wantCode: acme.CodeValidationFailed, fields: []string{"email"}},
		{name: "name empty", when: register("ann@example.com", "", "correct7horse"), wantCode: acme.CodeValidationFailed, fields: []string{"name"}},
		{name: "name 101 chars", when: register("ann@example.com", strings.Repeat("é", 101), "correct7horse"), wantCode: acme.CodeValidationFailed, fields: []string{"name"}},
		{name: "name 100 chars ok", when: register("ann@example.com", strings.Repeat("é", 100), "correct7horse"),
			then: []any{CustomerRegisteredV1{CustomerID: "c1", Email: "ann@example.com", Name: strings.Repeat("é", 100), Status: StatusRegistered, RegisteredAt: t0, VerificationToken: "vt"}}},
		{name: "name with NUL", when: register("ann@example.com", "A\x00nn", "correct7horse"), wantCode: acme.CodeValidationFailed, fields: []string{"name"}},
		{name: "both fields", when: register("x", "", "correct7horse"), wantCode: acme.CodeValidationFailed, fields: []string{"email", "name"}},
		{name: "password 9 chars", when: register("ann@example.com", "Ann", "abcdefg12"), wantCode: CodeWeakPassword},
		{name: "password no digit", when: register("ann@example.com", "Ann", "abcdefghijkl"), wantCode: CodeWeakPassword},
		{name: "password no letter", when: register("ann@example.com", "Ann", "123456789012"), wantCode: CodeWeakPassword},
		{name: "common password", when: register("ann@example.com", "Ann", "password123"), wantCode: CodeWeakPassword},
		{name: "common password any case", when: register("ann@example.com", "Ann", "PassWord123"), wantCode: CodeWeakPassword},
		{name: "common password 1q2w3e4r5t", when: register("ann@example.com", "Ann", "1q2w3e4r5t"), wantCode: CodeWeakPassword},
		{name: "validation before strength", when: register("bad", "Ann", "short"), wantCode: acme.CodeValidationFailed},
		{name: "verifies the email", given: []any{registered}, when: verifyEmail{At: t1},
			then: []any{CustomerEmailVerifiedV1{CustomerID: "c1", Email: "ann@example.com", Status: StatusActive, VerifiedAt: t1}}},
		{name: "verified already: nothing", given: []any{registered, CustomerEmailVerifiedV1{CustomerID: "c1", Email: "ann@example.com", Status: StatusActive, VerifiedAt: t1}},
			when: verifyEmail{At: t1.Add(time.Hour)}},
		{name: "verify an unknown customer", when: verifyEmail{At: t1}, wantCode: acme.CodeNotFound},
		{name: "a link works for VerificationTTL", given: []any{registered}, when: verifyEmail{At: t0.Add(VerificationTTL)},
			then: []any{CustomerEmailVerifiedV1{CustomerID: "c1", Email: "ann@example.com", Status: StatusActive, VerifiedAt: t0.Add(VerificationTTL)}}},
		{name: "a link older than VerificationTTL expired", given: []any{registered}, when: verifyEmail{At: t0.Add(VerificationTTL + time.Second)}, wantCode: CodeTokenExpired},
		{name: "a verified customer's old link still answers", given: []any{registered, CustomerEmailVerifiedV1{CustomerID: "c1", Status: StatusActive, VerifiedAt: t1}},
			when: verifyEmail{At: t0.Add(30 * VerificationTTL)}},
		{name: "a new link", given: []any{registered}, when: requestVerification{At: t1, Token: "vt2"},
			then: []any{VerificationEmailRequestedV1{CustomerID: "c1", Email: "ann@example.com", Name: "Ann", VerificationToken: "vt2", RequestedAt: t1}}},
		{name: "a new link starts a new TTL", given: []any{registered, VerificationEmailRequestedV1{CustomerID: "c1", VerificationToken: "vt2", RequestedAt: t0.Add(VerificationTTL)}},
			when: verifyEmail{At: t0.Add(VerificationTTL + time.Hour)},
			then: []any{CustomerEmailVerifiedV1{CustomerID: "c1", Email: "ann@example.com", Status: StatusActive, VerifiedAt: t0.Add(VerificationTTL + time.Hour)}}},
		{name: "no new link once verified", given: []any{registered, CustomerEmailVerifiedV1{CustomerID: "c1", Status: StatusActive, VerifiedAt: t1}},
			when: requestVerification{At: t1, Token: "vt2"}, wantCode: CodeAlreadyVerified},
		{name: "no new link for an unknown customer", when: requestVerification{At: t1, Token: "vt2"}, wantCode: acme.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Customer
			for _, e := range tt.given {
				s = customerDecider.Evolve(s, e)
			}
			got, err := customerDecider.Decide(s, tt.when)
			checkDecision(t, got, err, tt.then, tt.wantCode)
			if tt.fields != nil {
				var ae *acme.Error
				if !asError(err, &ae) {
					t.Fatalf("err = %v", err)
				}
				var fs []string
				for _, f := range ae.Fields {
					fs = append(fs, f.Field)
				}
				if !reflect.DeepEqual(fs, tt.fields) {
					t.Errorf("fields = %v, want %v", fs, tt.fields)
				}
			}
		})
	}
}

func TestEmailDecider(t *testing.T) {
	tests := []struct {
		name     string
		given    []any
		then     []any
		wantCode string
	}{
		{name: "free address is reserved", then: []any{EmailReservedV1{CustomerID: "c2"}}},
		{name: "claimed address is taken", given: []any{EmailReservedV1{CustomerID: "c1"}}, wantCode: CodeEmailTaken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s EmailReservation
			for _, e := range tt.given {
				s = emailDecider.Evolve(s, e)
			}
			got, err := emailDecider.Decide(s, reserveEmail{CustomerID: "c2"})
			checkDecision(t, got, err, tt.then, tt.wantCode)
		})
	}
}

func TestEmailStreamIsCaseInsensitive(t *testing.T) {
	if emailStream("Ann@Example.COM") != emailStream(" ann@example.com") {
		t.Fatal("email streams differ by case")
	}
	if emailStream("ann@example.com") == emailStream("bob@example.com") {
		t.Fatal("different addresses share a stream")
	}
}

func checkDecision(t *testing.T, got []any, err error, want []any, wantCode string) {
	t.Helper()
	if wantCode != "" {
		if code := acme.ErrorCode(err); code != wantCode {
			t.Fatalf("error code = %q (%v), want %q", code, err, wantCode)
		}
		if len(got) != 0 {
			t.Fatalf("events = %v on error", got)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events = %#v\nwant %#v", got, want)
	}
}

func asError(err error, target **acme.Error) bool {
	e, ok := err.(*acme.Error)
	if ok {
		*target = e
	}
	return ok
}
