package checkout

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"acme"
)

var (
	t0   = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	t1   = t0.Add(time.Second)
	tout = 30 * time.Second
	usd  = func(n int64) acme.Money { return acme.Money{Amount: n, Currency: "USD"} }
	cid  = "0190a000-0000-7000-8000-0000000000c1"
	pay  = "0190a000-0000-7000-8000-0000000000p1"
	ord  = "0190a000-0000-7000-8000-0000000000o1"
	cart = CartCheckedOut{CartID: "cart1", CheckoutID: cid, CustomerID: "cu1",
		Items:    []Line{{ProductID: "p1", VariantID: "", Name: "Tee", Quantity: 2, UnitPrice: usd(1000), LineTotal: usd(2000)}},
		Subtotal: usd(2000), Discount: usd(200), Total: usd(1800),
		ShippingAddress: Address{Name: "A", Line1: "1 St", City: "X", PostalCode: "1", Country: "US"},
		PaymentMethod:   PaymentMethod{Type: "card", Token: "tok_visa"}}

	started = SagaStartedV1{CheckoutID: cid, CartID: "cart1", CustomerID: "cu1", Items: cart.Items, Subtotal: usd(2000),
		Discount: usd(200), Total: usd(1800), ShippingAddress: cart.ShippingAddress, PaymentMethod: cart.PaymentMethod, StartedAt: t0}
	reserveStarted   = StepStartedV1{CheckoutID: cid, Step: StepReserveInventory, Deadline: t0.Add(tout), At: t0}
	reserved         = StepCompletedV1{CheckoutID: cid, Step: StepReserveInventory, Reply: "InventoryReserved", At: t0}
	authorizeStarted = StepStartedV1{CheckoutID: cid, Step: StepAuthorizePayment, Deadline: t0.Add(tout), PaymentID: pay, At: t0}
	authorized       = StepCompletedV1{CheckoutID: cid, Step: StepAuthorizePayment, Reply: "PaymentAuthorized", AuthorizationID: "auth1", At: t0}
	createStarted    = StepStartedV1{CheckoutID: cid, Step: StepCreateOrder, Deadline: t0.Add(tout), OrderID: ord, At: t0}
	created          = StepCompletedV1{CheckoutID: cid, Step: StepCreateOrder, Reply: "OrderCreated", At: t0}
	captureStarted   = StepStartedV1{CheckoutID: cid, Step: StepCapturePayment, Deadline: t0.Add(tout), At: t0}
	captured         = StepCompletedV1{CheckoutID: cid, Step: StepCapturePayment, Reply: "PaymentSucceeded", At: t0}
	confirmStarted   = StepStartedV1{CheckoutID: cid, Step: StepConfirmOrder, Deadline: t0.Add(tout), At: t0}
	completed        = CheckoutCompletedV1{CheckoutID: cid, CartID: "cart1", CustomerID: "cu1", OrderID: ord, CompletedAt: t0}
	failedReserveTO  = CheckoutFailedV1{CheckoutID: cid, CartID: "cart1", CustomerID: "cu1", Reason: ReasonInsufficientStock, Step: StepReserveInventory, FailedAt: t0}
	failedAuthTO     = CheckoutFailedV1{CheckoutID: cid, CartID: "cart1", CustomerID: "cu1", Reason: ReasonPaymentError, Step: StepAuthorizePayment, FailedAt: t0}
	failedCreateTO   = CheckoutFailedV1{CheckoutID: cid, CartID: "cart1", CustomerID: "cu1", Reason: ReasonPaymentError, Step: StepCreateOrder, FailedAt: t0}

	// the streams of the saga at each point of the happy path
	atReserve   = []any{started, reserveStarted}
	atAuthorize = append(append([]any{}, atReserve...), reserved, authorizeStarted)
	atCreate    = append(append([]any{}, atAuthorize...), authorized, createStarted)
	atCapture   = append(append([]any{}, atCreate...), created, captureStarted)
	atConfirm   = append(append([]any{}, atCapture...), captured, confirmStarted)
	atCompleted = append(append([]any{}, atConfirm...), completed)
)

