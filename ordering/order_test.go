package ordering

import (
	"reflect"
	"testing"
	"time"

	"acme"
)

var (
	t0      = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	t1      = t0.Add(time.Minute)
	usd     = func(n int64) acme.Money { return acme.Money{Amount: n, Currency: "USD"} }
	orderID = "0190a000-0000-7000-8000-000000000001"
	lines   = []LineItem{
		{ProductID: "p1", Name: "Tee", Quantity: 2, UnitPrice: usd(1000), LineTotal: usd(2000)},
		{ProductID: "p2", VariantID: "v1", Name: "Mug", Quantity: 1, UnitPrice: usd(500), LineTotal: usd(500)},
		{ProductID: "p1", VariantID: "v9", Name: "Tee XL", Quantity: 1, UnitPrice: usd(1000), LineTotal: usd(1000)},
	}
	created = OrderCreatedV1{OrderID: orderID, CheckoutID: "c1", CustomerID: "cu1", LineItems: lines,
		Subtotal: usd(3500), Discount: usd(0), TotalAmount: usd(3500), PaymentID: "pay1",
		PaymentAuthorizationID: "auth1", Status: StatusPending, PlacedAt: t0}
	confirmed = OrderConfirmedV1{OrderID: orderID, CheckoutID: "c1", CustomerID: "cu1", LineItems: lines, ConfirmedAt: t0}
	shipped   = OrderShippedV1{OrderID: orderID, CheckoutID: "c1", CustomerID: "cu1", TrackingNumber: "TRK1", Carrier: "UPS", ShippedAt: t0}
	delivered = OrderDeliveredV1{OrderID: orderID, CustomerID: "cu1", ProductIDs: []string{"p1", "p2"}, DeliveredAt: t0}
	cancelled = OrderCancelledV1{OrderID: orderID, CheckoutID: "c1", CustomerID: "cu1", Reason: "x", PreviousStatus: StatusPending, CancelledAt: t0}
)

