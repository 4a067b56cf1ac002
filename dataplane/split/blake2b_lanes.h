// BLAKE2b over up to 8 equal-length inputs at once (internal to dataplane/split).
//
// Why: the splitter hashes every part of a message (n/k times the message), and one BLAKE2b stream runs at
// ~0.8 GB/s here, below the throughput target. The parts all have part_bytes, so with AVX-512 the eight 64-bit
// lanes of a register each carry one part's state and the n hashes cost about what two would. The result is
// bit for bit libsodium's crypto_generichash_blake2b_salt_personal (unkeyed, no salt); tests/unit/split checks
// it against libsodium. With 4 lanes or fewer and AVX-512VL, 256-bit registers carry the lanes (cheaper where a
// 512-bit operation costs two 256-bit ones). Without AVX-512 (or with VOXA_BLAKE2B_LANES=scalar in the
// environment) it falls back to crypto::Hasher, one input after the other.
//
// Usage: construct, then update() with a whole number of 128-byte blocks any number of times, then final() with
// the last 1..128 bytes of every input. The caller owns all buffers; nothing is allocated.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "crypto/hash.h"

namespace voxa::split {

class Blake2bLanes {
public:
    static constexpr std::size_t kLanesMax = 8;
    static constexpr std::size_t kBlockBytes = 128;

    // `lanes` inputs (1..8), each hashed to `out_bytes` (1..64) under a 16-byte personalization.
    Blake2bLanes(std::size_t lanes, std::size_t out_bytes, std::string_view personal) noexcept;

    // Absorbs `len` bytes (a multiple of 128) from in[i] for every lane. Never the last block of an input.
    void update(const uint8_t* const* in, std::size_t len) noexcept;

    // Absorbs the last `len` bytes (1..128) of every lane and writes out[i] (out_bytes each).
    void final(const uint8_t* const* in, std::size_t len, uint8_t* const* out) noexcept;

    // Whether the vector path is in use on this CPU (for tests and benchmarks).
    static bool vectorized() noexcept;

private:
    std::size_t lanes_, out_bytes_;
    uint64_t counter_ = 0;                  // bytes absorbed per lane
    alignas(64) uint64_t h_[8][kLanesMax];  // h_[word][lane]
    std::array<std::optional<crypto::Hasher>, kLanesMax> fallback_;
};

}  // namespace voxa::split