func replyOf(typ string) Reply {
	return Reply{Type: typ, Now: t1, StepTimeout: tout, NewPaymentID: pay, NewOrderID: ord}
}

func with(r Reply, f func(*Reply)) Reply { f(&r); return r }

// failOrder is fail after the order was created: the failure names it.
func failOrder(reason, step string) CheckoutFailedV1 {
	f := fail(reason, step)
	f.OrderID = ord
	return f
}

func fail(reason, step string) CheckoutFailedV1 {
	return CheckoutFailedV1{CheckoutID: cid, CartID: "cart1", CustomerID: "cu1", Reason: reason, Step: step, FailedAt: t1}
}

func comp(late string, cmds ...string) CompensationSentV1 {
	return CompensationSentV1{CheckoutID: cid, Commands: cmds, Late: late, At: t1}
}

func TestSagaDecider(t *testing.T) {
	authOK := with(replyOf("PaymentAuthorized"), func(r *Reply) { r.PaymentID, r.AuthorizationID = pay, "auth1" })
	declined := with(replyOf("PaymentFailed"), func(r *Reply) { r.PaymentID, r.Reason = pay, ReasonPaymentDeclined })
	payErr := with(replyOf("PaymentFailed"), func(r *Reply) { r.PaymentID, r.Reason = pay, "payment_error" })
	orderCreated := with(replyOf("OrderCreated"), func(r *Reply) { r.OrderID = ord })
	succeeded := with(replyOf("PaymentSucceeded"), func(r *Reply) { r.PaymentID = pay })
	confirmed := with(replyOf("OrderConfirmed"), func(r *Reply) { r.OrderID = ord })
	orderCancelled := with(replyOf("OrderCancelled"), func(r *Reply) { r.OrderID = ord })
	expired := with(replyOf("InventoryReleased"), func(r *Reply) { r.Reason = "EXPIRED" })
	with1 := func(c CheckoutCompletedV1) CheckoutCompletedV1 { c.CompletedAt = t1; return c }
	due := Deadline{Now: t0.Add(tout)}
	notDue := Deadline{Now: t0.Add(tout - time.Millisecond)}

	tests := []struct {
		name   string
		given  []any
		when   any
		events []any
		sends  []string
	}{
		{"start reserves the stock", nil, Start{Cart: cart, Now: t0, StepTimeout: tout, ReservationExpiresAt: t0.Add(time.Hour)},
			[]any{started, reserveStarted}, []string{"ReserveInventory"}},
		{"start twice changes nothing", atReserve, Start{Cart: cart, Now: t1, StepTimeout: tout}, nil, nil},
		{"reserved: authorize the total", atReserve, replyOf("InventoryReserved"),
			[]any{StepCompletedV1{CheckoutID: cid, Step: StepReserveInventory, Reply: "InventoryReserved", At: t1},
				StepStartedV1{CheckoutID: cid, Step: StepAuthorizePayment, Deadline: t1.Add(tout), PaymentID: pay, At: t1}},
			[]string{"AuthorizePayment"}},
		{"reserved twice changes nothing", atAuthorize, replyOf("InventoryReserved"), nil, nil},
		{"unavailable: fail, nothing to release", atReserve, replyOf("InventoryUnavailable"),
			[]any{StepFailedV1{CheckoutID: cid, Step: StepReserveInventory, Reply: "InventoryUnavailable", Reason: ReasonInsufficientStock, At: t1},
				fail(ReasonInsufficientStock, StepReserveInventory)}, nil},
		{"unavailable after reserved changes nothing", atAuthorize, replyOf("InventoryUnavailable"), nil, nil},
		{"authorized: create the order", atAuthorize, authOK,
			[]any{StepCompletedV1{CheckoutID: cid, Step: StepAuthorizePayment, Reply: "PaymentAuthorized", AuthorizationID: "auth1", At: t1},
				StepStartedV1{CheckoutID: cid, Step: StepCreateOrder, Deadline: t1.Add(tout), OrderID: ord, At: t1}},
			[]string{"CreateOrder"}},
		{"authorized of another payment changes nothing", atAuthorize, with(authOK, func(r *Reply) { r.PaymentID = "other" }), nil, nil},
		{"authorized twice changes nothing", atCreate, authOK, nil, nil},
		{"declined: release, fail payment_declined", atAuthorize, declined,
			[]any{StepFailedV1{CheckoutID: cid, Step: StepAuthorizePayment, Reply: "PaymentFailed", Reason: ReasonPaymentDeclined, At: t1},
				comp("", "ReleaseInventory"), fail(ReasonPaymentDeclined, StepAuthorizePayment)},
			[]string{"ReleaseInventory"}},
		{"payment error at authorization: release, fail payment_error", atAuthorize, payErr,
			[]any{StepFailedV1{CheckoutID: cid, Step: StepAuthorizePayment, Reply: "PaymentFailed", Reason: ReasonPaymentError, At: t1},
				comp("", "ReleaseInventory"), fail(ReasonPaymentError, StepAuthorizePayment)},
			[]string{"ReleaseInventory"}},
		{"order created: capture", atCreate, orderCreated,
			[]any{StepCompletedV1{CheckoutID: cid, Step: StepCreateOrder, Reply: "OrderCreated", At: t1},
				StepStartedV1{CheckoutID: cid, Step: StepCapturePayment, Deadline: t1.Add(tout), At: t1}},
			[]string{"CapturePayment"}},
		{"order created twice changes nothing", atCapture, orderCreated, nil, nil},
		{"captured: confirm the order", atCapture, succeeded,
			[]any{StepCompletedV1{CheckoutID: cid, Step: StepCapturePayment, Reply: "PaymentSucceeded", At: t1},
				StepStartedV1{CheckoutID: cid, Step: StepConfirmOrder, Deadline: t1.Add(tout), At: t1}},
			[]string{"ConfirmOrder"}},
		{"capture failed: void, release, cancel the order", atCapture, payErr,
			[]any{StepFailedV1{CheckoutID: cid, Step: StepCapturePayment, Reply: "PaymentFailed", Reason: ReasonPaymentError, At: t1},
				comp("", "ReleaseInventory", "VoidPayment", "CancelOrder"), failOrder(ReasonPaymentError, StepCapturePayment)},
			[]string{"ReleaseInventory", "VoidPayment", "CancelOrder"}},
		{"confirmed: completed", atConfirm, confirmed,
			[]any{StepCompletedV1{CheckoutID: cid, Step: StepConfirmOrder, Reply: "OrderConfirmed", At: t1},
				CheckoutCompletedV1{CheckoutID: cid, CartID: "cart1", CustomerID: "cu1", OrderID: ord, CompletedAt: t1}}, nil},
		{"confirmed twice changes nothing", atCompleted, confirmed, nil, nil},
		{"order cancelled before capture: completed, nothing sent", atCapture, orderCancelled,
			[]any{StepFailedV1{CheckoutID: cid, Step: StepCapturePayment, Reply: "OrderCancelled", Reason: ReasonOrderCancelled, At: t1},
				with1(completed)}, nil},
		{"order cancelled before confirmation: completed, nothing sent", atConfirm, orderCancelled,
			[]any{StepFailedV1{CheckoutID: cid, Step: StepConfirmOrder, Reply: "OrderCancelled", Reason: ReasonOrderCancelled, At: t1},
				with1(completed)}, nil},
		{"a confirmed order cancelled changes nothing", atCompleted, orderCancelled, nil, nil},
		{"another order cancelled changes nothing", atCapture, with(orderCancelled, func(r *Reply) { r.OrderID = "other" }), nil, nil},
		// the reservation expires under the saga (a TTL shorter than the steps took)
		{"reservation expired while authorizing: void, fail insufficient_stock", atAuthorize, expired,
			[]any{StepFailedV1{CheckoutID: cid, Step: StepAuthorizePayment, Reply: "InventoryReleased", Reason: ReasonReservationExpired, At: t1},
				comp("", "VoidPayment"), fail(ReasonInsufficientStock, StepAuthorizePayment)},
			[]string{"VoidPayment"}},
		{"reservation expired while capturing: void, cancel the order", atCapture, expired,
			[]any{StepFailedV1{CheckoutID: cid, Step: StepCapturePayment, Reply: "InventoryReleased", Reason: ReasonReservationExpired, At: t1},
				comp("", "VoidPayment", "CancelOrder"), failOrder(ReasonInsufficientStock, StepCapturePayment)},
			[]string{"VoidPayment", "CancelOrder"}},
		{"reservation expired while confirming: void, cancel the order", atConfirm, expired,
			[]any{StepFailedV1{CheckoutID: cid, Step: StepConfirmOrder, Reply: "InventoryReleased", Reason: ReasonReservationExpired, At: t1},
				comp("", "VoidPayment", "CancelOrder"), failOrder(ReasonInsufficientStock, StepConfirmOrder)},
			[]string{"VoidPayment", "CancelOrder"}},
		{"a release for another reason changes nothing", atCapture, with(expired, func(r *Reply) { r.Reason = "ORDER_CANCELLED" }), nil, nil},
		{"an expiry before the reservation is known changes nothing", atReserve, expired, nil, nil},
		{"an expiry after completion cancels the order, once", atCompleted, expired,
			[]any{comp("InventoryReleased", "CancelOrder")}, []string{"CancelOrder"}},
		{"an expiry after completion twice changes nothing", append(append([]any{}, atCompleted...), comp("InventoryReleased", "CancelOrder")), expired, nil, nil},
		{"another release after completion changes nothing", atCompleted, with(expired, func(r *Reply) { r.Reason = "ORDER_CANCELLED" }), nil, nil},
		{"an expiry after a failure changes nothing", append(append([]any{}, atAuthorize...), failedAuthTO), expired, nil, nil},
		{"a reply of an unknown checkout changes nothing", nil, replyOf("InventoryReserved"), nil, nil},
		{"a reply of a later step changes nothing", atReserve, succeeded, nil, nil},

		// deadlines
		{"deadline not due changes nothing", atReserve, notDue, nil, nil},
		{"reservation timed out: release, fail", atReserve, due,
			[]any{StepTimedOutV1{CheckoutID: cid, Step: StepReserveInventory, Deadline: t0.Add(tout), At: due.Now},
				CompensationSentV1{CheckoutID: cid, Commands: []string{"ReleaseInventory"}, At: due.Now},
				CheckoutFailedV1{CheckoutID: cid, CartID: "cart1", CustomerID: "cu1", Reason: ReasonInsufficientStock, Step: StepReserveInventory, FailedAt: due.Now}},
			[]string{"ReleaseInventory"}},
		{"authorization timed out: void, release, fail", atAuthorize, due,
			[]any{StepTimedOutV1{CheckoutID: cid, Step: StepAuthorizePayment, Deadline: t0.Add(tout), At: due.Now},
				CompensationSentV1{CheckoutID: cid, Commands: []string{"ReleaseInventory", "VoidPayment"}, At: due.Now},
				CheckoutFailedV1{CheckoutID: cid, CartID: "cart1", CustomerID: "cu1", Reason: ReasonPaymentError, Step: StepAuthorizePayment, FailedAt: due.Now}},
			[]string{"ReleaseInventory", "VoidPayment"}},
		{"order creation timed out: void, release, cancel, fail", atCreate, due,
			[]any{StepTimedOutV1{CheckoutID: cid, Step: StepCreateOrder, Deadline: t0.Add(tout), At: due.Now},
				CompensationSentV1{CheckoutID: cid, Commands: []string{"ReleaseInventory", "VoidPayment", "CancelOrder"}, At: due.Now},
				CheckoutFailedV1{CheckoutID: cid, CartID: "cart1", CustomerID: "cu1", Reason: ReasonPaymentError, Step: StepCreateOrder, FailedAt: due.Now}},
			[]string{"ReleaseInventory", "VoidPayment", "CancelOrder"}},
		{"capture timed out: void, release, cancel, fail", atCapture, due,
			[]any{StepTimedOutV1{CheckoutID: cid, Step: StepCapturePayment, Deadline: t0.Add(tout), At: due.Now},
				CompensationSentV1{CheckoutID: cid, Commands: []string{"ReleaseInventory", "VoidPayment", "CancelOrder"}, At: due.Now},
				CheckoutFailedV1{CheckoutID: cid, CartID: "cart1", CustomerID: "cu1", Reason: ReasonPaymentError, Step: StepCapturePayment, OrderID: ord, FailedAt: due.Now}},
			[]string{"ReleaseInventory", "VoidPayment", "CancelOrder"}},
		{"confirmation timed out: void, release, cancel, fail", atConfirm, due,
			[]any{StepTimedOutV1{CheckoutID: cid, Step: StepConfirmOrder, Deadline: t0.Add(tout), At: due.Now},
				CompensationSentV1{CheckoutID: cid, Commands: []string{"ReleaseInventory", "VoidPayment", "CancelOrder"}, At: due.Now},
				CheckoutFailedV1{CheckoutID: cid, CartID: "cart1", CustomerID: "cu1", Reason: ReasonPaymentError, Step: StepConfirmOrder, OrderID: ord, FailedAt: due.Now}},
			[]string{"ReleaseInventory", "VoidPayment", "CancelOrder"}},
		{"deadline of a completed saga changes nothing", atCompleted, due, nil, nil},

		// late replies after a timeout
		{"late reservation is released", append(append([]any{}, atReserve...), StepTimedOutV1{Step: StepReserveInventory}, failedReserveTO),
			replyOf("InventoryReserved"), []any{comp("InventoryReserved", "ReleaseInventory")}, []string{"ReleaseInventory"}},
		{"late reservation twice is released once", append(append([]any{}, atReserve...), failedReserveTO, comp("InventoryReserved", "ReleaseInventory")),
			replyOf("InventoryReserved"), nil, nil},
		{"late authorization is voided", append(append([]any{}, atAuthorize...), failedAuthTO), authOK,
			[]any{comp("PaymentAuthorized", "VoidPayment")}, []string{"VoidPayment"}},
		{"late authorization of another payment changes nothing", append(append([]any{}, atAuthorize...), failedAuthTO),
			with(authOK, func(r *Reply) { r.PaymentID = "other" }), nil, nil},
		{"late order is cancelled", append(append([]any{}, atCreate...), failedCreateTO), orderCreated,
			[]any{comp("OrderCreated", "CancelOrder")}, []string{"CancelOrder"}},
		{"late decline after a timeout changes nothing", append(append([]any{}, atAuthorize...), failedAuthTO), declined, nil, nil},
		{"late unavailable after a timeout changes nothing", append(append([]any{}, atReserve...), failedReserveTO), replyOf("InventoryUnavailable"), nil, nil},
		{"a duplicate reply after completion changes nothing", atCompleted, replyOf("InventoryReserved"), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Saga
			for _, e := range tt.given {
				s = Evolve(s, e)
			}
			d := Decide(s, tt.when)
			if !reflect.DeepEqual(d.Events, tt.events) {
				t.Fatalf("events\n got %#v\nwant %#v", d.Events, tt.events)
			}
			var sends []string
			for _, c := range d.Send {
				sends = append(sends, c.Type)
			}
			if !reflect.DeepEqual(sends, tt.sends) {
				t.Fatalf("commands = %v, want %v", sends, tt.sends)
			}
		})
	}
}

