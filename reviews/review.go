package reviews

import (
	"acme"
	"acme/es"
)

// Review is the state of one review stream.
type Review struct {
	ID         string
	ProductID  string
	CustomerID string
	Rating     int
	Title      string
	Body       string
	Status     string
	Verified   bool
	Flaggers   map[string]bool // customers who flagged it since it was last published
	Voters     map[string]bool
	Helpful    int
}

// Verdict is the moderation worker's decision on a review's text.
type Verdict struct {
	Outcome string // StatusPublished or StatusPending
}

// Commands of the review aggregate. Times and screening results are given, not
// computed, so the decider stays pure.
type (
	submitReview struct {
		SubmitReviewV1
		Verified bool
		Verdict  Verdict
		At       string
	}
	flagReview struct {
		By, Reason, At string
	}
	voteHelpful struct {
		By, At string
	}
	approveReview struct{ At string }
	rejectReview  struct{ Reason, At string }
)

// flagsToRemoderate is how many different customers' flags send a published
// review back to moderation.
const flagsToRemoderate = 3

var reviewDecider = es.Decider[Review, any]{
	Decide: decideReview,
	Evolve: evolveReview,
}

func notFound() error { return acme.Errorf(acme.CodeNotFound, "review not found") }

func decideReview(r Review, cmd any) ([]any, error) {
	switch c := cmd.(type) {
	case submitReview:
		if r.ID != "" {
			return nil, acme.Errorf("already_reviewed", "this review already exists")
		}
		evs := []any{ReviewSubmittedV1{ReviewID: c.ReviewID, ProductID: c.ProductID, CustomerID: c.CustomerID,
			Rating: c.Rating, Title: c.Title, Body: c.Body, VerifiedPurchase: c.Verified, SubmittedAt: c.At}}
		switch c.Verdict.Outcome {
		case StatusPublished:
			evs = append(evs, ReviewPublishedV1{ReviewID: c.ReviewID, ProductID: c.ProductID, CustomerID: c.CustomerID,
				Rating: c.Rating, PublishedAt: c.At, By: "moderation-worker"})
		}
		return evs, nil
	case flagReview:
		if r.ID == "" || r.Status != StatusPublished {
			return nil, notFound() // only published reviews are visible, so only they can be flagged
		}
		if r.Flaggers[c.By] {
			return nil, acme.Errorf("already_flagged", "you have already flagged this review")
		}
		n := len(r.Flaggers) + 1
		evs := []any{ReviewFlaggedV1{ReviewID: r.ID, ProductID: r.ProductID, FlaggedBy: c.By, Reason: c.Reason, FlagCount: n, FlaggedAt: c.At}}
		if n >= flagsToRemoderate {
			evs = append(evs, ReviewReturnedToModerationV1{ReviewID: r.ID, ProductID: r.ProductID, CustomerID: r.CustomerID,
				Rating: r.Rating, Reason: "flagged", At: c.At})
		}
		return evs, nil
	case voteHelpful:
		if r.ID == "" || r.Status != StatusPublished {
			return nil, notFound()
		}
		if c.By == r.CustomerID {
			return nil, acme.Errorf(acme.CodeForbidden, "you cannot vote for your own review")
		}
		if r.Voters[c.By] {
			return nil, acme.Errorf("already_voted", "you have already marked this review helpful")
		}
		return []any{ReviewHelpfulVotedV1{ReviewID: r.ID, ProductID: r.ProductID, VoterID: c.By, HelpfulCount: r.Helpful + 1, UpdatedAt: c.At}}, nil
	case approveReview:
		if r.ID == "" {
			return nil, notFound()
		}
		if r.Status != StatusPending {
			return nil, acme.Errorf(acme.CodeInvalidTransition, "a %s review cannot be approved", r.Status)
		}
		return []any{ReviewPublishedV1{ReviewID: r.ID, ProductID: r.ProductID, CustomerID: r.CustomerID, Rating: r.Rating, PublishedAt: c.At, By: "admin"}}, nil
	case rejectReview:
		if r.ID == "" {
			return nil, notFound()
		}
		if r.Status != StatusPending {
			return nil, acme.Errorf(acme.CodeInvalidTransition, "a %s review cannot be rejected", r.Status)
		}
		reason := c.Reason
		if reason == "" {
			reason = "policy_violation"
		}
		return []any{ReviewRejectedV1{ReviewID: r.ID, ProductID: r.ProductID, Reason: reason, RejectedAt: c.At, By: "admin"}}, nil
	}
	return nil, acme.Errorf(acme.CodeBadRequest, "unknown review command %T", cmd)
}

func evolveReview(r Review, event any) Review {
	switch e := event.(type) {
	case ReviewSubmittedV1:
		r = Review{ID: e.ReviewID, ProductID: e.ProductID, CustomerID: e.CustomerID, Rating: e.Rating,
			Title: e.Title, Body: e.Body, Status: StatusPending, Verified: e.VerifiedPurchase}
	case ReviewPublishedV1:
		r.Status = StatusPublished
		r.Flaggers = nil // a new round of flags starts at each publication
	case ReviewRejectedV1:
		r.Status = StatusRejected
	case ReviewFlaggedV1:
		r.Flaggers = with(r.Flaggers, e.FlaggedBy)
	case ReviewReturnedToModerationV1:
		r.Status = StatusPending
	case ReviewHelpfulVotedV1:
		r.Voters = with(r.Voters, e.VoterID)
		r.Helpful = e.HelpfulCount
	}
	return r
}

// with returns a copy of set with k added (states are values; never share maps;
// these sets are small: flaggers of one round, voters of one review).
func with(set map[string]bool, k string) map[string]bool {
	out := make(map[string]bool, len(set)+1)
	for x := range set {
		out[x] = true
	}
	out[k] = true
	return out
}
