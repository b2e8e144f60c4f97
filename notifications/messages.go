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

// ListNotificationsV1 is the admin's query of sent notifications (GET
// /api/v1/notifications?customerId=&kind=).
type ListNotificationsV1 struct {
	CustomerID string `json:"customerId,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Page       int    `json:"page,omitempty"`
	PageSize   int    `json:"pageSize,omitempty"`
}

// ListNotifications is declared in the registry.
var ListNotifications = es.Define[ListNotificationsV1](es.MessageSpec{
	Name: "ListNotifications", Kind: es.KindQuery, Version: "1.0.0", Owner: owner,
	Producers: []string{"admin"}, Consumers: []string{owner}, Summary: "The notifications sent, newest first, by customer and kind."})

// NotificationSent is declared in the registry.
var NotificationSent = es.Define[NotificationSentV1](es.MessageSpec{
	Name: "NotificationSent", Kind: es.KindEvent, Version: "1.0.0", Owner: owner,
	Producers: []string{owner}, Summary: "A notification was sent to a customer or to operations."})

// Messages implements es.Module.
func (m *Module) Messages() []es.MessageType {
	return []es.MessageType{NotificationSent, ListNotifications}
}
