// Package reviews is the Reviews & Ratings context: customers review products
// they may have bought, reviews are moderated, and published reviews are
// aggregated into a product rating served from the rating cache.
//
// Language:
//   - Review: one customer's rating (1–5), title and body for one product; stream
//     "review-<reviewId>". One review per customer and product, enforced by a
//     reservation stream "reviewer-<productId>-<customerId>" appended with
//     es.NoStream in the same commit (race-free uniqueness).
//   - Moderation: the moderation worker screens a review when it is submitted and
//     when it is flagged. Screening is a pure policy (Screen): a link or a word
//     from the moderation list holds the review for an admin (PENDING_MODERATION);
//     anything else is published. The worker runs in the submit command path, so
//     the response can tell the customer the outcome at once.
//   - Flags: each customer may flag a published review once; the third flag from
//     different customers takes it back to moderation (ReviewReturnedToModeration).
//   - Rating: the rating aggregator (a consumer of this context's own
//     ReviewPublished / ReviewUnpublished events) keeps one stream per product,
//     "rating-<productId>", and emits RatingUpdated (average with two decimals,
//     count of published reviews). The rating cache is a read model of
//     RatingUpdated: Redis in server mode, in-process in the embedded default,
//     rebuilt from the log at start and read-through on a miss (so a Redis flush
//     never changes an answer).
//
// Messages in: SubmitReview, FlagReview, VoteReviewHelpful, ApproveReview,
// RejectReview (HTTP); ProductCreated, ProductDeactivated (catalog) and
// OrderDelivered (ordering, for verifiedPurchase).
// Messages out: ReviewSubmitted, ReviewPublished, ReviewRejected, ReviewFlagged,
// ReviewReturnedToModeration, ReviewHelpfulVoted, RatingUpdated.
package reviews
