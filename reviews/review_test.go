package reviews

import (
	"reflect"
	"testing"

	"acme"
)

const at = "2026-11-23T12:00:00.000000Z"

func submitted(status string) []any {
	evs := []any{ReviewSubmittedV1{ReviewID: "r1", ProductID: "p1", CustomerID: "c1", Rating: 4, Title: "t", Body: "b", SubmittedAt: at}}
	if status == StatusPublished {
		evs = append(evs, ReviewPublishedV1{ReviewID: "r1", ProductID: "p1", CustomerID: "c1", Rating: 4, PublishedAt: at, By: "moderation-worker"})
	}
	return evs
}

func flaggedBy(n int, who ...string) []any {
	var evs []any
	for i, c := range who {
		evs = append(evs, ReviewFlaggedV1{ReviewID: "r1", ProductID: "p1", FlaggedBy: c, Reason: "spam", FlagCount: n + i, FlaggedAt: at})
	}
	return evs
}

func concat(xs ...[]any) []any {
	var out []any
	for _, x := range xs {
		out = append(out, x...)
	}
	return out
}

func TestReviewDecider(t *testing.T) {
	sub := SubmitReviewV1{ReviewID: "r1", ProductID: "p1", CustomerID: "c1", Rating: 4, Title: "t", Body: "b"}
	tests := []struct {
		name     string
		given    []any
		when     any
		then     []any
		wantCode string
	}{
		{"clean review is published at once", nil, submitReview{SubmitReviewV1: sub, Verdict: Verdict{Outcome: StatusPublished}, At: at},
			submitted(StatusPublished), ""},
		{"held review only submitted", nil, submitReview{SubmitReviewV1: sub, Verdict: Verdict{Outcome: StatusPending}, At: at},
			submitted(StatusPending), ""},
		{"first flag", submitted(StatusPublished), flagReview{By: "c2", Reason: "spam", At: at}, flaggedBy(1, "c2"), ""},
		{"same customer flags twice", concat(submitted(StatusPublished), flaggedBy(1, "c2")), flagReview{By: "c2", Reason: "spam", At: at}, nil, "already_flagged"},
		{"third flag returns to moderation", concat(submitted(StatusPublished), flaggedBy(1, "c2", "c3")), flagReview{By: "c4", Reason: "abuse", At: at},
			[]any{ReviewFlaggedV1{ReviewID: "r1", ProductID: "p1", FlaggedBy: "c4", Reason: "abuse", FlagCount: 3, FlaggedAt: at},
				ReviewReturnedToModerationV1{ReviewID: "r1", ProductID: "p1", CustomerID: "c1", Rating: 4, Reason: "flagged", At: at}}, ""},
		{"the author may flag their own review (the contract's flag has no such refusal)", submitted(StatusPublished), flagReview{By: "c1", Reason: "spam", At: at}, flaggedBy(1, "c1"), ""},
		{"the author votes for their own review", submitted(StatusPublished), voteHelpful{By: "c1", At: at}, nil, acme.CodeForbidden},
		{"flag a held review is not found", submitted(StatusPending), flagReview{By: "c2", Reason: "spam", At: at}, nil, acme.CodeNotFound},
		{"flag an unknown review", nil, flagReview{By: "c2", Reason: "spam", At: at}, nil, acme.CodeNotFound},
		{"flags start over after re-approval", concat(submitted(StatusPublished), flaggedBy(1, "c2", "c3", "c4"),
			[]any{ReviewReturnedToModerationV1{ReviewID: "r1"}, ReviewPublishedV1{ReviewID: "r1", By: "admin"}}),
			flagReview{By: "c2", Reason: "spam", At: at}, flaggedBy(1, "c2"), ""},
		{"approve held", submitted(StatusPending), approveReview{At: at},
			[]any{ReviewPublishedV1{ReviewID: "r1", ProductID: "p1", CustomerID: "c1", Rating: 4, PublishedAt: at, By: "admin"}}, ""},
		{"approve published", submitted(StatusPublished), approveReview{At: at}, nil, acme.CodeInvalidTransition},
		{"reject held", submitted(StatusPending), rejectReview{At: at},
			[]any{ReviewRejectedV1{ReviewID: "r1", ProductID: "p1", Reason: "policy_violation", RejectedAt: at, By: "admin"}}, ""},
		{"reject published", submitted(StatusPublished), rejectReview{At: at}, nil, acme.CodeInvalidTransition},
		{"reject unknown", nil, rejectReview{At: at}, nil, acme.CodeNotFound},
		{"helpful vote", submitted(StatusPublished), voteHelpful{By: "c2", At: at},
			[]any{ReviewHelpfulVotedV1{ReviewID: "r1", ProductID: "p1", VoterID: "c2", HelpfulCount: 1, UpdatedAt: at}}, ""},
		{"helpful vote twice", concat(submitted(StatusPublished), []any{ReviewHelpfulVotedV1{ReviewID: "r1", VoterID: "c2", HelpfulCount: 1}}),
			voteHelpful{By: "c2", At: at}, nil, "already_voted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st Review
			for _, e := range tt.given {
				st = evolveReview(st, e)
			}
			got, err := decideReview(st, tt.when)
			if code := acme.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("error code = %q (%v); want %q", code, err, tt.wantCode)
			}
			if !reflect.DeepEqual(got, tt.then) {
				t.Fatalf("events =\n%#v\nwant\n%#v", got, tt.then)
			}
		})
	}
}

