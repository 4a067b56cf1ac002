#include "reactor/timing_wheel.h"

#include <bit>

namespace voxa::reactor {

namespace {
constexpr std::size_t kWordBits = 64;

void init_sentinel(detail::TimerLink& s) noexcept {
    s.prev_ = &s;
    s.next_ = &s;
}
bool list_empty(const detail::TimerLink& s) noexcept { return s.next_ == &s; }
}  // namespace

TimingWheel::TimingWheel(uint64_t tick_ns, std::size_t slots_pow2, uint64_t now_ns)
    : tick_ns_(tick_ns),
      mask_(slots_pow2 - 1),
      origin_ns_(now_ns),
      last_now_ns_(now_ns),
      slots_(std::make_unique<detail::TimerLink[]>(slots_pow2)),
      occupied_(std::make_unique<uint64_t[]>((slots_pow2 + kWordBits - 1) / kWordBits)) {
    VOXA_CHECK(tick_ns >= 1);
    VOXA_CHECK(slots_pow2 >= 1 && (slots_pow2 & (slots_pow2 - 1)) == 0);
    for (std::size_t i = 0; i < slots_pow2; ++i) init_sentinel(slots_[i]);
}

TimingWheel::~TimingWheel() {
    // Leave every remaining timer unscheduled so its owner may destroy or reuse it.
    for (std::size_t i = 0; i <= mask_; ++i) {
        detail::TimerLink* link = slots_[i].next_;
        while (link != &slots_[i]) {
            detail::TimerLink* const next = link->next_;
            link->prev_ = nullptr;
            link->next_ = nullptr;
            as_timer(link).wheel_ = nullptr;
            link = next;
        }
    }
}

uint64_t TimingWheel::tick_of(uint64_t t_ns) const noexcept {
    return t_ns <= origin_ns_ ? 0 : (t_ns - origin_ns_) / tick_ns_;
}

void TimingWheel::link_tail(detail::TimerLink& list, Timer& t) noexcept {
    detail::TimerLink& node = as_link(t);
    node.prev_ = list.prev_;
    node.next_ = &list;
    list.prev_->next_ = &node;
    list.prev_ = &node;
}

bool TimingWheel::slot_empty(std::size_t slot) const noexcept { return list_empty(slots_[slot]); }

void TimingWheel::mark(std::size_t slot, bool occupied) noexcept {
    uint64_t const bit = uint64_t{1} << (slot % kWordBits);
    if (occupied) {
        occupied_[slot / kWordBits] |= bit;
    } else {
        occupied_[slot / kWordBits] &= ~bit;
    }
}

void TimingWheel::unlink(Timer& t) noexcept {
    detail::TimerLink& node = as_link(t);
    node.prev_->next_ = node.next_;
    node.next_->prev_ = node.prev_;
    node.prev_ = nullptr;
    node.next_ = nullptr;
    // The timer may have been in the pending list of an advance() rather than in its slot; either way the bit
    // must say whether the slot's own list is empty.
    std::size_t const slot = t.due_tick_ & mask_;
    if (slot_empty(slot)) mark(slot, false);
    VOXA_ASSERT(size_ > 0);
    size_ -= 1;
}

void TimingWheel::schedule(Timer& t, uint64_t deadline_ns) noexcept {
    VOXA_ASSERT(t.fire != nullptr);
    if (t.scheduled()) {
        VOXA_ASSERT(t.wheel_ == this);
        unlink(t);
    }
    uint64_t due = tick_of(deadline_ns);
    // A tick already processed will not be visited again: a deadline in the past goes to the current tick, which
    // the next advance() visits first.
    if (due < next_tick_) due = next_tick_;
    t.deadline_ns_ = deadline_ns;
    t.due_tick_ = due;
    t.wheel_ = this;
    std::size_t const slot = due & mask_;
    link_tail(slots_[slot], t);
    mark(slot, true);
    size_ += 1;
}

void TimingWheel::cancel(Timer& t) noexcept {
    if (!t.scheduled()) return;
    VOXA_ASSERT(t.wheel_ == this);
    unlink(t);
}

std::size_t TimingWheel::next_occupied(uint64_t start_tick, std::size_t count) const noexcept {
    std::size_t const word_bits = slots() < kWordBits ? slots() : kWordBits;
    std::size_t offset = 0;
    while (offset < count) {
        std::size_t const slot = (start_tick + offset) & mask_;
        std::size_t const bit = slot % kWordBits;
        uint64_t const word = occupied_[slot / kWordBits] >> bit;
        if (word != 0) {
            offset += static_cast<std::size_t>(std::countr_zero(word));
            return offset < count ? offset : count;
        }
        offset += word_bits - bit;  // to the first slot of the next word (or back to slot 0)
    }
    return count;
}

// Top-down merge sort of a chain linked by next_ (n >= 1 nodes starting at head), by deadline, stable. Returns
// the sorted chain (its last next_ is nullptr) and stores the node after the n-th in *rest. Recursion depth is
// log2(n).
detail::TimerLink* TimingWheel::sort_chain(detail::TimerLink* head, std::size_t n,
                                           detail::TimerLink** rest) noexcept {
    if (n == 1) {
        *rest = head->next_;
        head->next_ = nullptr;
        return head;
    }
    detail::TimerLink* middle = nullptr;
    detail::TimerLink* a = sort_chain(head, n / 2, &middle);
    detail::TimerLink* b = sort_chain(middle, n - n / 2, rest);
    detail::TimerLink merged;
    detail::TimerLink* tail = &merged;
    while (a != nullptr && b != nullptr) {
        // Ties take from a, which came first: equal deadlines keep their scheduling order.
        if (as_timer(b).deadline_ns_ < as_timer(a).deadline_ns_) {
            tail->next_ = b;
            b = b->next_;
        } else {
            tail->next_ = a;
            a = a->next_;
        }
        tail = tail->next_;
    }
    tail->next_ = a != nullptr ? a : b;
    return merged.next_;
}

std::size_t TimingWheel::advance(uint64_t now_ns) noexcept {
    VOXA_ASSERT(!advancing_);
    VOXA_ASSERT(now_ns >= last_now_ns_);
    last_now_ns_ = now_ns;
    uint64_t target = tick_of(now_ns);
    if (target < next_tick_) target = next_tick_;

    // Gather every due timer from the ticks next_tick_..target (at most one rotation: after that the slots
    // repeat), then fire them sorted. A timer found there with a later deadline belongs to a later round (or to
    // the rest of the current tick) and stays.
    detail::TimerLink pending;
    init_sentinel(pending);
    std::size_t pending_count = 0;
    if (size_ != 0) {
        uint64_t const span = target - next_tick_;
        std::size_t const count = span >= slots() ? slots() : static_cast<std::size_t>(span) + 1;
        for (std::size_t offset = next_occupied(next_tick_, count); offset < count;
             offset += 1 + next_occupied(next_tick_ + offset + 1, count - offset - 1)) {
            std::size_t const slot = (next_tick_ + offset) & mask_;
            detail::TimerLink* link = slots_[slot].next_;
            while (link != &slots_[slot]) {
                detail::TimerLink* const next = link->next_;
                Timer& t = as_timer(link);
                VOXA_ASSERT(t.due_tick_ >= next_tick_);
                if (t.deadline_ns_ <= now_ns) {
                    link->prev_->next_ = next;
                    next->prev_ = link->prev_;
                    link_tail(pending, t);
                    pending_count += 1;
                }
                link = next;
            }
            if (slot_empty(slot)) mark(slot, false);
        }
    }
    next_tick_ = target;
    if (pending_count == 0) return 0;

    // Sort the pending chain by deadline, then make it a circular list again so that a callback can cancel a
    // timer that is still waiting in it.
    detail::TimerLink* rest = nullptr;
    pending.prev_->next_ = nullptr;
    detail::TimerLink* head = sort_chain(pending.next_, pending_count, &rest);
    VOXA_ASSERT(rest == nullptr);
    detail::TimerLink* prev = &pending;
    for (detail::TimerLink* link = head; link != nullptr; link = link->next_) {
        link->prev_ = prev;
        prev->next_ = link;
        prev = link;
    }
    prev->next_ = &pending;
    pending.prev_ = prev;

    advancing_ = true;
    std::size_t fired = 0;
    while (!list_empty(pending)) {
        Timer& t = as_timer(pending.next_);
        unlink(t);
        fired += 1;
        t.fire(t, now_ns);
    }
    advancing_ = false;
    return fired;
}

uint64_t TimingWheel::next_deadline_ns() const noexcept {
    if (size_ == 0) return UINT64_MAX;
    // Ticks are visited in order, so the first tick holding a timer of this round holds the earliest deadline.
    std::size_t const count = slots();
    for (std::size_t offset = next_occupied(next_tick_, count); offset < count;
         offset += 1 + next_occupied(next_tick_ + offset + 1, count - offset - 1)) {
        uint64_t const tick = next_tick_ + offset;
        const detail::TimerLink& list = slots_[tick & mask_];
        uint64_t earliest = UINT64_MAX;
        bool found = false;
        for (detail::TimerLink* link = list.next_; link != &list; link = link->next_) {
            const Timer& t = as_timer(link);
            if (t.due_tick_ == tick && t.deadline_ns_ <= earliest) {
                earliest = t.deadline_ns_;
                found = true;
            }
        }
        if (found) return earliest;
    }
    // Every timer is at least a rotation away: its deadline is no earlier than the start of the tick one
    // rotation after next_tick_.
    uint64_t const ticks = next_tick_ + slots();
    if (ticks > (UINT64_MAX - origin_ns_) / tick_ns_) return UINT64_MAX - 1;
    return origin_ns_ + ticks * tick_ns_;
}

}  // namespace voxa::reactor