func TestOrderDecider(t *testing.T) {
	create := Create{OrderID: orderID, CheckoutID: "c1", CustomerID: "cu1", LineItems: lines, Subtotal: usd(3500),
		Discount: usd(0), TotalAmount: usd(3500), PaymentID: "pay1", PaymentAuthorizationID: "auth1", At: t0}
	tests := []struct {
		name  string
		given []any
		when  any
		then  []any
		code  string
	}{
		{"create places a pending order", nil, create, []any{created}, ""},
		{"create twice is a no-op", []any{created}, create, nil, ""},
		{"confirm a pending order: its payment was captured", []any{created}, Confirm{At: t1}, []any{
			OrderPaymentCapturedV1{OrderID: orderID, PaymentID: "pay1", CapturedAt: t1},
			OrderConfirmedV1{OrderID: orderID, CheckoutID: "c1", CustomerID: "cu1", LineItems: lines, ConfirmedAt: t1},
			OrderStatusChangedV1{OrderID: orderID, From: StatusPending, To: StatusConfirmed, At: t1}}, ""},
		{"confirm after the capture was recorded", []any{created, OrderPaymentCapturedV1{OrderID: orderID, PaymentID: "pay1", CapturedAt: t0}}, Confirm{At: t1}, []any{
			OrderConfirmedV1{OrderID: orderID, CheckoutID: "c1", CustomerID: "cu1", LineItems: lines, ConfirmedAt: t1},
			OrderStatusChangedV1{OrderID: orderID, From: StatusPending, To: StatusConfirmed, At: t1}}, ""},
		{"confirm twice is a no-op", []any{created, confirmed}, Confirm{At: t1}, nil, ""},
		{"confirm a cancelled order", []any{created, cancelled}, Confirm{At: t1}, nil, acme.CodeInvalidTransition},
		{"confirm an unknown order", nil, Confirm{At: t1}, nil, acme.CodeNotFound},
		{"ship a confirmed order", []any{created, confirmed}, Ship{TrackingNumber: "TRK1", Carrier: "UPS", At: t1}, []any{
			OrderShippedV1{OrderID: orderID, CheckoutID: "c1", CustomerID: "cu1", TrackingNumber: "TRK1", Carrier: "UPS", ShippedAt: t1},
			OrderStatusChangedV1{OrderID: orderID, From: StatusConfirmed, To: StatusShipped, At: t1}}, ""},
		{"ship a pending order", []any{created}, Ship{TrackingNumber: "T", Carrier: "C", At: t1}, nil, acme.CodeInvalidTransition},
		{"ship twice", []any{created, confirmed, shipped}, Ship{TrackingNumber: "T", Carrier: "C", At: t1}, nil, acme.CodeInvalidTransition},
		{"ship a cancelled order", []any{created, cancelled}, Ship{TrackingNumber: "T", Carrier: "C", At: t1}, nil, acme.CodeInvalidTransition},
		{"deliver with the tracking number", []any{created, confirmed, shipped}, Deliver{TrackingNumber: "TRK1", At: t1}, []any{
			OrderDeliveredV1{OrderID: orderID, CustomerID: "cu1", ProductIDs: []string{"p1", "p2"}, DeliveredAt: t1},
			OrderStatusChangedV1{OrderID: orderID, From: StatusShipped, To: StatusDelivered, At: t1},
			OrderCompletedV1{OrderID: orderID, CustomerID: "cu1", CompletedAt: t1}}, ""},
		{"deliver with another tracking number", []any{created, confirmed, shipped}, Deliver{TrackingNumber: "TRK2", At: t1}, nil, "tracking_mismatch"},
		{"deliver before shipping", []any{created, confirmed}, Deliver{TrackingNumber: "TRK1", At: t1}, nil, acme.CodeInvalidTransition},
		{"deliver twice", []any{created, confirmed, shipped, delivered}, Deliver{TrackingNumber: "TRK1", At: t1}, nil, acme.CodeInvalidTransition},
		{"cancel a pending order", []any{created}, Cancel{Reason: "CUSTOMER_REQUESTED", At: t1}, []any{
			OrderCancelledV1{OrderID: orderID, CheckoutID: "c1", CustomerID: "cu1", Reason: "CUSTOMER_REQUESTED", PreviousStatus: StatusPending, CancelledAt: t1},
			OrderStatusChangedV1{OrderID: orderID, From: StatusPending, To: StatusCancelled, At: t1}}, ""},
		{"cancel a confirmed order", []any{created, confirmed}, Cancel{Reason: "r", At: t1}, []any{
			OrderCancelledV1{OrderID: orderID, CheckoutID: "c1", CustomerID: "cu1", Reason: "r", PreviousStatus: StatusConfirmed, PaymentCaptured: true, CancelledAt: t1},
			OrderStatusChangedV1{OrderID: orderID, From: StatusConfirmed, To: StatusCancelled, At: t1}}, ""},
		{"cancel a shipped order", []any{created, confirmed, shipped}, Cancel{Reason: "r", At: t1}, nil, acme.CodeInvalidTransition},
		{"cancel a delivered order", []any{created, confirmed, shipped, delivered}, Cancel{Reason: "r", At: t1}, nil, acme.CodeInvalidTransition},
		{"cancel twice", []any{created, cancelled}, Cancel{Reason: "r", At: t1}, nil, acme.CodeInvalidTransition},
		{"saga cancel of a shipped order is a no-op", []any{created, confirmed, shipped}, Cancel{Reason: "r", At: t1, IfPossible: true}, nil, ""},
		{"saga cancel of an unknown order is a no-op", nil, Cancel{Reason: "r", At: t1, IfPossible: true}, nil, ""},
		{"record a capture", []any{created}, RecordCapture{PaymentID: "pay1", At: t1}, []any{
			OrderPaymentCapturedV1{OrderID: orderID, PaymentID: "pay1", CapturedAt: t1}}, ""},
		{"record a capture twice", []any{created, OrderPaymentCapturedV1{OrderID: orderID, PaymentID: "pay1"}}, RecordCapture{PaymentID: "pay1", At: t1}, nil, ""},
		{"a confirmed order is captured", []any{created, confirmed}, RecordCapture{PaymentID: "pay1", At: t1}, nil, ""},
		{"a capture of another payment", []any{created}, RecordCapture{PaymentID: "other", At: t1}, nil, ""},
		{"ready for shipping", []any{created, confirmed}, RecordReadyForShipping{JobID: "j1", At: t1}, []any{
			OrderReadyForShippingRecordedV1{OrderID: orderID, JobID: "j1", At: t1}}, ""},
		{"ready for shipping twice", []any{created, confirmed, OrderReadyForShippingRecordedV1{OrderID: orderID}}, RecordReadyForShipping{JobID: "j1", At: t1}, nil, ""},
		{"packed after the order shipped", []any{created, confirmed, shipped}, RecordReadyForShipping{JobID: "j1", At: t1}, nil, ""},
		{"packed after the order was delivered", []any{created, confirmed, shipped, delivered}, RecordReadyForShipping{JobID: "j1", At: t1}, nil, ""},
		{"packed after the order was cancelled", []any{created, confirmed, cancelled}, RecordReadyForShipping{JobID: "j1", At: t1}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o Order
			for _, e := range tt.given {
				o = evolve(o, e)
			}
			got, err := decide(o, tt.when)
			if code := acme.ErrorCode(err); code != tt.code || (tt.code == "" && err != nil) {
				t.Fatalf("error = %v, want code %q", err, tt.code)
			}
			if !reflect.DeepEqual(got, tt.then) {
				t.Fatalf("events\n got %#v\nwant %#v", got, tt.then)
			}
		})
	}
}

func TestOrderCommands(t *testing.T) {
	state := func(given ...any) Order {
		var o Order
		for _, e := range given {
			o = evolve(o, e)
		}
		return o
	}
	tests := []struct {
		name   string
		before Order
		events []any
		then   []string
	}{
		{"cancel before capture voids", state(created), []any{cancelled}, []string{"ReleaseInventory", "VoidPayment"}},
		{"cancel after capture refunds", state(created, confirmed), []any{cancelled}, []string{"ReleaseInventory", "RefundPayment"}},
		{"capture learnt after cancel refunds", state(created, cancelled), []any{OrderPaymentCapturedV1{OrderID: orderID, PaymentID: "pay1"}}, []string{"RefundPayment"}},
		{"capture of a live order sends nothing", state(created), []any{OrderPaymentCapturedV1{OrderID: orderID, PaymentID: "pay1"}}, nil},
		{"ship deducts", state(created, confirmed), []any{shipped}, []string{"DeductInventory"}},
		{"confirm sends nothing", state(created), []any{confirmed}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range Commands(tt.before, tt.events) {
				got = append(got, c.Type)
			}
			if !reflect.DeepEqual(got, tt.then) {
				t.Fatalf("commands = %v, want %v", got, tt.then)
			}
		})
	}
	// the refund is of the full amount, the release names the checkout
	cmds := Commands(state(created, confirmed), []any{cancelled})
	if r := cmds[1].Data.(refundPayment); r.Amount != usd(3500) || r.PaymentID != "pay1" || r.OrderID != orderID {
		t.Fatalf("refund = %+v", r)
	}
	if r := cmds[0].Data.(releaseInventory); r.CheckoutID != "c1" || r.Reason != "ORDER_CANCELLED" {
		t.Fatalf("release = %+v", r)
	}
}
