package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"acme/es"
)

// Subscribe creates or updates the durable consumer spec.Name on each stream
// its subjects belong to (events and commands live in two streams) and pulls
// from them with Fetch loops of a short expiry.
func (b *Bus) Subscribe(ctx context.Context, spec es.ConsumerSpec) (es.Subscription, error) {
	if b.isClosed() {
		return nil, es.ErrClosed
	}
	if spec.Name == "" || strings.ContainsAny(spec.Name, ". *>") {
		return nil, fmt.Errorf("natsbus: invalid consumer name %q", spec.Name)
	}
	if len(spec.Subjects) == 0 {
		return nil, fmt.Errorf("natsbus: consumer %s has no subjects", spec.Name)
	}
	ackWait := spec.AckWait
	if ackWait <= 0 {
		ackWait = 30 * time.Second
	}
	byStream := map[string][]string{}
	var order []string
	for _, s := range spec.Subjects {
		st, err := streamOf(s)
		if err != nil {
			return nil, err
		}
		if _, ok := byStream[st]; !ok {
			order = append(order, st)
		}
		byStream[st] = append(byStream[st], b.opts.Prefix+s)
	}
	// A batch consumer's hand-over channel holds up to four fetches of
	// deliveries, so it finds them ready (TryNext); Close naks what it still holds.
	buffer := 0
	if spec.Batch {
		buffer = 4 * b.opts.FetchBatch
	}
	sub := &subscription{b: b, ch: make(chan *delivery, buffer), done: make(chan struct{}), waiting: map[*delivery]struct{}{}}
	for _, st := range order {
		if st == CommandsStream {
			if err := b.checkOneHandler(ctx, spec.Name, byStream[st]); err != nil {
				return nil, err
			}
		}
		cs, err := b.consumers(ctx, st, spec.Name, byStream[st], ackWait)
		if err != nil {
			return nil, err
		}
		stream, err := b.js.Stream(ctx, b.opts.Prefix+st)
		if err != nil {
			return nil, fmt.Errorf("natsbus: stream %s: %w", st, err)
		}
		for _, c := range cs {
			subs := c.CachedInfo().Config.FilterSubjects
			if f := c.CachedInfo().Config.FilterSubject; f != "" {
				subs = []string{f}
			}
			sub.parts = append(sub.parts, part{cons: c, stream: stream, subjects: subs})
		}
		sub.cons = append(sub.cons, cs...)
	}
	pullCtx, cancel := context.WithCancel(context.Background())
	sub.cancel = cancel
	for _, c := range sub.cons {
		sub.wg.Add(1)
		go sub.pull(pullCtx, c)
	}
	sub.wg.Add(1)
	go sub.heartbeat(pullCtx, ackWait)
	if b.floors != nil {
		for _, p := range sub.parts {
			sub.wg.Add(1)
			go sub.floorLoop(pullCtx, p)
		}
	}
	if b.purgeCommands {
		for _, p := range sub.parts {
			if p.stream.CachedInfo().Config.Name == b.opts.Prefix+CommandsStream {
				sub.wg.Add(1)
				go sub.purgeLoop(pullCtx, p)
			}
		}
	}
	return sub, nil
}

// checkOneHandler refuses a command consumer whose subjects another consumer
// of the commands stream already handles: a command has exactly one handler
// group (what a work-queue stream enforces on its own). Consumers named name,
// or name-<Name> on servers before 2.10, are this one.
func (b *Bus) checkOneHandler(ctx context.Context, name string, subjects []string) error {
	stream, err := b.js.Stream(ctx, b.opts.Prefix+CommandsStream)
	if err != nil {
		return fmt.Errorf("natsbus: stream %s: %w", CommandsStream, err)
	}
	lister := stream.ListConsumers(ctx)
	for info := range lister.Info() {
		if info.Name == name || strings.HasPrefix(info.Name, name+"-") {
			continue
		}
		filters := info.Config.FilterSubjects
		if info.Config.FilterSubject != "" || len(filters) == 0 {
			filters = []string{info.Config.FilterSubject}
		}
		for _, f := range filters {
			for _, s := range subjects {
				if subjectMatches(f, s) {
					return fmt.Errorf("natsbus: consumer %s: command subject %s is already handled by consumer %s", name, s, info.Name)
				}
			}
		}
	}
	if err := lister.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		return fmt.Errorf("natsbus: consumers of %s: %w", CommandsStream, err)
	}
	return nil
}

