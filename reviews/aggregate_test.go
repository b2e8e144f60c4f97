package reviews

import (
	"context"
	"path/filepath"
	"testing"

	"acme/es"
	"acme/es/estest"
	"acme/sqlite"
)

// aloneRegistry declares m's messages and stand-ins, with their owners'
// names, for the foreign messages it consumes: the reviews context runs
// without the contexts that own them.
func aloneRegistry(tb testing.TB, m *Module) *es.Registry {
	tb.Helper()
	type productCreated struct{}
	type productDeactivated struct{}
	type orderDelivered struct{}
	reg, err := es.NewRegistry(append(m.Messages(),
		es.Define[productCreated](es.MessageSpec{Name: "ProductCreated", Kind: es.KindEvent, Owner: "catalog"}),
		es.Define[productDeactivated](es.MessageSpec{Name: "ProductDeactivated", Kind: es.KindEvent, Owner: "catalog"}),
		es.Define[orderDelivered](es.MessageSpec{Name: "OrderDelivered", Kind: es.KindEvent, Owner: "ordering"}))...)
	if err != nil {
		tb.Fatal(err)
	}
	return reg
}

// A batch of the rating aggregator: changes to one product decided in
// order on one load, other products beside it, one RatingUpdated per change
// carrying its own message's correlation and causation, all in one commit.
func TestAggregateRatingsBatch(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "reviews.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := New(Config{})
	if err := m.Start(ctx, estest.NewHost("reviews", st, aloneRegistry(t, m))); err != nil {
		t.Fatal(err)
	}
	msg := func(typ, product string, rating int, corr string) es.Message {
		var data any = ReviewPublishedV1{ReviewID: estest.NewID(), ProductID: product, CustomerID: "c", Rating: rating, PublishedAt: at, By: "admin"}
		if typ == ReviewReturnedToModeration.Name() {
			data = ReviewReturnedToModerationV1{ReviewID: estest.NewID(), ProductID: product, CustomerID: "c", Rating: rating, Reason: "flagged", At: at}
		}
		mm := estest.Message(t, typ, "", data)
		mm.Metadata.CorrelationID = corr
		return mm
	}
	msgs := []es.Message{
		msg(ReviewPublished.Name(), "p1", 5, "a"),
		msg(ReviewPublished.Name(), "p2", 3, "b"),
		msg(ReviewPublished.Name(), "p1", 4, "c"),
		msg(ReviewReturnedToModeration.Name(), "p1", 5, "d"),
	}
	cm, err := m.aggregateRatings(ctx, msgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(cm.Appends) != 2 {
		t.Fatalf("%d appends, want one per product", len(cm.Appends))
	}
	for _, mm := range msgs {
		cm.InboxIDs = append(cm.InboxIDs, "reviews.rating-aggregator/"+mm.ID)
	}
	if _, err := st.Commit(ctx, cm); err != nil {
		t.Fatal(err)
	}
	type want struct {
		avg          float64
		count        int
		version      int64
		corr, causer string
	}
	check := func(product string, ws []want) {
		t.Helper()
		evs, err := st.ReadStream(ctx, "rating-"+product, es.StreamQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != len(ws) {
			t.Fatalf("%s: %d events, want %d", product, len(evs), len(ws))
		}
		for i, e := range evs {
			v, err := RatingUpdated.Decode(e)
			if err != nil {
				t.Fatal(err)
			}
			w := ws[i]
			if v.AverageRating != w.avg || v.ReviewCount != w.count || v.Version != w.version ||
				e.Metadata.CorrelationID != w.corr || e.Metadata.CausationID != w.causer {
				t.Fatalf("%s event %d: %+v (corr %q, cause %q); want %+v", product, i, v, e.Metadata.CorrelationID, e.Metadata.CausationID, w)
			}
		}
	}
	check("p1", []want{{5, 1, 1, "a", msgs[0].ID}, {4.5, 2, 2, "c", msgs[2].ID}, {4, 1, 3, "d", msgs[3].ID}})
	check("p2", []want{{3, 1, 1, "b", msgs[1].ID}})
}
