package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func TestLoadgenRefuses(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"loadgen"}, nil, "ACME_ADMIN_TOKEN"},
		{[]string{"loadgen", "--server", "http://example.com:8080"}, map[string]string{"ACME_ADMIN_TOKEN": "x"}, "--allow-remote"},
		{[]string{"loadgen", "--server", "http://127.0.0.1:1", "--customers", "0"}, map[string]string{"ACME_ADMIN_TOKEN": "x"}, "customers"},
		{[]string{"loadgen", "extra"}, map[string]string{"ACME_ADMIN_TOKEN": "x"}, "no arguments"},
	} {
		var stderr bytes.Buffer
		code := run(context.Background(), c.args, env(c.env), io.Discard, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
}
