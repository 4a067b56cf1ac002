// Building blocks of splitting shared by the splitter and the reassembler (internal to dataplane/split and
// dataplane/reassembly; not a public interface). They exist so that each part is hashed exactly once: the
// reassembler verifies complete parts in batches (parts_inner) and keeps inner_i for the AONT key, and decoding
// takes those inner hashes instead of hashing the parts again.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "crypto/provider.h"
#include "split/manifest.h"

namespace voxa::split {

inline constexpr std::size_t kInnerBytes = 64;
using Inner = std::array<uint8_t, kInnerBytes>;

// inner = BLAKE2b-512(personal "voxa.part", part).
void part_inner(std::span<const uint8_t> part, Inner* inner) noexcept;
// inner[i] = BLAKE2b-512(personal "voxa.part", parts[i] .. + part_bytes) for every part, all part_bytes long (a
// positive multiple of 64). Up to 8 parts go through one vector pass (Blake2bLanes), so a batch of parts costs
// about what one part hashed alone would.
void parts_inner(std::span<const uint8_t* const> parts, std::size_t part_bytes, Inner* const* inner) noexcept;
// digest = BLAKE2b-256(personal "voxa.digest", inner).
void inner_digest(const Inner& inner, std::array<uint8_t, kDigestBytes>* digest) noexcept;
// True if m.digest[i] == BLAKE2b-256(inner) (constant-time comparison).
bool inner_matches(const Manifest& m, std::size_t i, const Inner& inner) noexcept;

// The AONT mask: BLAKE2b-256(personal "voxa.aont", inner_0 || .. || inner_{k-1} || message_bytes u64 LE).
// K = tail xor mask. `inner` holds at least m.k entries.
void aont_mask(const Manifest& m, std::span<const Inner> inner, std::span<uint8_t, 32> out) noexcept;

// Decodes from verified parts: bit i of `verified_mask` says parts[i] is part i (part_bytes long) and inner[i]
// its verified inner hash. Uses the k lowest verified parts (data slices first, so no Reed-Solomon work when all
// data slices are present). Returns false with `out` untouched if fewer than k bits are set, a rebuilt slice does
// not match its digest, or the canary is wrong. Allocates the output once.
bool decode_verified(const Manifest& m, std::span<const std::span<const uint8_t>> parts,
                     std::span<const Inner> inner, uint16_t verified_mask, crypto::Provider provider,
                     std::vector<uint8_t>* out);

}  // namespace voxa::split
