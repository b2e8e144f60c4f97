package catalog

import (
	"strings"
	"time"
	"unicode/utf8"

	"acme"
	"acme/es"
)

// MaxDepth is the deepest a category may be (a root has depth 1).
const MaxDepth = 3

// Category is the state of a category stream. Categories are never renamed,
// moved or deleted, so a child's depth, computed from its parent at creation,
// stays right.
type Category struct {
	ID       string
	Name     string
	ParentID string
	Depth    int
}

// createCategory is the decider's command. Parent is the parent's state as the
// service loaded it (zero when ParentID is "" or the parent does not exist).
type createCategory struct {
	CategoryID string
	Name       string
	ParentID   string
	Parent     Category
	At         time.Time
}

var categoryDecider = es.Decider[Category, createCategory]{
	Decide: func(s Category, c createCategory) ([]any, error) {
		if s.ID != "" {
			return nil, acme.Errorf(acme.CodeConflict, "category %s exists", s.ID)
		}
		name := strings.TrimSpace(c.Name)
		if n := utf8.RuneCountInString(name); n < 1 || n > 100 || !utf8.ValidString(name) || acme.Blank(name) {
			return nil, acme.Invalid(acme.FieldError{Field: "name", Message: "must be 1 to 100 characters"})
		}
		if acme.HasControl(name) {
			return nil, acme.Invalid(acme.FieldError{Field: "name", Message: "must not contain control characters (line breaks, NUL)"})
		}
		depth := 1
		if c.ParentID != "" {
			if c.Parent.ID == "" {
				return nil, acme.Errorf(CodeParentNotFound, "parent category %q does not exist", c.ParentID)
			}
			depth = c.Parent.Depth + 1
			if depth > MaxDepth {
				return nil, acme.Errorf(CodeDepthExceeded, "categories nest at most %d deep", MaxDepth)
			}
		}
		return []any{CategoryCreatedV1{CategoryID: c.CategoryID, Name: name, ParentID: c.ParentID, Depth: depth, CreatedAt: c.At}}, nil
	},
	Evolve: func(s Category, e any) Category {
		if c, ok := e.(CategoryCreatedV1); ok {
			s = Category{ID: c.CategoryID, Name: c.Name, ParentID: c.ParentID, Depth: c.Depth}
		}
		return s
	},
}

// Claim is the state of a reservation stream (a category name or a SKU): who
// holds the key. Reservations make catalog-wide uniqueness race-free: the
// claim's event is committed with Expected = NoStream in the same Commit as the
// owner's event, so of two concurrent claims exactly one commits.
type Claim struct{ Holder string }

type claim struct{ Holder, VariantID string }

func claimDecider(code, what string, event func(c claim) any) es.Decider[Claim, claim] {
	return es.Decider[Claim, claim]{
		Decide: func(s Claim, c claim) ([]any, error) {
			if s.Holder != "" {
				return nil, acme.Errorf(code, "this %s is already taken", what)
			}
			return []any{event(c)}, nil
		},
		Evolve: func(s Claim, e any) Claim {
			switch e := e.(type) {
			case CategoryNameReservedV1:
				s.Holder = e.CategoryID
			case SKUReservedV1:
				s.Holder = e.ProductID
			}
			return s
		},
	}
}

var (
	categoryNameDecider = claimDecider(CodeCategoryNameTaken, "category name", func(c claim) any {
		return CategoryNameReservedV1{CategoryID: c.Holder}
	})
	skuDecider = claimDecider(CodeDuplicateSKU, "SKU", func(c claim) any {
		return SKUReservedV1{ProductID: c.Holder, VariantID: c.VariantID}
	})
)
