#include "split/blake2b_lanes.h"

#include <cstdlib>
#include <cstring>

#include <immintrin.h>
#include <sodium.h>

#include "voxa/assert.h"

namespace voxa::split {
namespace {

constexpr uint64_t kIv[8] = {0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
                             0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
                             0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};

constexpr uint8_t kSigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

// VOXA_BLAKE2B_LANES=scalar forces the one-input-at-a-time fallback, so CPUs without AVX-512 are tested here too
// (tests/unit/split/meson.build runs the split and reassembly suites both ways).
bool forced_scalar() noexcept {
    const char* v = std::getenv("VOXA_BLAKE2B_LANES");
    return v != nullptr && std::strcmp(v, "scalar") == 0;
}

bool cpu_has_avx512() noexcept {
    static bool const has = __builtin_cpu_supports("avx512f") && !forced_scalar();
    return has;
}

bool cpu_has_avx512vl() noexcept {
    static bool const has = cpu_has_avx512() && __builtin_cpu_supports("avx512vl");
    return has;
}

#define VOXA_AVX512 __attribute__((target("avx512f")))
#define VOXA_AVX512VL __attribute__((target("avx2,avx512f,avx512vl")))

// BLAKE2b's G function and its 12 rounds, written once for any vector width: ADD, XOR and ROR are the width's
// 64-bit-lane add, xor and rotate-right. Each lane of v[] is one input's state; m[] holds the message words.
#define VOXA_BLAKE2B_G(ADD, XOR, ROR, a, b, c, d, x, y) \
    do {                                                 \
        v[a] = ADD(ADD(v[a], v[b]), x);                  \
        v[d] = ROR(XOR(v[d], v[a]), 32);                 \
        v[c] = ADD(v[c], v[d]);                          \
        v[b] = ROR(XOR(v[b], v[c]), 24);                 \
        v[a] = ADD(ADD(v[a], v[b]), y);                  \
        v[d] = ROR(XOR(v[d], v[a]), 16);                 \
        v[c] = ADD(v[c], v[d]);                          \
        v[b] = ROR(XOR(v[b], v[c]), 63);                 \
    } while (0)
#define VOXA_BLAKE2B_ROUNDS(ADD, XOR, ROR)                                                   \
    for (int r = 0; r < 12; ++r) {                                                           \
        const uint8_t* s = kSigma[r];                                                        \
        VOXA_BLAKE2B_G(ADD, XOR, ROR, 0, 4, 8, 12, m[s[0]], m[s[1]]);                        \
        VOXA_BLAKE2B_G(ADD, XOR, ROR, 1, 5, 9, 13, m[s[2]], m[s[3]]);                        \
        VOXA_BLAKE2B_G(ADD, XOR, ROR, 2, 6, 10, 14, m[s[4]], m[s[5]]);                       \
        VOXA_BLAKE2B_G(ADD, XOR, ROR, 3, 7, 11, 15, m[s[6]], m[s[7]]);                       \
        VOXA_BLAKE2B_G(ADD, XOR, ROR, 0, 5, 10, 15, m[s[8]], m[s[9]]);                       \
        VOXA_BLAKE2B_G(ADD, XOR, ROR, 1, 6, 11, 12, m[s[10]], m[s[11]]);                     \
        VOXA_BLAKE2B_G(ADD, XOR, ROR, 2, 7, 8, 13, m[s[12]], m[s[13]]);                      \
        VOXA_BLAKE2B_G(ADD, XOR, ROR, 3, 4, 9, 14, m[s[14]], m[s[15]]);                      \
    }
// The zero-masked rotates: the plain ones trip gcc 12's -Wuninitialized inside its own header.
#define VOXA_ROR512(x, n) _mm512_maskz_ror_epi64(__mmask8(0xff), x, n)
#define VOXA_ROR256(x, n) _mm256_maskz_ror_epi64(__mmask8(0xf), x, n)

// One compression of 8 lanes. block[w] holds message word w of every lane; h is h_[word][lane].
VOXA_AVX512 inline void compress8(uint64_t (*h)[Blake2bLanes::kLanesMax], const __m512i* m, uint64_t counter,
                                  bool last) noexcept {
    __m512i v[16];
    for (int i = 0; i < 8; ++i) v[i] = _mm512_load_si512(h[i]);
    for (int i = 0; i < 8; ++i) v[8 + i] = _mm512_set1_epi64(int64_t(kIv[i]));
    v[12] = _mm512_xor_si512(v[12], _mm512_set1_epi64(int64_t(counter)));   // counter < 2^64: t1 stays 0
    if (last) v[14] = _mm512_xor_si512(v[14], _mm512_set1_epi64(-1));
    VOXA_BLAKE2B_ROUNDS(_mm512_add_epi64, _mm512_xor_si512, VOXA_ROR512)
    for (int i = 0; i < 8; ++i) {
        __m512i const hi = _mm512_load_si512(h[i]);
        _mm512_store_si512(h[i], _mm512_xor_si512(hi, _mm512_xor_si512(v[i], v[8 + i])));
    }
}

// Lane i reads in[i] (lanes past `lanes` repeat lane 0; their results are never used).
VOXA_AVX512 void absorb8(uint64_t (*h)[Blake2bLanes::kLanesMax], const uint8_t* const* in, std::size_t lanes,
                         std::size_t len, uint64_t* counter, bool last_block_is_final, std::size_t final_bytes) noexcept {
    alignas(64) int64_t offsets[Blake2bLanes::kLanesMax];
    auto const base = reinterpret_cast<uintptr_t>(in[0]);
    for (std::size_t i = 0; i < Blake2bLanes::kLanesMax; ++i)
        offsets[i] = int64_t(reinterpret_cast<uintptr_t>(in[i < lanes ? i : 0]) - base);
    __m512i const idx = _mm512_load_si512(offsets);
    __m512i m[16];
    for (std::size_t off = 0; off < len; off += Blake2bLanes::kBlockBytes) {
        // The masked form with a zero source, for the same gcc 12 warning as VOXA_ROR.
        for (int w = 0; w < 16; ++w)
            m[w] = _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), __mmask8(0xff), idx, in[0] + off + 8 * w, 1);
        *counter += Blake2bLanes::kBlockBytes;
        compress8(h, m, *counter, false);
    }
    if (last_block_is_final) {
        // The final block, zero padded: read it through a per-lane copy so no lane reads past its input.
        alignas(64) uint64_t words[16][Blake2bLanes::kLanesMax] = {};
        for (std::size_t i = 0; i < Blake2bLanes::kLanesMax; ++i) {
            uint8_t block[Blake2bLanes::kBlockBytes] = {};
            std::memcpy(block, in[i < lanes ? i : 0] + len, final_bytes);
            for (int w = 0; w < 16; ++w) std::memcpy(&words[w][i], block + 8 * w, 8);
        }
        for (int w = 0; w < 16; ++w) m[w] = _mm512_load_si512(words[w]);
        *counter += final_bytes;
        compress8(h, m, *counter, true);
    }
}

