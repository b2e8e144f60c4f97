package notifications

import "acme/es"

const owner = "notifications"

// NotificationSentV1: a notification left through its channel.
type NotificationSentV1 struct {
	NotificationID string `json:"notificationId"`
	Kind           string `json:"kind"`
	Channel        string `json:"channel"`
	To             string `json:"to"`
	Subject        string `json:"subject"`
	CustomerID     string `json:"customerId,omitempty"`
	FactType       string `json:"factType"`
	FactID         string `json:"factId"`
	SentAt         string `json:"sentAt"`
}

// NotificationSent is declared in the registry.
var NotificationSent = es.Define[NotificationSentV1](es.MessageSpec{
	Name: "NotificationSent", Kind: es.KindEvent, Version: "1.0.0", Owner: owner,
	Producers: []string{owner}, Summary: "A notification was sent to a customer or to operations."})

// Messages implements es.Module.
func (m *Module) Messages() []es.MessageType { return []es.MessageType{NotificationSent} }