// subjectMatches reports whether filter ("" for none, or with * and >
// wildcards) matches the literal subject.
func subjectMatches(filter, subject string) bool {
	if filter == "" {
		return true
	}
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" {
			return len(st) > i
		}
		if i >= len(st) || f != "*" && f != st[i] {
			return false
		}
	}
	return len(ft) == len(st)
}

// purgeLoop purges, every Options.PurgeInterval, the messages of p's command
// subjects up to its consumer's ack floor: every one of them is acknowledged
// (or terminated, so dead-lettered), the work a work-queue stream does on each
// ack, here in one call per subject. Processes sharing the consumer purge the
// same messages; a purge is idempotent.
func (s *subscription) purgeLoop(ctx context.Context, p part) {
	defer s.wg.Done()
	t := time.NewTicker(s.b.opts.PurgeInterval)
	defer t.Stop()
	var purged uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		info, err := p.cons.Info(ctx)
		if err != nil || info.AckFloor.Stream <= purged {
			continue
		}
		floor, ok := info.AckFloor.Stream, true
		for _, subj := range p.subjects {
			if err := p.stream.Purge(ctx, jetstream.WithPurgeSubject(subj), jetstream.WithPurgeSequence(floor+1)); err != nil {
				ok = false
			}
		}
		if ok {
			purged = floor
		}
	}
}

// createConsumer creates or updates the durable consumer cfg. A memory
// consumer (Options.ConsumerState) that exists keeps where it started; one
// that does not starts after its checkpointed ack floor, or at the start of
// the stream when it has none. A file consumer of an earlier version is
// replaced by a memory one starting after its ack floor (checkpointed first,
// so a crash in between loses nothing). On a work-queue stream (the commands
// stream of an earlier version) a consumer must deliver all: the stream
// itself drops what was acknowledged, so no checkpoint is needed there.
func (b *Bus) createConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	if b.floors == nil {
		return b.js.CreateOrUpdateConsumer(ctx, stream, cfg)
	}
	cfg.MemoryStorage = true
	workQueue := stream == b.opts.Prefix+CommandsStream && !b.purgeCommands
	st, err := b.js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("natsbus: stream %s: %w", stream, err)
	}
	key := floorKey(stream, cfg.Durable)
	c, err := b.js.Consumer(ctx, stream, cfg.Durable)
	switch {
	case err == nil && c.CachedInfo().Config.MemoryStorage:
		old := c.CachedInfo().Config
		cfg.DeliverPolicy, cfg.OptStartSeq = old.DeliverPolicy, old.OptStartSeq
		return b.js.CreateOrUpdateConsumer(ctx, stream, cfg)
	case err == nil:
		if !workQueue {
			f := floor{Seq: c.CachedInfo().AckFloor.Stream, Created: st.CachedInfo().Created}
			if _, err := b.floors.Put(ctx, key, f.encode()); err != nil {
				return nil, fmt.Errorf("natsbus: checkpoint %s: %w", cfg.Durable, err)
			}
		}
		if err := b.js.DeleteConsumer(ctx, stream, cfg.Durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("natsbus: replace file consumer %s: %w", cfg.Durable, err)
		}
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return nil, err
	}
	if workQueue {
		return b.js.CreateOrUpdateConsumer(ctx, stream, cfg)
	}
	e, err := b.floors.Get(ctx, key)
	switch {
	case err == nil:
		if seq, ok := startAfter(e.Value(), st.CachedInfo()); ok {
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq+1
		}
	case !errors.Is(err, jetstream.ErrKeyNotFound) && !errors.Is(err, jetstream.ErrKeyDeleted):
		return nil, fmt.Errorf("natsbus: checkpoint of %s: %w", cfg.Durable, err)
	}
	return b.js.CreateOrUpdateConsumer(ctx, stream, cfg)
}

