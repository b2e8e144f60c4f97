package reviews

import "acme/es"

const owner = "reviews"

// Review statuses.
const (
	StatusPending   = "PENDING_MODERATION"
	StatusPublished = "PUBLISHED"
	StatusRejected  = "REJECTED"
)

// ReviewSubmittedV1: a customer submitted a review; it is stored, and screened.
type ReviewSubmittedV1 struct {
	ReviewID         string `json:"reviewId"`
	ProductID        string `json:"productId"`
	CustomerID       string `json:"customerId"`
	Rating           int    `json:"rating"`
	Title            string `json:"title"`
	Body             string `json:"body"`
	VerifiedPurchase bool   `json:"verifiedPurchase"`
	SubmittedAt      string `json:"submittedAt"`
}

// ReviewPublishedV1: the review is visible on the storefront.
type ReviewPublishedV1 struct {
	ReviewID    string `json:"reviewId"`
	ProductID   string `json:"productId"`
	CustomerID  string `json:"customerId"`
	Rating      int    `json:"rating"`
	PublishedAt string `json:"publishedAt"`
	By          string `json:"by"` // "moderation-worker" or "admin"
}

// ReviewRejectedV1: the review failed moderation and is never shown.
type ReviewRejectedV1 struct {
	ReviewID   string `json:"reviewId"`
	ProductID  string `json:"productId"`
	Reason     string `json:"reason"` // spam, abuse, off_topic, policy_violation
	RejectedAt string `json:"rejectedAt"`
	By         string `json:"by"`
}

// ReviewFlaggedV1: a customer reported a published review.
type ReviewFlaggedV1 struct {
	ReviewID  string `json:"reviewId"`
	ProductID string `json:"productId"`
	FlaggedBy string `json:"flaggedBy"`
	Reason    string `json:"reason"`
	FlagCount int    `json:"flagCount"`
	FlaggedAt string `json:"flaggedAt"`
}

// ReviewReturnedToModerationV1: a published review went back to moderation
// (three flags); it is no longer shown and no longer counts in the rating.
type ReviewReturnedToModerationV1 struct {
	ReviewID   string `json:"reviewId"`
	ProductID  string `json:"productId"`
	CustomerID string `json:"customerId"`
	Rating     int    `json:"rating"`
	Reason     string `json:"reason"`
	At         string `json:"at"`
}

// ReviewHelpfulVotedV1: a customer marked a review helpful.
type ReviewHelpfulVotedV1 struct {
	ReviewID     string `json:"reviewId"`
	ProductID    string `json:"productId"`
	VoterID      string `json:"voterId"`
	HelpfulCount int    `json:"helpfulCount"`
	UpdatedAt    string `json:"updatedAt"`
}

// RatingUpdatedV1: a product's aggregate rating changed.
type RatingUpdatedV1 struct {
	ProductID     string  `json:"productId"`
	AverageRating float64 `json:"averageRating"`
	ReviewCount   int     `json:"reviewCount"`
	RatingSum     int     `json:"ratingSum"` // sum of the published ratings (the aggregate's state)
	Version       int64   `json:"version"`   // the rating's version: caches keep the newest
	UpdatedAt     string  `json:"updatedAt"`
}

// Commands and queries, declared for the catalog (the HTTP API receives them).
type (
	SubmitReviewV1 struct {
		ReviewID   string `json:"reviewId"`
		ProductID  string `json:"productId"`
		CustomerID string `json:"customerId"`
		Rating     int    `json:"rating"`
		Title      string `json:"title"`
		Body       string `json:"body"`
	}
	FlagReviewV1 struct {
		ReviewID  string `json:"reviewId"`
		FlaggedBy string `json:"flaggedBy"`
		Reason    string `json:"reason"`
	}
	VoteReviewHelpfulV1 struct {
		ReviewID string `json:"reviewId"`
		VoterID  string `json:"voterId"`
	}
	ApproveReviewV1 struct {
		ReviewID string `json:"reviewId"`
	}
	RejectReviewV1 struct {
		ReviewID string `json:"reviewId"`
		Reason   string `json:"reason"`
	}
	GetProductReviewsV1 struct {
		ProductID string `json:"productId"`
		Page      int    `json:"page"`
		PageSize  int    `json:"pageSize"`
	}
	GetReviewV1 struct {
		ReviewID string `json:"reviewId"`
	}
	ListReviewsForModerationV1 struct {
		Status   string `json:"status,omitempty"`
		Page     int    `json:"page,omitempty"`
		PageSize int    `json:"pageSize,omitempty"`
	}
)