// The same for at most 4 lanes in 256-bit registers (h[word][0..3]). Why: 512-bit operations cost two 256-bit
// ones on some cores (AMD Zen 4), so with 4 lanes or fewer the half-width pass is up to twice as fast; the
// reassembler verifies k parts at a time (k = 3 by default).
VOXA_AVX512VL inline void compress4(uint64_t (*h)[Blake2bLanes::kLanesMax], const __m256i* m, uint64_t counter,
                                    bool last) noexcept {
    __m256i v[16];
    for (int i = 0; i < 8; ++i) v[i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(h[i]));
    for (int i = 0; i < 8; ++i) v[8 + i] = _mm256_set1_epi64x(int64_t(kIv[i]));
    v[12] = _mm256_xor_si256(v[12], _mm256_set1_epi64x(int64_t(counter)));
    if (last) v[14] = _mm256_xor_si256(v[14], _mm256_set1_epi64x(-1));
    VOXA_BLAKE2B_ROUNDS(_mm256_add_epi64, _mm256_xor_si256, VOXA_ROR256)
    for (int i = 0; i < 8; ++i) {
        auto* hi = reinterpret_cast<__m256i*>(h[i]);
        _mm256_store_si256(hi, _mm256_xor_si256(_mm256_load_si256(hi), _mm256_xor_si256(v[i], v[8 + i])));
    }
}

