package upstream

import (
	"context"
	"sync"
	"time"
)

// CallContext is the context of one attempt at a provider that outlives
// its caller's context (routing lets a losing attempt finish so that a hung
// provider shows up as stalled): it carries the caller's values but not its
// cancellation, ends at its deadline (the provider timeout) with
// context.DeadlineExceeded, or earlier by Cancel with a cause.
//
// The standard way to build that (WithoutCancel, WithCancelCause, a timer,
// and the lean client's AfterFunc watch on it) costs about nine allocations
// per attempt. A CallContext is embedded in the caller's attempt and costs
// none while nobody waits on Done: the lean HTTP client enforces the
// deadline on its connection and is interrupted by Cancel directly (watch),
// and Err reads the clock. The first Done builds a standard context (and a
// timer for the deadline) that mirrors this one, so child contexts, dials
// and net/http see ordinary cancellation, causes included.
//
// Call Init before any other method; a CallContext must not be copied. It
// may be reused (reset to its zero value, then Init) once its call has
// returned and Cancel was called, unless it has Escaped.
type CallContext struct {
	parent   context.Context // the caller's context, for values only
	deadline time.Time       // zero: none

	mu        sync.Mutex
	err       error // nil until done: Canceled or DeadlineExceeded
	cause     error
	interrupt func() // the lean client's connection in use (watch)
	// Built on demand, see Done and Value.
	values context.Context         // context.WithoutCancel(parent)
	std    context.Context         // mirrors this context, for Done and children
	stdEnd context.CancelCauseFunc // ends std
	timer  *time.Timer             // ends this context at the deadline once std exists
}

// Init prepares c for a call on behalf of parent, ending at deadline (zero:
// no deadline).
func (c *CallContext) Init(parent context.Context, deadline time.Time) {
	c.parent, c.deadline = parent, deadline
}

// Deadline returns the context's deadline.
func (c *CallContext) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }

// Err returns nil, context.DeadlineExceeded once the deadline has passed,
// or context.Canceled after Cancel.
func (c *CallContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(time.Now())
	return c.err
}

// Cause returns why the context ended (the cause given to Cancel, or
// context.DeadlineExceeded), or nil. context.Cause cannot see it before
// Done was called, so upstream asks the context itself (see ctxError).
func (c *CallContext) Cause() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(time.Now())
	return c.cause
}

// Done returns a channel closed when the context ends. The first call
// builds the standard context behind it.
func (c *CallContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(time.Now())
	if c.std == nil {
		c.std, c.stdEnd = context.WithCancelCause(c.valuesLocked())
		switch {
		case c.err != nil:
			c.stdEnd(c.cause)
		case !c.deadline.IsZero():
			c.timer = time.AfterFunc(time.Until(c.deadline), c.expire)
		}
	}
	return c.std.Done()
}

// Value returns the caller's value for key. Once Done was called it asks
// the standard context, so that context.Cause and child contexts find it.
func (c *CallContext) Value(key any) any {
	c.mu.Lock()
	v := c.std
	if v == nil {
		v = c.valuesLocked()
	}
	c.mu.Unlock()
	return v.Value(key)
}

// valuesLocked returns the caller's context without its cancellation
// (made on first use: most calls never look up a value). Called with mu held.
func (c *CallContext) valuesLocked() context.Context {
	if c.values == nil {
		c.values = context.WithoutCancel(c.parent)
	}
	return c.values
}

// Cancel ends the context with cause (nil: context.Canceled), interrupting
// a lean client's read or write in progress. Later calls do nothing.
func (c *CallContext) Cancel(cause error) {
	if cause == nil {
		cause = context.Canceled
	}
	c.mu.Lock()
	f := c.endLocked(context.Canceled, cause)
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

// expire ends the context at its deadline (the timer of Done). It checks
// the clock, as a timer that fired as the context ended may run after it.
func (c *CallContext) expire() {
	c.mu.Lock()
	var f func()
	if c.err == nil && !c.deadline.IsZero() && !time.Now().Before(c.deadline) {
		f = c.endLocked(context.DeadlineExceeded, context.DeadlineExceeded)
	}
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

// expireLocked ends the context if its deadline has passed. A deadline seen
// this way needs no interrupt: the lean client's connection carries the
// same deadline. Called with mu held.
func (c *CallContext) expireLocked(now time.Time) {
	if c.err == nil && !c.deadline.IsZero() && !now.Before(c.deadline) {
		c.endLocked(context.DeadlineExceeded, context.DeadlineExceeded)
	}
}

// endLocked ends the context unless it has ended, and returns the interrupt
// to call (outside mu). Called with mu held.
func (c *CallContext) endLocked(err, cause error) (interrupt func()) {
	if c.err != nil {
		return nil
	}
	c.err, c.cause = err, cause
	if c.std != nil {
		c.stdEnd(cause)
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	interrupt, c.interrupt = c.interrupt, nil
	return interrupt
}

// watch registers interrupt to be called when the context is cancelled,
// reporting false (registering nothing) when it has ended already. One
// watch at a time.
func (c *CallContext) watch(interrupt func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(time.Now())
	if c.err != nil {
		return false
	}
	c.interrupt = interrupt
	return true
}

// unwatch removes the interrupt of watch, reporting false when Cancel has
// taken it (it has run, or is about to).
func (c *CallContext) unwatch() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok := c.interrupt != nil
	c.interrupt = nil
	return ok
}

// Escaped reports whether Done or Value was called. Something beyond the
// call may then still hold the context (its deadline timer, a child
// context, a dial net/http left running), so its owner must not reuse it.
func (c *CallContext) Escaped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.std != nil || c.values != nil
}

// String names the context, as the standard ones do.
func (c *CallContext) String() string { return "upstream.CallContext" }