func spec(name string, kind es.Kind, summary string, producers, consumers []string) es.MessageSpec {
	return es.MessageSpec{Name: name, Kind: kind, Version: "1.0.0", Owner: owner,
		Producers: producers, Consumers: consumers, Summary: summary}
}

var (
	ReviewSubmitted = es.Define[ReviewSubmittedV1](spec("ReviewSubmitted", es.KindEvent,
		"A customer submitted a review; it is stored and screened by the moderation worker.", []string{"reviews"}, []string{"reviews"}))
	ReviewPublished = es.Define[ReviewPublishedV1](spec("ReviewPublished", es.KindEvent,
		"A review passed moderation and is visible on the storefront.", []string{"reviews"}, []string{"reviews"}))
	ReviewRejected = es.Define[ReviewRejectedV1](spec("ReviewRejected", es.KindEvent,
		"A review failed moderation and will not be shown.", []string{"reviews"}, nil))
	ReviewFlagged = es.Define[ReviewFlaggedV1](spec("ReviewFlagged", es.KindEvent,
		"A customer flagged a published review.", []string{"reviews"}, []string{"reviews"}))
	ReviewReturnedToModeration = es.Define[ReviewReturnedToModerationV1](spec("ReviewReturnedToModeration", es.KindEvent,
		"A published review was taken back to moderation after three flags.", []string{"reviews"}, []string{"reviews"}))
	ReviewHelpfulVoted = es.Define[ReviewHelpfulVotedV1](spec("ReviewHelpfulVoted", es.KindEvent,
		"A customer marked a review helpful.", []string{"reviews"}, nil))
	RatingUpdated = es.Define[RatingUpdatedV1](spec("RatingUpdated", es.KindEvent,
		"A product's aggregate rating changed.", []string{"reviews"}, []string{"search"}))

	SubmitReview = es.Define[SubmitReviewV1](spec("SubmitReview", es.KindCommand,
		"Submit a review and rating for a product.", []string{"storefront"}, []string{"reviews"}))
	FlagReview = es.Define[FlagReviewV1](spec("FlagReview", es.KindCommand,
		"Flag a published review for re-moderation.", []string{"storefront"}, []string{"reviews"}))
	VoteReviewHelpful = es.Define[VoteReviewHelpfulV1](spec("VoteReviewHelpful", es.KindCommand,
		"Mark a published review as helpful.", []string{"storefront"}, []string{"reviews"}))
	ApproveReview = es.Define[ApproveReviewV1](spec("ApproveReview", es.KindCommand,
		"An admin publishes a review held for moderation.", []string{"admin"}, []string{"reviews"}))
	RejectReview = es.Define[RejectReviewV1](spec("RejectReview", es.KindCommand,
		"An admin rejects a review held for moderation.", []string{"admin"}, []string{"reviews"}))
	GetProductReviews = es.Define[GetProductReviewsV1](spec("GetProductReviews", es.KindQuery,
		"Published reviews of a product, newest first, with its aggregate rating.", []string{"storefront"}, []string{"reviews"}))
	GetReview = es.Define[GetReviewV1](spec("GetReview", es.KindQuery,
		"One review (GET /api/v1/reviews/{id}): published ones for anyone, any status for its author and admins.", []string{"storefront", "admin"}, []string{"reviews"}))
	ListReviewsForModeration = es.Define[ListReviewsForModerationV1](spec("ListReviewsForModeration", es.KindQuery,
		"Reviews by moderation status (GET /api/v1/admin/reviews).", []string{"admin"}, []string{"reviews"}))
)

// Messages lists every message the reviews context owns.
func (m *Module) Messages() []es.MessageType {
	return []es.MessageType{ReviewSubmitted, ReviewPublished, ReviewRejected, ReviewFlagged,
		ReviewReturnedToModeration, ReviewHelpfulVoted, RatingUpdated,
		ReviewSlotTaken, SubmitReview, FlagReview, VoteReviewHelpful, ApproveReview, RejectReview, GetProductReviews, GetReview, ListReviewsForModeration}
}
