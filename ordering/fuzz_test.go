package ordering

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"acme"
)

// FuzzOrderBodies decodes arbitrary bodies of the order commands: a body is
// either refused with 400/413/422 or accepted with valid fields; nothing panics.
func FuzzOrderBodies(f *testing.F) {
	f.Add([]byte(`{"trackingNumber":"1Z999","carrier":"UPS"}`))
	f.Add([]byte(`{"reason":"changed my mind"}`))
	f.Add([]byte(`{"trackingNumber":""}`))
	f.Add([]byte(`{"trackingNumber":1}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(v any, validate func() []acme.FieldError) {
			r := httptest.NewRequest("POST", "/api/v1/orders/x/ship", bytes.NewReader(body))
			err := decodeBody(r, v)
			if err != nil {
				if c := acme.ErrorCode(err); c != acme.CodeBadRequest && c != acme.CodePayloadTooLarge {
					t.Fatalf("decode error code %q", c)
				}
				return
			}
			for _, fe := range validate() {
				if fe.Field == "" || fe.Message == "" {
					t.Fatalf("empty field error %+v", fe)
				}
			}
		}
		var ship ShipRequest
		check(&ship, func() []acme.FieldError { return validateShip(ship) })
		var deliver DeliverRequest
		check(&deliver, func() []acme.FieldError { return validateDeliver(deliver) })
		var cancel CancelRequest
		check(&cancel, func() []acme.FieldError { return validateCancel(&cancel) })
	})
}

// A tracking number or carrier with a line break could forge lines of the
// shipping email that quotes it: refused, as NUL is.
func TestShipFieldsRefuseControlCharacters(t *testing.T) {
	for _, req := range []ShipRequest{
		{TrackingNumber: "T1\r\nBcc: evil@example.com", Carrier: "UPS"},
		{TrackingNumber: "a\x00b", Carrier: "UPS"},
		{TrackingNumber: "1Z999", Carrier: "UPS\nX-Evil: 1"},
	} {
		if fields := validateShip(req); len(fields) != 1 {
			t.Errorf("validateShip(%q, %q) = %+v, want one field error", req.TrackingNumber, req.Carrier, fields)
		}
	}
	if fields := validateShip(ShipRequest{TrackingNumber: "1Z 999", Carrier: "DHL Express"}); len(fields) != 0 {
		t.Errorf("a plain tracking number was refused: %+v", fields)
	}
	if fields := validateDeliver(DeliverRequest{TrackingNumber: "a\nb"}); len(fields) != 1 {
		t.Errorf("validateDeliver accepted a line break: %+v", fields)
	}
}
