package platform

import (
	"context"
	"time"
)

// leader runs fn while this process holds the named bus lease, for as long as
// ctx lives: it waits for the lease, runs fn with a context cancelled when the
// lease is lost (not renewed for 2/3 of a TTL, or taken by another holder), and
// starts over when fn returns. held is set while the lease is held. On ctx's end
// the lease is released so another process takes over at once.
func (p *Platform) leader(ctx context.Context, name string, held func(bool), fn func(ctx context.Context) error) {
	ttl := p.cfg.LeaseTTL
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = p.cfg.Bus.ReleaseLease(rctx, name, p.cfg.Holder)
	}()
	for ctx.Err() == nil {
		ok, err := p.cfg.Bus.Lease(ctx, name, p.cfg.Holder, ttl)
		if err != nil && ctx.Err() == nil {
			p.log.Warn("lease", "lease", name, "err", err)
		}
		if !ok {
			if !sleep(ctx, ttl/3) {
				return
			}
			continue
		}
		held(true)
		lctx, cancel := context.WithCancel(ctx)
		go p.renew(lctx, cancel, name)
		err = fn(lctx)
		cancel()
		held(false)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			p.log.Error("stopped; retrying", "lease", name, "err", err)
			sleep(ctx, time.Second)
		}
	}
}

// renew keeps the lease until ctx ends; it calls stop when the lease is lost.
func (p *Platform) renew(ctx context.Context, stop context.CancelFunc, name string) {
	ttl := p.cfg.LeaseTTL
	last := time.Now()
	for sleep(ctx, ttl/3) {
		ok, err := p.cfg.Bus.Lease(ctx, name, p.cfg.Holder, ttl)
		switch {
		case ok:
			last = time.Now()
		case err == nil:
			p.log.Warn("lease lost", "lease", name)
			stop()
			return
		case time.Since(last) > ttl*2/3:
			p.log.Warn("lease not renewed", "lease", name, "err", err)
			stop()
			return
		}
	}
}
