// Systematic Reed-Solomon over GF(2^8) with ISA-L, fused with the BLAKE2b pass over the parts it touches
// (internal to dataplane/split). The generator is ISA-L's Cauchy matrix (gf_gen_cauchy1_matrix): an n x k matrix
// whose top k rows are the identity and whose every k x k submatrix is invertible.
//
// Both functions work in column chunks of a few KiB so that each chunk of every part is hashed while it is
// still in cache after the erasure code wrote or read it: one pass over memory, not two.
#pragma once

#include <cstddef>
#include <cstdint>

#include "split/codec.h"

namespace voxa::split {

// `parts` holds n contiguous parts of `part_bytes`; the first k (data) are filled. Writes parity parts k..n-1
// and inner[i] = BLAKE2b-512("voxa.part", part i) for every i < n.
void rs_encode_and_hash(std::size_t k, std::size_t n, std::size_t part_bytes, uint8_t* parts, Inner* inner) noexcept;

// Rebuilds data slices missing[0..missing_count) (indices < k) from the k parts src[i] = part rows[i]
// (rows ascending, distinct, < n), writing dst[i] (part_bytes each) and inner[missing[i]]. Returns false if the
// submatrix of `rows` is singular (never for a Cauchy generator; checked anyway).
bool rs_rebuild(std::size_t k, std::size_t n, const uint8_t* rows, const uint8_t* missing, std::size_t missing_count,
                std::size_t part_bytes, const uint8_t* const* src, uint8_t* const* dst, Inner* inner) noexcept;

}  // namespace voxa::split