// TestSagaCommandPayloads checks the payloads other contexts rely on (docs/messages.md).
func TestSagaCommandPayloads(t *testing.T) {
	evolve := func(events []any) Saga {
		var s Saga
		for _, e := range events {
			s = Evolve(s, e)
		}
		return s
	}
	d := Decide(Saga{}, Start{Cart: cart, Now: t0, StepTimeout: tout, ReservationExpiresAt: t0.Add(time.Hour)})
	if r := d.Send[0].Data.(reserveInventory); r.CheckoutID != cid || len(r.Items) != 1 || r.Items[0] != (itemQty{ProductID: "p1", Quantity: 2}) ||
		r.ExpiresAt != "2026-11-23T13:00:00Z" {
		t.Fatalf("ReserveInventory = %+v", r)
	}
	d = Decide(evolve(atReserve), replyOf("InventoryReserved"))
	if a := d.Send[0].Data.(authorizePayment); a.PaymentID != pay || a.Amount != usd(1800) || a.CustomerID != "cu1" || a.PaymentMethod.Token != "tok_visa" {
		t.Fatalf("AuthorizePayment = %+v", a)
	}
	d = Decide(evolve(atAuthorize), Reply{Type: "PaymentAuthorized", PaymentID: pay, AuthorizationID: "auth1", Now: t1, StepTimeout: tout, NewOrderID: ord})
	if c := d.Send[0].Data.(createOrder); c.OrderID != ord || c.PaymentID != pay || c.PaymentAuthorizationID != "auth1" ||
		c.TotalAmount != usd(1800) || c.Discount != usd(200) || len(c.LineItems) != 1 || c.ShippingAddress.Country != "US" {
		t.Fatalf("CreateOrder = %+v", c)
	}
	d = Decide(evolve(atCreate), Reply{Type: "OrderCreated", OrderID: ord, Now: t1, StepTimeout: tout})
	if c := d.Send[0].Data.(capturePayment); c != (capturePayment{PaymentID: pay, CheckoutID: cid, OrderID: ord}) {
		t.Fatalf("CapturePayment = %+v", c)
	}
	d = Decide(evolve(atCapture), Deadline{Now: t0.Add(tout)})
	if r := d.Send[0].Data.(releaseInventory); r != (releaseInventory{CheckoutID: cid, Reason: "CHECKOUT_FAILED"}) {
		t.Fatalf("ReleaseInventory = %+v", r)
	}
	if v := d.Send[1].Data.(voidPayment); v.PaymentID != pay || v.CheckoutID != cid {
		t.Fatalf("VoidPayment = %+v", v)
	}
	if c := d.Send[2].Data.(cancelOrder); c.OrderID != ord {
		t.Fatalf("CancelOrder = %+v", c)
	}
}