// floor is a consumer's checkpointed ack floor, with the creation time of
// the stream whose sequence it is: a stream deleted and created again numbers
// its messages from 1 again, and an old floor would skip them.
type floor struct {
	Seq     uint64
	Created time.Time
}

func (f floor) encode() []byte {
	return []byte(strconv.FormatUint(f.Seq, 10) + " " + strconv.FormatInt(f.Created.UnixNano(), 10))
}

// startAfter returns the sequence a consumer lost with the server resumes
// after: its checkpointed floor, at most the stream's last sequence (a stream
// that lost its tail numbers new messages from there). False, so from the
// start, when the checkpoint is unreadable or of another incarnation of the
// stream.
func startAfter(v []byte, info *jetstream.StreamInfo) (uint64, bool) {
	seqText, createdText, ok := strings.Cut(string(v), " ")
	seq, err1 := strconv.ParseUint(seqText, 10, 64)
	created, err2 := strconv.ParseInt(createdText, 10, 64)
	if !ok || err1 != nil || err2 != nil || created != info.Created.UnixNano() {
		return 0, false
	}
	return min(seq, info.State.LastSeq), true
}

// floorKey is the FloorsBucket key of a consumer.
func floorKey(stream, durable string) string { return leaseKey(stream + "." + durable) }

// floorLoop checkpoints p's ack floor every Options.FloorInterval while it
// moves, and once more when the subscription closes.
func (s *subscription) floorLoop(ctx context.Context, p part) {
	defer s.wg.Done()
	t := time.NewTicker(s.b.opts.FloorInterval)
	defer t.Stop()
	key := floorKey(p.stream.CachedInfo().Config.Name, p.cons.CachedInfo().Name)
	created := p.stream.CachedInfo().Created
	var saved uint64
	save := func(ctx context.Context) {
		info, err := p.cons.Info(ctx)
		if err != nil || info.AckFloor.Stream <= saved {
			return
		}
		if _, err := s.b.floors.Put(ctx, key, floor{Seq: info.AckFloor.Stream, Created: created}.encode()); err == nil {
			saved = info.AckFloor.Stream
		}
	}
	for {
		select {
		case <-ctx.Done():
			if !s.b.isClosed() {
				sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				save(sctx)
				cancel()
			}
			return
		case <-t.C:
			if s.b.isClosed() {
				return
			}
			save(ctx)
		}
	}
}

// recreateIfGone creates c again when it no longer exists: a memory consumer
// goes with its server (an external server restarted while this process
// runs). The handle c works again once its name exists.
func (s *subscription) recreateIfGone(ctx context.Context, c jetstream.Consumer) {
	if s.b.floors == nil {
		return
	}
	if _, err := c.Info(ctx); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return
	}
	info := c.CachedInfo()
	cfg := info.Config
	cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverAllPolicy, 0 // createConsumer starts it after its checkpoint
	_, _ = s.b.createConsumer(ctx, info.Stream, cfg)                   // a failure is tried again after the next failed fetch
}

type subscription struct {
	b      *Bus
	cons   []jetstream.Consumer
	parts  []part // per consumer: its stream and filter subjects (for Watermark and Reached)
	ch     chan *delivery
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}
	once   sync.Once

	// waiting holds the deliveries fetched and not yet taken by Next or
	// TryNext: the heartbeat keeps their ack timers from running out while
	// they wait behind a slow handler (the taker holds them from then on).
	waitMu  sync.Mutex
	waiting map[*delivery]struct{}
}

func (s *subscription) wait(d *delivery) {
	s.waitMu.Lock()
	s.waiting[d] = struct{}{}
	s.waitMu.Unlock()
}

func (s *subscription) taken(d *delivery) *delivery {
	s.waitMu.Lock()
	delete(s.waiting, d)
	s.waitMu.Unlock()
	return d
}