func TestRatingDecider(t *testing.T) {
	var p ProductRating
	apply := func(c ratingChange) RatingUpdatedV1 {
		t.Helper()
		evs, err := decideRating(p, c)
		if err != nil || len(evs) != 1 {
			t.Fatalf("decide = %v, %v; want one RatingUpdated", evs, err)
		}
		p = evolveRating(p, evs[0])
		return evs[0].(RatingUpdatedV1)
	}
	for _, r := range []int{5, 4, 4} {
		apply(ratingChange{ProductID: "p", Rating: r, Publish: true, At: at})
	}
	got := apply(ratingChange{ProductID: "p", Rating: 4, Publish: true, At: at})
	if got.AverageRating != 4.25 || got.ReviewCount != 4 || got.Version != 4 || got.RatingSum != 17 {
		t.Fatalf("rating = %+v; want 4.25 over 4 reviews at version 4", got)
	}
	if got := apply(ratingChange{ProductID: "p", Rating: 5, Publish: false, At: at}); got.AverageRating != 4 || got.ReviewCount != 3 {
		t.Fatalf("after unpublishing the 5, rating = %+v; want 4.00 over 3", got)
	}
	for _, r := range []int{4, 4, 4} {
		apply(ratingChange{ProductID: "p", Rating: r, Publish: false, At: at})
	}
	if p.Count != 0 || p.Sum != 0 {
		t.Fatalf("after unpublishing all, state = %+v", p)
	}
	if evs, _ := decideRating(p, ratingChange{ProductID: "p", Rating: 3, Publish: false}); evs != nil {
		t.Fatalf("unpublishing from an empty rating emitted %v; want nothing", evs)
	}
}

func TestAverageRoundsHalfUp(t *testing.T) {
	for _, tt := range []struct {
		sum, n int
		want   float64
	}{{13, 3, 4.33}, {14, 3, 4.67}, {9, 2, 4.5}, {1, 8, 0.13}, {0, 0, 0}, {5, 1, 5}, {11, 8, 1.38}} {
		if got := Average(tt.sum, tt.n); got != tt.want {
			t.Errorf("Average(%d, %d) = %v; want %v", tt.sum, tt.n, got, tt.want)
		}
	}
}