// TestEvolveLeavesItsInputAlone: the saga aggregate caches states, and a
// cached state is the start of later loads, so Evolve must return a new
// state and never change the one it was given (the Late map included).
func TestEvolveLeavesItsInputAlone(t *testing.T) {
	events := append(append([]any{}, atConfirm...), failedCreateTO, comp("PaymentAuthorized", "VoidPayment"),
		comp("OrderCreated", "CancelOrder"), completed)
	var s Saga
	for _, e := range events {
		before := snapshotSaga(t, s)
		next := Evolve(s, e)
		if after := snapshotSaga(t, s); after != before {
			t.Fatalf("Evolve(%T) changed its input:\nbefore %s\nafter  %s", e, before, after)
		}
		s = next
	}
	if !s.Late["PaymentAuthorized"] || !s.Late["OrderCreated"] {
		t.Fatalf("late replies not recorded: %v", s.Late)
	}
}

func snapshotSaga(t *testing.T, s Saga) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// An order cancelled because its reservation expired says so (OUT_OF_STOCK),
// under the saga and after it; a failed payment's stays PAYMENT_FAILED.
func TestExpiryCancelsOrderOutOfStock(t *testing.T) {
	expired := with(replyOf("InventoryReleased"), func(r *Reply) { r.Reason = "EXPIRED" })
	payErr := with(replyOf("PaymentFailed"), func(r *Reply) { r.PaymentID, r.Reason = pay, "payment_error" })
	for _, tc := range []struct {
		given []any
		when  Reply
		want  string
	}{
		{atCapture, expired, "OUT_OF_STOCK"},
		{atCompleted, expired, "OUT_OF_STOCK"},
		{atCapture, payErr, "PAYMENT_FAILED"},
	} {
		var s Saga
		for _, e := range tc.given {
			s = Evolve(s, e)
		}
		var got []string
		for _, c := range Decide(s, tc.when).Send {
			if c.Type == "CancelOrder" {
				got = append(got, c.Data.(cancelOrder).Reason)
			}
		}
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s at %s: CancelOrder reasons %v, want %s", tc.when.Type, s.Status+"/"+s.Step, got, tc.want)
		}
	}
}