// heartbeat tells the server, every third of ackWait, that the waiting
// deliveries are in progress.
func (s *subscription) heartbeat(ctx context.Context, ackWait time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(max(ackWait/3, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.waitMu.Lock() // a taken delivery gets none: its taker may nak it at once
		for d := range s.waiting {
			_ = d.m.InProgress()
		}
		s.waitMu.Unlock()
	}
}

// pull runs Fetch loops: each pull request expires after FetchWait, so a lost
// or stalled request costs at most that long (never the 30 s default).
//
// The expiry is the server's (FetchMaxWait), not a client context: nats.go
// drops what reaches a fetch after its context ended, and a message the
// server sent just before the expiry, late on a loaded machine, then waited
// out the ack wait (a 33 s checkout among 1,500 under load). The client waits
// a second past the expiry for such stragglers.
func (s *subscription) pull(ctx context.Context, c jetstream.Consumer) {
	defer s.wg.Done()
	for ctx.Err() == nil {
		batch, err := c.Fetch(s.b.opts.FetchBatch, jetstream.FetchMaxWait(s.b.opts.FetchWait))
		if err == nil {
			if !s.handOut(ctx, batch.Messages()) {
				return
			}
			err = batch.Error()
		}
		if err != nil {
			if s.b.isClosed() {
				return
			}
			s.recreateIfGone(ctx, c)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// handOut passes a fetch's messages to Next until the fetch ends (true) or
// the subscription closes (false): then what the fetch still brings is
// nak'ed as it arrives, so it is redelivered at once, not after the ack wait.
// It takes each message as it arrives, so that all of them wait where the
// heartbeat sees them.
func (s *subscription) handOut(ctx context.Context, msgs <-chan jetstream.Msg) bool {
	var queue []*delivery
	for msgs != nil || len(queue) > 0 {
		var out chan *delivery
		var next *delivery
		if len(queue) > 0 {
			out, next = s.ch, queue[0]
		}
		select {
		case m, ok := <-msgs:
			if !ok {
				msgs = nil // ended: hand out the rest
				continue
			}
			md, err := m.Metadata()
			n := 1
			if err == nil {
				n = int(md.NumDelivered)
			}
			d := &delivery{m: m, msg: decode(m.Headers(), m.Data()), subject: strings.TrimPrefix(m.Subject(), s.b.opts.Prefix), n: n}
			s.wait(d)
			queue = append(queue, d)
		case out <- next:
			queue = queue[1:]
		case <-ctx.Done():
			for _, d := range queue {
				_ = s.taken(d).m.NakWithDelay(0)
			}
			if msgs != nil {
				go nakAll(msgs)
			}
			return false
		}
	}
	return true
}

// nakAll naks the rest of a fetch (it ends at the fetch's expiry).
func nakAll(msgs <-chan jetstream.Msg) {
	for m := range msgs {
		_ = m.NakWithDelay(0)
	}
}

func (s *subscription) Next(ctx context.Context) (es.Delivery, error) {
	select {
	case d := <-s.ch:
		return s.taken(d), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		return nil, es.ErrClosed
	}
}

func (s *subscription) TryNext() (es.Delivery, bool) {
	select {
	case <-s.done:
		return nil, false
	default:
	}
	select {
	case d := <-s.ch:
		return s.taken(d), true
	default:
		return nil, false
	}
}

func (s *subscription) Pending(ctx context.Context) (int64, error) {
	var n int64
	for _, c := range s.cons {
		info, err := c.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("natsbus: consumer info: %w", err)
		}
		n += int64(info.NumPending) + int64(info.NumAckPending)
	}
	return n, nil
}

type part struct {
	cons     jetstream.Consumer
	stream   jetstream.Stream
	subjects []string
}

// Watermark is the last stream sequence stored on each filter subject (0 when
// none), in the order of the subscription's parts and subjects. The stream's
// last message per subject is known as soon as its publisher got the ack, unlike
// the consumer's pending counters, which the server updates asynchronously.
func (s *subscription) Watermark(ctx context.Context) (es.Watermark, error) {
	var w es.Watermark
	for _, p := range s.parts {
		for _, subj := range p.subjects {
			var seq uint64
			last, err := p.stream.GetLastMsgForSubject(ctx, subj)
			switch {
			case err == nil:
				seq = last.Sequence
			case errors.Is(err, jetstream.ErrMsgNotFound):
				// nothing stored (or nothing left: acknowledged commands are purged)
			default:
				return nil, fmt.Errorf("natsbus: last message of %s: %w", subj, err)
			}
			w = append(w, seq)
		}
	}
	return w, nil
}

// Reached compares each consumer's ack floor (every message up to it is
// acknowledged or terminated) with the marks of its subjects.
func (s *subscription) Reached(ctx context.Context, w es.Watermark) (bool, error) {
	i := 0
	for _, p := range s.parts {
		var info *jetstream.ConsumerInfo
		for range p.subjects {
			if i >= len(w) {
				return false, errors.New("natsbus: watermark of another subscription")
			}
			mark := w[i]
			i++
			if mark == 0 {
				continue
			}
			if info == nil {
				var err error
				if info, err = p.cons.Info(ctx); err != nil {
					return false, fmt.Errorf("natsbus: consumer info: %w", err)
				}
			}
			if info.AckFloor.Stream < mark {
				return false, nil
			}
		}
	}
	return true, nil
}

func (s *subscription) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.cancel()
		s.wg.Wait()
		for { // not handed out: let them be redelivered soon
			select {
			case d := <-s.ch:
				_ = s.taken(d).m.NakWithDelay(0)
			default:
				return
			}
		}
	})
	return nil
}

