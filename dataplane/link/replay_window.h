// Anti-replay window for link transport counters (RFC 6479, as in WireGuard's kernel module).
//
// A ring of 8192 bits in 64-bit blocks remembers which counters near the greatest one seen have arrived. A counter
// is accepted once if it is newer than the greatest seen or falls inside the window behind it and was not seen;
// counters more than kWindowBits behind the greatest are "too old". Counters at or above kRejectAfterMessages are
// refused outright ("counter wrap": a sender must rekey long before). The caller checks and updates the window
// only AFTER the AEAD has authenticated the packet, so a forged counter can never move the window.
// Not thread-safe; a window belongs to one session's receive direction.
#pragma once

#include <cstddef>
#include <cstdint>

namespace voxa::link {

class ReplayWindow {
public:
    static constexpr uint64_t kBitsTotal = 8192;                       // like WireGuard's COUNTER_BITS_TOTAL
    static constexpr uint64_t kBlockBits = 64;
    static constexpr uint64_t kBlocks = kBitsTotal / kBlockBits;
    static constexpr uint64_t kWindowBits = kBitsTotal - kBlockBits;   // 8128 counters behind the greatest
    static constexpr uint64_t kRejectAfterMessages = 0ull - (1ull << 13);   // 2^64 - 2^13

    enum class Verdict : uint8_t { kAccept, kDuplicate, kTooOld, kCounterWrap };

    ReplayWindow() noexcept { reset(); }
    void reset() noexcept;

    // Whether `counter` would be accepted now; changes nothing (a cheap filter before decryption).
    Verdict check(uint64_t counter) const noexcept;
    // Accepts `counter` (marks it seen, slides the window) or says why not. Call only for authenticated packets.
    Verdict update(uint64_t counter) noexcept;

    uint64_t greatest_plus_one() const noexcept { return next_; }   // 0 until a counter was accepted

private:
    uint64_t next_;   // greatest accepted counter + 1; 0 when none
    uint64_t blocks_[kBlocks];
};

}  // namespace voxa::link
