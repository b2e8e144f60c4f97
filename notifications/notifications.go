// Package notifications is the notifications context: it tells customers and
// operations about the facts other contexts publish, by email (SMTP, or .eml
// files under the data dir in the embedded default), SMS and Slack (webhooks).
//
// Kinds and the facts they come from (the seeds' integration events):
// customer_registered (CustomerRegistered, with a verification link),
// email_verification (VerificationEmailRequested: a new link), order_placed (OrderCreated, alias OrderPlaced), order_confirmed, order_shipped,
// order_delivered, order_cancelled (ordering), out_of_stock (inventory's
// OutOfStock, for operations: email to the ops address, plus Slack and SMS when
// their webhooks are configured).
//
// Sent once per fact: each notification has an id derived from the fact's
// message id and the channel, and its own stream "notification-<id>". The
// consumer sends only notifications whose stream does not exist yet and records
// NotificationSent right after each send (the last channel's in the fact's own
// commit, with its inbox id: one commit for a one-channel fact), so a
// redelivered fact sends nothing again. The one window no system can close — a crash after the transport
// accepted a message and before its record is durable — is narrowed by
// deterministic message ids: the .eml file of a notification is overwritten, not
// duplicated, and the SMTP Message-ID is the notification id, so receivers can
// drop the copy. A send that fails is retried with backoff by the consumer
// runtime and dead-lettered after the bounded number of deliveries.
package notifications
