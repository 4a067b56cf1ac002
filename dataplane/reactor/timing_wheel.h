// A hashed timing wheel with intrusive timers: every handshake retry, retransmission, reassembly age and TX flush
// deadline of a worker is a Timer on that worker's wheel.
//
// The wheel is single-level with rounds: slots_pow2 slots, each a list of the timers whose deadline falls in a
// tick that maps to it (tick = (deadline - start) / tick_ns; slot = tick mod slots). A timer further away than one
// rotation simply waits in its slot for later rounds. Timers are intrusive (the links live in the Timer, which the
// user owns), so schedule() and cancel() are O(1) and nothing allocates after construction.
//
// Guarantees: a timer fires in the first advance(now_ns) with now_ns >= its deadline, never earlier; within one
// advance() the due timers fire in deadline order (equal deadlines in scheduling order), even after a jump of many
// rotations. advance() visits at most one rotation of slots, skipping empty ones with a bitmap, plus the timers
// it finds in them. One wheel belongs to one thread (the worker's); nothing here is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "voxa/assert.h"

namespace voxa::reactor {

class TimingWheel;

namespace detail {
// Doubly linked, circular through a sentinel per slot, so a timer unlinks itself without knowing its list.
struct TimerLink {
    TimerLink* prev_ = nullptr;
    TimerLink* next_ = nullptr;  // nullptr exactly when the timer is not scheduled
};
}  // namespace detail

// Owned by the user (typically embedded in a circuit, session or message); must stay alive and unmoved while
// scheduled (cancel it first). Copying copies fire and context only; the copy is not scheduled.
struct Timer : private detail::TimerLink {
    // Called by TimingWheel::advance() on the wheel's thread, with the timer already unscheduled (so it may
    // schedule itself again; a deadline <= now_ns then fires in the next advance(), not this one).
    void (*fire)(Timer& t, uint64_t now_ns) noexcept = nullptr;
    void* context = nullptr;  // for fire(); the wheel never touches it

    Timer() = default;
    Timer(void (*fire_fn)(Timer&, uint64_t) noexcept, void* ctx) noexcept : fire(fire_fn), context(ctx) {}
    Timer(const Timer& other) noexcept : detail::TimerLink(), fire(other.fire), context(other.context) {}
    Timer& operator=(const Timer& other) noexcept {
        VOXA_ASSERT(!scheduled());
        fire = other.fire;
        context = other.context;
        return *this;
    }
    ~Timer() { VOXA_ASSERT(!scheduled()); }

    bool scheduled() const noexcept { return next_ != nullptr; }
    // The deadline given to the last schedule(); meaningful while scheduled() and inside fire().
    uint64_t deadline_ns() const noexcept { return deadline_ns_; }

private:
    friend class TimingWheel;
    // Managed by the wheel: the deadline, the tick whose slot holds the timer (>= the wheel's next tick; the
    // deadline's own tick unless that had already passed at schedule()), and the wheel (for assertions).
    uint64_t deadline_ns_ = 0;
    uint64_t due_tick_ = 0;
    TimingWheel* wheel_ = nullptr;
};

class TimingWheel {
public:
    // tick_ns >= 1: the bucket width (only affects cost; firing is exact to the nanosecond). slots_pow2: a power
    // of two >= 1; one rotation spans tick_ns * slots_pow2. now_ns: the clock at construction (tick 0).
    // Allocates the slot table once (setup only).
    TimingWheel(uint64_t tick_ns, std::size_t slots_pow2, uint64_t now_ns);
    // Unschedules (without firing) every timer still scheduled.
    ~TimingWheel();
    TimingWheel(const TimingWheel&) = delete;
    TimingWheel& operator=(const TimingWheel&) = delete;

    // Schedules t (t.fire must be set) to fire at the first advance() with now_ns >= deadline_ns; a timer already
    // scheduled on this wheel is moved to the new deadline. A deadline in the past fires at the next advance().
    // O(1). May be called from a fire() callback.
    void schedule(Timer& t, uint64_t deadline_ns) noexcept;
    // Unschedules t; a no-op when it is not scheduled. O(1). May be called from a fire() callback, for any timer.
    void cancel(Timer& t) noexcept;
    // Fires every timer with deadline <= now_ns, in deadline order; returns how many fired. now_ns must not go
    // backwards. Not reentrant (a fire() callback must not call advance()).
    std::size_t advance(uint64_t now_ns) noexcept;
    // UINT64_MAX when no timer is scheduled; otherwise a lower bound of the earliest deadline, never later than it:
    // exact when that deadline lies within one rotation of the last advance(), else the start of the next
    // rotation. Cost: a bitmap scan plus the timers of the first occupied slots.
    uint64_t next_deadline_ns() const noexcept;
    // Number of scheduled timers.
    std::size_t size() const noexcept { return size_; }

    uint64_t tick_ns() const noexcept { return tick_ns_; }
    std::size_t slots() const noexcept { return mask_ + 1; }

private:
    uint64_t tick_of(uint64_t t_ns) const noexcept;
    void link_tail(detail::TimerLink& list, Timer& t) noexcept;
    void unlink(Timer& t) noexcept;  // from a slot or the pending list; keeps size_ and the bitmap right
    bool slot_empty(std::size_t slot) const noexcept;
    void mark(std::size_t slot, bool occupied) noexcept;
    // Offset in [0, count] from start_tick to the first tick whose slot is occupied (count: none).
    std::size_t next_occupied(uint64_t start_tick, std::size_t count) const noexcept;

    static Timer& as_timer(detail::TimerLink* link) noexcept { return *static_cast<Timer*>(link); }
    static detail::TimerLink& as_link(Timer& t) noexcept { return t; }
    static detail::TimerLink* sort_chain(detail::TimerLink* head, std::size_t n, detail::TimerLink** rest) noexcept;

    uint64_t const tick_ns_;
    std::size_t const mask_;
    uint64_t const origin_ns_;
    // Every tick before next_tick_ has been fully processed; next_tick_ itself (the tick of the last advance())
    // may still hold timers due later within it. Invariant: every scheduled timer has due_tick_ >= next_tick_.
    uint64_t next_tick_ = 0;
    uint64_t last_now_ns_ = 0;
    std::size_t size_ = 0;
    bool advancing_ = false;
    std::unique_ptr<detail::TimerLink[]> const slots_;  // one circular list sentinel per slot
    std::unique_ptr<uint64_t[]> const occupied_;        // bit per slot: its list is non-empty
};

}  // namespace voxa::reactor
