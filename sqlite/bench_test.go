package sqlite_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"acme/es/estest"
	"acme/sqlite"
)

// BenchmarkSynchronous compares single-event appends at synchronous=NORMAL
// (the default: durable against kill -9) and FULL (also against power loss),
// at 1, 8 and 32 concurrent writers: the measurement behind the default.
func BenchmarkSynchronous(b *testing.B) {
	for _, mode := range []string{"FULL", "NORMAL"} {
		for _, writers := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("sync=%s/writers=%d", mode, writers), func(b *testing.B) {
				estest.BenchAppend(b, open(b, sqlite.WithSynchronous(mode)), 1, writers)
			})
		}
	}
}

// BenchmarkRawInsert is the baseline: the raw equivalent of a single-event
// append without the store, one ~300-byte INSERT per transaction into a table
// of the events table's shape, from W goroutines sharing one connection (the
// fastest naive way: SQLite has one writer at a time anyway).
func BenchmarkRawInsert(b *testing.B) {
	for _, mode := range []string{"FULL", "NORMAL"} {
		for _, writers := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("sync=%s/writers=%d", mode, writers), func(b *testing.B) {
				rawInsert(b, mode, writers)
			})
		}
	}
}

func rawInsert(b *testing.B, mode string, writers int) {
	path := filepath.Join(b.TempDir(), "raw.db")
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous("+mode+")")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE events (position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stream_id TEXT NOT NULL,
		stream_type TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, schema_version INTEGER NOT NULL, data TEXT NOT NULL,
		metadata TEXT NOT NULL, recorded_at INTEGER NOT NULL, UNIQUE (stream_id, version))`); err != nil {
		b.Fatal(err)
	}
	ins, err := db.Prepare(`INSERT INTO events (id, stream_id, stream_type, version, type, schema_version, data, metadata, recorded_at)
		VALUES ($1, $2, 'bench', $3, 'BenchEvent', 1, $4, '{}', $5)`)
	if err != nil {
		b.Fatal(err)
	}
	defer ins.Close()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			stream := fmt.Sprint("bench-", w)
			var v int64
			for next.Add(1) <= int64(b.N) {
				v++
				if _, err := ins.Exec(estest.NewID(), stream, v, string(estest.BenchPayload), time.Now().UnixMicro()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "inserts/s")
}
