package es

import "context"

type metadataKey struct{}

// WithMetadata returns ctx carrying md: the command path copies it into every
// event it appends (HTTP middleware sets correlation id and actor; consumers set
// causation to the message they handle).
func WithMetadata(ctx context.Context, md Metadata) context.Context {
	return context.WithValue(ctx, metadataKey{}, md)
}

// MetadataFrom returns the metadata carried by ctx (zero if none).
func MetadataFrom(ctx context.Context) Metadata {
	md, _ := ctx.Value(metadataKey{}).(Metadata)
	return md
}
