package payments

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"acme"
	"acme/es"
)

// CardAuth is an authorization as the built-in card processor keeps it.
type CardAuth struct {
	Amount           acme.Money
	Captured, Voided bool
	Refunded         int64
}

// CardLedger is where the built-in card processor keeps what it did: the
// first answer to each idempotency key and the state of each authorization.
// Do runs decide over authorization authID (nil when unknown) and keeps, at
// once, its answer under key and the authorization it returns (nil: no
// change); a key answered before returns that answer without running decide
// (fresh false).
type CardLedger interface {
	Do(ctx context.Context, key, authID string, decide func(a *CardAuth) (Result, *CardAuth)) (r Result, fresh bool, err error)
}

// memoryLedger keeps the books in the process: the default of a
// CardProcessor, for one process and for tests.
type memoryLedger struct {
	mu      sync.Mutex
	answers map[string]Result
	auths   map[string]CardAuth
}

func (l *memoryLedger) Do(_ context.Context, key, authID string, decide func(*CardAuth) (Result, *CardAuth)) (Result, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.answers == nil {
		l.answers, l.auths = map[string]Result{}, map[string]CardAuth{}
	}
	if r, ok := l.answers[key]; ok {
		return r, false, nil
	}
	var cur *CardAuth
	if a, ok := l.auths[authID]; ok {
		cur = &a
	}
	r, next := decide(cur)
	if next != nil {
		l.auths[authID] = *next
	}
	l.answers[key] = r
	return r, true, nil
}

// SQLLedger keeps the books in the payments store's tables (migration
// 00001_card_ledger), so the processes sharing a PostgreSQL see one
// processor: an authorization made by one can be captured by another and
// refunded by a third, and a key is answered once whichever process asks.
type SQLLedger struct{ Store es.Store }

// errAnswered aborts a ledger commit whose key another process answered
// first: its answer is read instead.
var errAnswered = errors.New("payments: card ledger key answered meanwhile")

func (l SQLLedger) Do(ctx context.Context, key, authID string, decide func(*CardAuth) (Result, *CardAuth)) (Result, bool, error) {
	for attempt := 0; ; attempt++ {
		if r, ok, err := l.answer(ctx, l.Store.DB(), key); err != nil || ok {
			return r, false, err
		}
		var r Result
		_, err := l.Store.Commit(ctx, es.Commit{Apply: func(ctx context.Context, tx es.SQL, _ []es.Event) error {
			// The row lock first (PostgreSQL): two calls on one authorization
			// decide one after the other. SQLite has one writer anyway.
			if _, err := tx.ExecContext(ctx, `UPDATE payments_card_auths SET auth_id = auth_id WHERE auth_id = $1`, authID); err != nil {
				return err
			}
			if _, ok, err := l.answer(ctx, tx, key); err != nil || ok {
				if err == nil {
					err = errAnswered
				}
				return err
			}
			cur, err := l.auth(ctx, tx, authID)
			if err != nil {
				return err
			}
			var next *CardAuth
			r, next = decide(cur)
			if next != nil {
				if _, err := tx.ExecContext(ctx, `INSERT INTO payments_card_auths (auth_id, amount, currency, captured, voided, refunded)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (auth_id) DO UPDATE SET amount = excluded.amount, currency = excluded.currency,
  captured = excluded.captured, voided = excluded.voided, refunded = excluded.refunded`,
					authID, next.Amount.Amount, next.Amount.Currency, bit(next.Captured), bit(next.Voided), next.Refunded); err != nil {
					return err
				}
			}
			answer, err := json.Marshal(r)
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO payments_card_answers (idem_key, answer) VALUES ($1, $2) ON CONFLICT (idem_key) DO NOTHING`, key, string(answer))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err == nil && n == 0 {
				return errAnswered // another process's insert won
			}
			return nil
		}})
		switch {
		case err == nil:
			return r, true, nil
		case (errors.Is(err, errAnswered) || errors.Is(err, es.ErrConcurrency)) && attempt < 3:
			continue
		}
		return Result{}, false, fmt.Errorf("payments: card ledger: %w", err)
	}
}

func (SQLLedger) answer(ctx context.Context, q es.SQL, key string) (Result, bool, error) {
	var s string
	err := q.QueryRowContext(ctx, `SELECT answer FROM payments_card_answers WHERE idem_key = $1`, key).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, err
	}
	var r Result
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return Result{}, false, err
	}
	return r, true, nil
}

func (SQLLedger) auth(ctx context.Context, q es.SQL, id string) (*CardAuth, error) {
	var a CardAuth
	var captured, voided int
	err := q.QueryRowContext(ctx, `SELECT amount, currency, captured, voided, refunded FROM payments_card_auths WHERE auth_id = $1`, id).
		Scan(&a.Amount.Amount, &a.Amount.Currency, &captured, &voided, &a.Refunded)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	a.Captured, a.Voided = captured != 0, voided != 0
	return &a, nil
}

func bit(b bool) int {
	if b {
		return 1
	}
	return 0
}
