package reviews

import (
	_ "embed"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

//go:embed moderation.txt
var defaultModerationList string

// DefaultModerationWords is the moderation list shipped in the repo
// (reviews/moderation.txt): one word per line, # for comments.
func DefaultModerationWords() []string { return ParseWordList(defaultModerationList) }

// ParseWordList reads a word list: one word per line, blank lines and # comments ignored.
func ParseWordList(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.ToLower(line))
	}
	return out
}

// Policy is the moderation worker's screening policy.
type Policy struct {
	words map[string]bool
}

// NewPolicy returns a policy holding reviews with any of words for moderation.
func NewPolicy(words []string) Policy {
	p := Policy{words: map[string]bool{}}
	for _, w := range words {
		p.words[strings.ToLower(norm.NFKC.String(w))] = true
	}
	return p
}

// linkPattern finds a link: a URL with any scheme (https://, ftp://), mailto:,
// an HTML anchor, www., or a bare host name ending in a common top-level
// domain (bit.ly/x, shop.example.de). Domains that are also English words
// (at, be, in, is, it, me, no, so, to, us, fun, live, store, win, ...) are
// left out, so that "works great.It is" or "fun.Store it dry" is not a link.
var linkPattern = regexp.MustCompile(`(?i)(\b[a-z][a-z0-9+.-]*://|\bmailto:|<a\s|\bhref\s*=|\bwww\.|` +
	`\b[a-z0-9-]+\.(com|net|org|io|ru|biz|info|xyz|co|shop|top|app|dev|vip|icu|` +
	`de|uk|fr|es|nl|eu|ca|au|ly|gl|ch|pl|se|dk|fi|pt|br|mx|cn|jp|kr|tk|ml|ga|cf|gq|pw|cc|ws|su|ai|gg|tv|fm)\b)`)

// Screen decides what happens to a submitted review's text: the contract's
// rule, held for moderation or published at once. The catalog's "duplicates an
// existing submission" is the one-review-per-customer-and-product rule
// (409 already_reviewed); the same text on another product is published, as
// the contract's 201 offers no third outcome.
func (p Policy) Screen(title, body string) Verdict {
	// NFKC first: fullwidth or otherwise compatible letters (ＳＣＡＭ,
	// ｗｗｗ．ｘ．ｃｏｍ) read as the plain ones they stand for.
	text := norm.NFKC.String(title + "\n" + body)
	if linkPattern.MatchString(text) {
		return Verdict{Outcome: StatusPending}
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if p.words[w] {
			return Verdict{Outcome: StatusPending}
		}
	}
	return Verdict{Outcome: StatusPublished}
}
