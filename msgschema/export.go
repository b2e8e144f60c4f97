package msgschema

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"acme/es"
)

// Subject is the bus subject of a message (docs/bus.md): events on
// acme.evt.<owner>.<Name>, commands on acme.cmd.<owner>.<Name>; queries are
// answered in-process and internal events stay in their owner's log: none.
func Subject(s es.MessageSpec) string {
	if s.Internal {
		return "" // never on the bus
	}
	switch s.Kind {
	case es.KindEvent:
		return "acme.evt." + s.Owner + "." + s.Name
	case es.KindCommand:
		return "acme.cmd." + s.Owner + "." + s.Name
	}
	return ""
}

// Export writes the catalog of reg into dir as an EventCatalog-style directory
// (events/, commands/, queries/ with index.md + schema.json per message,
// services/ per owning context, domains/acme) and an AsyncAPI 3.0 document
// (asyncapi.json). Existing files are overwritten.
func Export(dir string, reg *es.Registry, version string) error {
	all := reg.All()
	services := map[string]*service{}
	svc := func(name string) *service {
		if services[name] == nil {
			services[name] = &service{name: name}
		}
		return services[name]
	}
	for _, t := range all {
		s := t.Spec()
		folder := map[es.Kind]string{es.KindEvent: "events", es.KindCommand: "commands", es.KindQuery: "queries"}[s.Kind]
		d := filepath.Join(dir, folder, s.Name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		schema, _ := json.MarshalIndent(Schema(t), "", "  ")
		if err := os.WriteFile(filepath.Join(d, "schema.json"), append(schema, '\n'), 0o644); err != nil {
			return err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "---\nid: %s\nname: %s\nversion: %s\nsummary: %q\nowners:\n  - %s\n", s.Name, s.Name, s.Version, s.Summary, s.Owner)
		if subj := Subject(s); subj != "" {
			fmt.Fprintf(&b, "channels:\n  - id: %s\n", subj)
		}
		fmt.Fprintf(&b, "schemaPath: schema.json\n---\n\n%s\n\n", s.Summary)
		fmt.Fprintf(&b, "- kind: %s\n- owner: %s\n- producers: %s\n- consumers: %s\n", s.Kind, s.Owner, list(s.Producers), list(s.Consumers))
		if len(s.Aliases) > 0 {
			fmt.Fprintf(&b, "- also known as: %s\n", strings.Join(s.Aliases, ", "))
		}
		if s.Internal {
			b.WriteString("- internal: kept in the owner's log, never published\n")
		}
		b.WriteString("\n<SchemaViewer file=\"schema.json\" />\n")
		if err := os.WriteFile(filepath.Join(d, "index.md"), []byte(b.String()), 0o644); err != nil {
			return err
		}
		for _, p := range s.Producers {
			svc(p).sends = append(svc(p).sends, s)
		}
		for _, c := range s.Consumers {
			svc(c).receives = append(svc(c).receives, s)
		}
		svc(s.Owner)
	}
	var names []string
	for n := range services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sv := services[n]
		d := filepath.Join(dir, "services", n)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "---\nid: %s\nname: %s\nversion: %s\nsummary: The %s bounded context.\n", n, n, version, n)
		writeRefs(&b, "sends", sv.sends)
		writeRefs(&b, "receives", sv.receives)
		b.WriteString("---\n")
		if err := os.WriteFile(filepath.Join(d, "index.md"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	dd := filepath.Join(dir, "domains", "acme")
	if err := os.MkdirAll(dd, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "---\nid: acme\nname: Acme Commerce\nversion: %s\nsummary: Every bounded context of Acme Commerce.\nservices:\n", version)
	for _, n := range names {
		fmt.Fprintf(&b, "  - id: %s\n", n)
	}
	b.WriteString("---\n")
	if err := os.WriteFile(filepath.Join(dd, "index.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	doc, err := json.MarshalIndent(AsyncAPI(reg, version), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "asyncapi.json"), append(doc, '\n'), 0o644)
}

type service struct {
	name            string
	sends, receives []es.MessageSpec
}

func writeRefs(b *strings.Builder, key string, specs []es.MessageSpec) {
	if len(specs) == 0 {
		return
	}
	fmt.Fprintf(b, "%s:\n", key)
	for _, s := range specs {
		fmt.Fprintf(b, "  - id: %s\n    version: %s\n", s.Name, s.Version)
	}
}

func list(s []string) string {
	if len(s) == 0 {
		return "—"
	}
	return strings.Join(s, ", ")
}

// AsyncAPI returns an AsyncAPI 3.0.0 document of the bus: a channel per event
// and command subject, the owner's send operation (events) or receive
// operation (commands), and every message's payload schema. Messages are
// CloudEvents in binary mode over NATS headers.
func AsyncAPI(reg *es.Registry, version string) map[string]any {
	channels := map[string]any{}
	operations := map[string]any{}
	messages := map[string]any{}
	for _, t := range reg.All() {
		s := t.Spec()
		subj := Subject(s)
		if subj == "" {
			continue
		}
		payload := Schema(t)
		delete(payload, "$schema")
		messages[s.Name] = map[string]any{
			"name":        s.Name,
			"title":       s.Name,
			"summary":     s.Summary,
			"contentType": "application/json",
			"headers": map[string]any{"type": "object", "properties": map[string]any{
				"ce-id": map[string]any{"type": "string"}, "ce-type": map[string]any{"type": "string", "const": s.Name},
				"ce-source": map[string]any{"type": "string", "const": s.Owner}, "ce-specversion": map[string]any{"type": "string", "const": "1.0"},
				"ce-time": map[string]any{"type": "string", "format": "date-time"},
			}},
			"payload":   payload,
			"x-owner":   s.Owner,
			"x-kind":    string(s.Kind),
			"x-version": s.Version,
		}
		ch := strings.ReplaceAll(subj, ".", "_")
		channels[ch] = map[string]any{
			"address":  subj,
			"messages": map[string]any{s.Name: map[string]any{"$ref": "#/components/messages/" + s.Name}},
		}
		action := "send"
		if s.Kind == es.KindCommand {
			action = "receive"
		}
		operations[s.Owner+"_"+action+"_"+s.Name] = map[string]any{
			"action":   action,
			"channel":  map[string]any{"$ref": "#/channels/" + ch},
			"summary":  s.Summary,
			"messages": []any{map[string]any{"$ref": "#/channels/" + ch + "/messages/" + s.Name}},
		}
	}
	return map[string]any{
		"asyncapi": "3.0.0",
		"info": map[string]any{"title": "Acme Commerce messages", "version": version,
			"description": "Commands and events between the bounded contexts, on NATS JetStream as CloudEvents (binary mode)."},
		"defaultContentType": "application/json",
		"channels":           channels,
		"operations":         operations,
		"components":         map[string]any{"messages": messages},
	}
}