// absorb8 for at most 4 lanes. Each lane's 32 bytes at a time are loaded whole and transposed (4 x 4 words), which
// is cheaper than gathering word by word.
VOXA_AVX512VL void absorb4(uint64_t (*h)[Blake2bLanes::kLanesMax], const uint8_t* const* in, std::size_t lanes,
                           std::size_t len, uint64_t* counter, bool last_block_is_final,
                           std::size_t final_bytes) noexcept {
    const uint8_t* p[4];
    for (std::size_t i = 0; i < 4; ++i) p[i] = in[i < lanes ? i : 0];
    __m256i m[16];
    auto const load_block = [&](const uint8_t* const* src) VOXA_AVX512VL {
        for (int q = 0; q < 4; ++q) {   // words 4q .. 4q+3 of every lane
            __m256i const a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src[0] + 32 * q));
            __m256i const b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src[1] + 32 * q));
            __m256i const c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src[2] + 32 * q));
            __m256i const d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src[3] + 32 * q));
            __m256i const ab_lo = _mm256_unpacklo_epi64(a, b), ab_hi = _mm256_unpackhi_epi64(a, b);   // a0 b0 a2 b2
            __m256i const cd_lo = _mm256_unpacklo_epi64(c, d), cd_hi = _mm256_unpackhi_epi64(c, d);
            m[4 * q + 0] = _mm256_permute2x128_si256(ab_lo, cd_lo, 0x20);
            m[4 * q + 1] = _mm256_permute2x128_si256(ab_hi, cd_hi, 0x20);
            m[4 * q + 2] = _mm256_permute2x128_si256(ab_lo, cd_lo, 0x31);
            m[4 * q + 3] = _mm256_permute2x128_si256(ab_hi, cd_hi, 0x31);
        }
    };
    for (std::size_t off = 0; off < len; off += Blake2bLanes::kBlockBytes) {
        const uint8_t* const src[4] = {p[0] + off, p[1] + off, p[2] + off, p[3] + off};
        load_block(src);
        *counter += Blake2bLanes::kBlockBytes;
        compress4(h, m, *counter, false);
    }
    if (last_block_is_final) {
        // The final block, zero padded, through a per-lane copy so no lane reads past its input.
        alignas(32) uint8_t blocks[4][Blake2bLanes::kBlockBytes] = {};
        for (std::size_t i = 0; i < 4; ++i) std::memcpy(blocks[i], p[i] + len, final_bytes);
        const uint8_t* const src[4] = {blocks[0], blocks[1], blocks[2], blocks[3]};
        load_block(src);
        *counter += final_bytes;
        compress4(h, m, *counter, true);
        sodium_memzero(blocks, sizeof blocks);
    }
}

}  // namespace

bool Blake2bLanes::vectorized() noexcept { return cpu_has_avx512(); }

Blake2bLanes::Blake2bLanes(std::size_t lanes, std::size_t out_bytes, std::string_view personal) noexcept
    : lanes_(lanes), out_bytes_(out_bytes) {
    VOXA_CHECK(lanes >= 1 && lanes <= kLanesMax && out_bytes >= 1 && out_bytes <= 64 && personal.size() <= 16);
    if (!cpu_has_avx512()) {
        for (std::size_t i = 0; i < lanes; ++i) fallback_[i].emplace(out_bytes, personal);
        return;
    }
    uint8_t pers[16] = {};
    std::memcpy(pers, personal.data(), personal.size());
    uint64_t p0, p1;
    std::memcpy(&p0, pers, 8);
    std::memcpy(&p1, pers + 8, 8);
    // Parameter block: digest length, key length 0, fanout 1, depth 1; salt 0; personalization.
    uint64_t init[8];
    for (int i = 0; i < 8; ++i) init[i] = kIv[i];
    init[0] ^= 0x01010000ULL ^ uint64_t(out_bytes);
    init[6] ^= p0;
    init[7] ^= p1;
    for (int w = 0; w < 8; ++w)
        for (std::size_t l = 0; l < kLanesMax; ++l) h_[w][l] = init[w];
}

void Blake2bLanes::update(const uint8_t* const* in, std::size_t len) noexcept {
    VOXA_ASSERT(len % kBlockBytes == 0);
    if (len == 0) return;
    if (!cpu_has_avx512()) {
        for (std::size_t i = 0; i < lanes_; ++i) fallback_[i]->update(crypto::Bytes(in[i], len));
        return;
    }
    if (lanes_ <= 4 && cpu_has_avx512vl())
        absorb4(h_, in, lanes_, len, &counter_, false, 0);
    else
        absorb8(h_, in, lanes_, len, &counter_, false, 0);
}

void Blake2bLanes::final(const uint8_t* const* in, std::size_t len, uint8_t* const* out) noexcept {
    VOXA_ASSERT(len >= 1 && len <= kBlockBytes);
    if (!cpu_has_avx512()) {
        for (std::size_t i = 0; i < lanes_; ++i) {
            fallback_[i]->update(crypto::Bytes(in[i], len));
            fallback_[i]->final(std::span<uint8_t>(out[i], out_bytes_));
        }
        return;
    }
    if (lanes_ <= 4 && cpu_has_avx512vl())
        absorb4(h_, in, lanes_, 0, &counter_, true, len);
    else
        absorb8(h_, in, lanes_, 0, &counter_, true, len);
    for (std::size_t i = 0; i < lanes_; ++i) {
        uint8_t full[64];
        for (int w = 0; w < 8; ++w) std::memcpy(full + 8 * w, &h_[w][i], 8);
        std::memcpy(out[i], full, out_bytes_);
        sodium_memzero(full, sizeof full);
    }
    sodium_memzero(h_, sizeof h_);
}

}  // namespace voxa::split
