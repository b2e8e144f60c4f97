package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"acme/es"
	"acme/es/estest"
	"acme/sqlite"
)

const killChildEnv = "ACME_SQLITE_KILL_CHILD"

// TestKill9Durability: a child process (this test binary, re-executed) commits
// from 8 goroutines and prints the id of every acknowledged event; the parent
// kills it with SIGKILL mid-stream, reopens the file, and every acknowledged
// event must be there, at gap-free positions.
func TestKill9Durability(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		killChild(path)
		return
	}
	for _, mode := range []string{"FULL", "NORMAL"} {
		t.Run(mode, func(t *testing.T) { killOnce(t, mode) })
	}
}

func killOnce(t *testing.T, mode string) {
	path := filepath.Join(t.TempDir(), "kill.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Durability$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path, "ACME_SQLITE_KILL_SYNC="+mode)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(30 * time.Second)
	killed := false
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			continue
		}
		acked[id] = true
		if !killed && (len(acked) >= 3000 || time.Now().After(deadline)) {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true // lines already printed are still read: they were acknowledged
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before it was killed: %v", err)
	}
	if len(acked) < 100 {
		t.Fatalf("only %d acknowledged events before the kill", len(acked))
	}
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer s.Close()
	stored := map[string]bool{}
	var pos int64
	for {
		evs, err := s.ReadAll(t.Context(), pos, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			if e.Position != pos+1 {
				t.Fatalf("position %d after %d", e.Position, pos)
			}
			pos = e.Position
			stored[e.ID] = true
		}
	}
	for id := range acked {
		if !stored[id] {
			t.Fatalf("acknowledged event %s lost by kill -9 (%d acknowledged, %d stored)", id, len(acked), len(stored))
		}
	}
	t.Logf("synchronous=%s: %d acknowledged, %d stored (the rest were in flight)", mode, len(acked), len(stored))
	// The store works after the crash.
	if _, err := s.Commit(t.Context(), es.Commit{Appends: []es.Append{{StreamID: "after", StreamType: "t", Expected: es.NoStream, Events: []es.Event{estest.Ev("A", `{}`)}}}}); err != nil {
		t.Fatal(err)
	}
}

// killChild commits until it is killed, printing acknowledged event ids.
func killChild(path string) {
	s, err := sqlite.Open(context.Background(), path, sqlite.WithSynchronous(os.Getenv("ACME_SQLITE_KILL_SYNC")))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				n := 1 + i%3
				evs := make([]es.Event, n)
				for j := range evs {
					evs[j] = estest.Ev("K", fmt.Sprintf(`{"g":%d,"i":%d}`, g, i))
				}
				if _, err := s.Commit(context.Background(), es.Commit{Appends: []es.Append{{StreamID: fmt.Sprintf("k-%d", g), StreamType: "k", Expected: es.AnyVersion, Events: evs}}}); err != nil {
					fmt.Fprintln(os.Stderr, "child commit:", err)
					os.Exit(2)
				}
				mu.Lock()
				for _, e := range evs {
					fmt.Fprintf(w, "ack %s\n", e.ID)
				}
				w.Flush() // acknowledged = written to the pipe
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