func TestScreen(t *testing.T) {
	p := NewPolicy([]string{"scam"})
	for _, tt := range []struct {
		title, body string
		want        string
	}{
		{"Great", "Works as described, 10/10.", StatusPublished},
		{"Great", "see https://example.com for more", StatusPending},
		{"Great", "buy at www.cheap-stuff.example now", StatusPending},
		{"Total SCAM", "never again", StatusPending},
		{"Scammer", "words only match whole", StatusPublished},
		{"ＳＣＡＭ fullwidth", "never again", StatusPending},
		{"Great", "buy at ｗｗｗ．ｃｈｅａｐ．ｅｘａｍｐｌｅ now", StatusPending},
		{"Great", "more at bit.ly/abc123", StatusPending},
		{"Great", "order from shop.example.de instead", StatusPending},
		{"Great", `<a href="x">here</a>`, StatusPending},
		{"Great", "mirror at ftp://files.example.org/pub", StatusPending},
		{"Great", "write to mailto:someone", StatusPending},
		{"Great", "Cheap-Stuff.COM has it", StatusPending},
		{"Solid", "Works great.It is sturdy, e.g. on stairs; i.e. a 5/5. Battery 3.5 hours.", StatusPublished},
		{"Solid", "Size M.So comfy, as good as v2.0 was.", StatusPublished},
		{"Solid", "Great fun.Store it dry, live.Win-win.", StatusPublished},
		// what shows as a listed word is one
		{"ok", "this is a sc\u200bam", StatusPending},
		{"ok", "SC\u00adAM and sc\u2060am", StatusPending},
		{"ok", "sc\u0430m", StatusPending},      // Cyrillic а
		{"ok", "s\u0441\u0430m", StatusPending}, // Cyrillic с and а
		{"ok", "s\u0441\u00e1m", StatusPending}, // mixed scripts: accents dropped too
		// links without //, by address, in other scripts, with other dots
		{"ok", "click javascript:alert(1)", StatusPending},
		{"ok", "data:text/html;base64,PGI+", StatusPending},
		{"ok", "call tel:+15551234", StatusPending},
		{"ok", "magnet:?xt=urn:btih:abc", StatusPending},
		{"ok", "log in at 192.168.1.10/login", StatusPending},
		{"ok", "buy at \u043c\u0430\u0433\u0430\u0437\u0438\u043d.com or \u4f8b\u5b50.com", StatusPending},
		{"ok", "see xn--e1afmkfd.xn--p1ai", StatusPending},
		{"ok", "see localhost:8080/x", StatusPending},
		{"ok", "see \u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444 now", StatusPending},
		{"ok", "evil.\u200bcom and evil\u3002com", StatusPending},
		// and what is not
		{"Solid", "Battery data: great. Note: version 1.2.3 works; 5 stars.", StatusPublished},
		{"Solid", "Хорошо. Очень удобно, сам проверил.", StatusPublished},
		// words of one script are words: no look-alike or accent folding
		{"Solid", "J'ai h\u00e2te de l'essayer. R\u1ed1i lo\u1ea1n? No. Mor\u00f3n lo dijo. \u043d\u0430\u0442\u0435", StatusPublished},
		{"Solid", "最高です。みんな、買って！质量很好。公司，服务也好。我买了iPhone。App很好用。좋아요.한국! цв.бел.", StatusPublished},
		{"Solid", "JavaScript: The Good Parts. Version 1.2.3.4 fixed it; a 10.0.0.1 router; call 06.12.34.56.78; 1.234.567.890 units; 10:30", StatusPublished},
	} {
		if got := p.Screen(tt.title, tt.body).Outcome; got != tt.want {
			t.Errorf("Screen(%q, %q) = %s; want %s", tt.title, tt.body, got, tt.want)
		}
	}
}

func TestParseRating(t *testing.T) {
	for raw, want := range map[string]bool{`5`: true, `1`: true, `0`: false, `6`: false, `4.5`: false, `"5"`: false, `null`: false, ``: false, `3.0`: true, `4e0`: true, `5.000001`: false, `1e400`: false, `-0`: false} {
		if _, ok := parseRating([]byte(raw)); ok != want {
			t.Errorf("parseRating(%s) ok = %v; want %v", raw, ok, want)
		}
	}
}
