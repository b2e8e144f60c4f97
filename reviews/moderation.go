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
		w = screenText(w)
		p.words[strings.ToLower(w)] = true
		p.words[skeleton(w)] = true
	}
	return p
}

// screenText is text as screening reads it: NFKC (fullwidth and other
// compatible letters read as the plain ones they stand for), without the
// characters that show nothing (zero-width spaces and joiners, soft hyphens,
// variation selectors: "sc\u200bam" is "scam"), and with an ideographic
// full stop between lower-case ASCII letters or digits read as the dot IDNA
// reads it as ("evil。com" is "evil.com"; "最高です。みんな" is a sentence).
func screenText(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) {
			return -1
		}
		return r
	}, norm.NFKC.String(s))
	return ideographicDot.ReplaceAllString(s, "$1.$2")
}

var ideographicDot = regexp.MustCompile(`([a-z0-9-])[\x{3002}\x{FF61}]([a-z0-9])`)

// skeleton is a lower-case word that mixes Latin with Cyrillic or Greek
// letters as it looks: the look-alikes read as Latin ("sсаm" with a
// Cyrillic с and а is "scam") and accents dropped. A word of one script is
// its own skeleton: "hâte", "Morón" and "нате" are words, not disguises.
// A word matches the list when it or its skeleton is on it.
func skeleton(w string) string {
	latin, other := false, false
	for _, r := range w {
		latin = latin || unicode.Is(unicode.Latin, r)
		other = other || unicode.In(r, unicode.Cyrillic, unicode.Greek)
	}
	if !latin || !other {
		return strings.ToLower(w)
	}
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(w)) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if l, ok := lookalikes[r]; ok {
			r = l
		}
		b.WriteRune(r)
	}
	return b.String()
}

// lookalikes maps lower-case Cyrillic and Greek letters to the Latin ones
// they are drawn like (Unicode's confusables for these scripts, the common
// part).
var lookalikes = map[rune]rune{
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c', 'т': 't',
	'у': 'y', 'х': 'x', 'ѕ': 's', 'і': 'i', 'ї': 'i', 'ј': 'j', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'һ': 'h', 'ӏ': 'l',
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u',
	'χ': 'x', 'γ': 'y', 'ω': 'w', 'ɡ': 'g', 'ı': 'i',
}

// linkPattern finds a link: a URL with any scheme (https://, ftp://), one of
// the schemes written without // (mailto:, javascript:, data:text/html,
// tel:+1…, sms:, magnet:?), an HTML anchor, www., an IPv4 address with a
// port or a path,
// localhost with a port or a path, a punycode label (xn--…), or a bare host
// name in any script ending in a common top-level domain (bit.ly/x,
// shop.example.de, магазин.com, пример.рф). Domains that are
// also English words (at, be, in, is, it, me, no, so, to, us, fun, live,
// store, win, ...) are left out, so that "works great.It is" or "fun.Store
// it dry" is not a link.
var linkPattern = regexp.MustCompile(`(?i)(\b[a-z][a-z0-9+.-]*://|\bmailto:|\b(javascript|vbscript):\S|\bdata:[a-z]+/|` +
	`\b(tel|sms|callto):\s*\+?\d|\bmagnet:\?|<a\s|\bhref\s*=|\bwww\.|\bxn--[a-z0-9-]+\.|` +
	`\b` + octet + `(\.` + octet + `){3}(:\d|/)|\blocalhost(:\d|/)|` +
	`[\p{L}\p{N}-]+\.(рф|рус|укр|срб)(\P{L}|$)|` +
	`[\p{L}\p{N}-]+\.(` + tlds + `)\b)`)

// octet is a number from 0 to 255; tlds the common top-level domains that
// are not also everyday words.
const (
	octet = `(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`
	tlds  = `com|net|org|io|ru|biz|info|xyz|co|shop|top|app|dev|vip|icu|` +
		`de|uk|fr|es|nl|eu|ca|au|ly|gl|ch|pl|se|dk|fi|pt|br|mx|cn|jp|kr|tk|ml|ga|cf|gq|pw|cc|ws|su|ai|gg|tv|fm`
)

// Screen decides what happens to a submitted review's text: the contract's
// rule, held for moderation or published at once. The catalog's "duplicates an
// existing submission" is the one-review-per-customer-and-product rule
// (409 already_reviewed); the same text on another product is published, as
// the contract's 201 offers no third outcome.
func (p Policy) Screen(title, body string) Verdict {
	text := screenText(title + "\n" + body)
	if linkPattern.MatchString(text) {
		return Verdict{Outcome: StatusPending}
	}
	// Letters with their combining marks are one word ("sca\u0301m").
	inWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) }
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !inWord(r) }) {
		if p.words[w] || p.words[skeleton(w)] {
			return Verdict{Outcome: StatusPending}
		}
	}
	return Verdict{Outcome: StatusPublished}
}
