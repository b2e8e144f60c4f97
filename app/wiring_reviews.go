package app

import (
	"net"
	"path/filepath"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"acme/notifications"
	"acme/redis"
	"acme/reviews"
)

// ratingCache is Redis when a Redis URL is configured (keys namespaced by the
// schema prefix, so test runs on one server never meet), else in-process (nil).
func ratingCache(d Deps) reviews.RatingCache {
	c := d.Config
	if c.RedisURL == "" {
		return nil
	}
	opts, err := goredis.ParseURL(c.RedisURL) // Validate already checked the URL
	if err != nil {
		return nil
	}
	client := goredis.NewClient(opts)
	if d.OnClose != nil {
		d.OnClose(client.Close)
	}
	return redis.NewRatingCache(client, "acme:"+c.SchemaPrefix)
}

// notificationsConfig sends email through SMTP when an SMTP server is
// configured, else writes .eml files under <data-dir>/mail.
func notificationsConfig(d Deps) notifications.Config {
	c := d.Config
	cfg := notifications.Config{From: c.SMTPFrom, BaseURL: c.PublicURL, Clock: d.Clock,
		Mailer:   notifications.EMLMailer{Dir: filepath.Join(c.DataDir, "mail")},
		OpsEmail: c.OpsEmail, OpsPhone: c.OpsPhone,
		SlackWebhookURL: c.SlackWebhookURL, SMSWebhookURL: c.SMSWebhookURL}
	if host, port, err := net.SplitHostPort(c.SMTPAddr); err == nil {
		p, _ := strconv.Atoi(port)
		cfg.Mailer = notifications.NewSMTPMailer(notifications.SMTPConfig{Host: host, Port: p,
			Username: c.SMTPUser, Password: c.SMTPPassword})
	}
	return cfg
}
