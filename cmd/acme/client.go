package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"acme/app"
	"acme/msgschema"
)

// client runs the verbs that talk to a running server as the admin.
func client(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	verb := args[0]
	fs := flag.NewFlagSet("acme "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := getenv("ACME_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	fs.StringVar(&server, "server", server, "`URL` of the running server (ACME_SERVER)")
	status := fs.String("status", "", "only sagas with this status (acme sagas)")
	rest, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return 2
	}
	token := getenv("ACME_ADMIN_TOKEN")
	if token == "" {
		fmt.Fprintln(stderr, "acme: set ACME_ADMIN_TOKEN to the server's admin token")
		return 2
	}
	var method, path string
	switch {
	case verb == "events" && len(rest) == 1:
		method, path = "GET", "/api/v1/admin/streams/"+url.PathEscape(rest[0])+"/events"
	case verb == "projections" && len(rest) == 0:
		method, path = "GET", "/api/v1/admin/projections"
	case verb == "projections" && len(rest) == 2 && rest[0] == "rebuild":
		method, path = "POST", "/api/v1/admin/projections/"+url.PathEscape(rest[1])+"/rebuild"
	case verb == "consumers" && len(rest) == 0:
		method, path = "GET", "/api/v1/admin/consumers"
	case verb == "sagas" && len(rest) == 0:
		method, path = "GET", "/api/v1/admin/sagas"
		if *status != "" {
			path += "?status=" + url.QueryEscape(*status)
		}
	case verb == "dlq" && len(rest) == 0:
		method, path = "GET", "/api/v1/admin/dead-letters"
	case verb == "dlq" && len(rest) == 2 && rest[0] == "retry":
		method, path = "POST", "/api/v1/admin/dead-letters/"+url.PathEscape(rest[1])+"/retry"
	default:
		fmt.Fprintf(stderr, "acme %s: unexpected arguments %q\n\n%s", verb, rest, usage)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var body io.Reader
	if method == "POST" {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(server, "/")+path, body)
	if err != nil {
		fmt.Fprintf(stderr, "acme: %v\n", err)
		return 2
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "acme: %v (is the server running at %s?)\n", err, server)
		return 1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var pretty bytes.Buffer
	if json.Indent(&pretty, b, "", "  ") == nil {
		b = append(pretty.Bytes(), '\n')
	}
	if resp.StatusCode >= 300 {
		fmt.Fprintf(stderr, "acme: %s %s: %s\n%s", method, path, resp.Status, b)
		return 1
	}
	if len(bytes.TrimSpace(b)) == 0 {
		fmt.Fprintln(stdout, resp.Status)
		return 0
	}
	_, _ = stdout.Write(b)
	return 0
}

// parseInterspersed parses fs's flags wherever they stand among the
// positional arguments (acme events STREAM --server URL), which it returns;
// after "--" everything is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		left := fs.Args()
		if i := len(args) - len(left) - 1; i >= 0 && args[i] == "--" {
			return append(rest, left...), nil // Parse stopped at the terminator
		}
		if len(left) == 0 {
			return rest, nil
		}
		rest, args = append(rest, left[0]), left[1:]
	}
}

// catalogCmd: acme catalog export DIR (no server needed: the registry is built
// from the compiled-in modules).
func catalogCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 || args[0] != "export" {
		fmt.Fprintf(stderr, "usage: acme catalog export DIR\n")
		return 2
	}
	a, err := app.New(app.Config{})
	if err != nil {
		fmt.Fprintf(stderr, "acme catalog: %v\n", err)
		return 1
	}
	if err := msgschema.Export(args[1], a.Registry(), version); err != nil {
		fmt.Fprintf(stderr, "acme catalog export: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %d messages to %s (EventCatalog directory and asyncapi.json)\n", len(a.Registry().All()), args[1])
	return 0
}