type delivery struct {
	m       jetstream.Msg
	msg     es.Message
	subject string
	n       int
}

func (d *delivery) Message() es.Message { return d.msg }
func (d *delivery) Subject() string     { return d.subject }
func (d *delivery) NumDelivered() int   { return d.n }
func (d *delivery) Ack(ctx context.Context) error {
	if err := d.m.DoubleAck(ctx); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		return fmt.Errorf("natsbus: ack: %w", err)
	}
	return nil
}
func (d *delivery) Nak(delay time.Duration) error { return d.m.NakWithDelay(delay) }
func (d *delivery) Term() error                   { return d.m.Term() }
func (d *delivery) InProgress() error             { return d.m.InProgress() }

// consumers creates or updates the durable consumer name on stream st over
// subjects. A server older than 2.10 has no multi-subject filters: there it
// falls back to one consumer per subject, named "<name>-<last subject token>".
func (b *Bus) consumers(ctx context.Context, st, name string, subjects []string, ackWait time.Duration) ([]jetstream.Consumer, error) {
	stream := b.opts.Prefix + st
	cfg := jetstream.ConsumerConfig{
		Durable:       name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxDeliver:    -1, // the consumer runtime dead-letters by delivery count
		MaxAckPending: 1024,
	}
	if len(subjects) == 1 {
		cfg.FilterSubject = subjects[0]
	} else {
		cfg.FilterSubjects = subjects
	}
	if len(subjects) == 1 || b.multiFilter {
		c, err := b.createConsumer(ctx, stream, cfg)
		if err == nil {
			return []jetstream.Consumer{c}, nil
		}
		if !errors.Is(err, jetstream.ErrConsumerMultipleFilterSubjectsNotSupported) {
			return nil, fmt.Errorf("natsbus: consumer %s on %s: %w", name, st, err)
		}
	}
	// An old server ignores filter_subjects and would create (or has created)
	// the consumer without any filter: make sure it does not exist.
	if err := b.js.DeleteConsumer(ctx, stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("natsbus: consumer %s on %s: remove unfiltered: %w", name, st, err)
	}
	var out []jetstream.Consumer
	for _, s := range subjects {
		one := cfg
		one.FilterSubjects = nil
		one.FilterSubject = s
		one.Durable = name + "-" + s[strings.LastIndexByte(s, '.')+1:]
		c, err := b.createConsumer(ctx, stream, one)
		if err != nil {
			return nil, fmt.Errorf("natsbus: consumer %s on %s: %w", one.Durable, st, err)
		}
		out = append(out, c)
	}
	return out, nil
}
