#include "split/codec.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include <isa-l/erasure_code.h>
#include <sodium.h>

#include "common/bytes.h"
#include "crypto/hash.h"
#include "crypto/secret.h"
#include "split/blake2b_lanes.h"
#include "split/rs.h"
#include "voxa/assert.h"

namespace voxa::split {

void part_inner(std::span<const uint8_t> part, Inner* inner) noexcept {
    crypto::hash(*inner, "voxa.part", {part});
}

void parts_inner(std::span<const uint8_t* const> parts, std::size_t part_bytes, Inner* const* inner) noexcept {
    VOXA_ASSERT(part_bytes > 0 && part_bytes % kPartAlignBytes == 0);
    std::size_t const tail = part_bytes % Blake2bLanes::kBlockBytes ? part_bytes % Blake2bLanes::kBlockBytes
                                                                    : Blake2bLanes::kBlockBytes;
    for (std::size_t first = 0; first < parts.size(); first += Blake2bLanes::kLanesMax) {
        std::size_t const lanes = std::min(Blake2bLanes::kLanesMax, parts.size() - first);
        if (lanes == 1) {   // one stream: libsodium's own code is a little faster than a mostly idle vector
            part_inner({parts[first], part_bytes}, inner[first]);
            continue;
        }
        std::array<const uint8_t*, Blake2bLanes::kLanesMax> in{};
        std::array<uint8_t*, Blake2bLanes::kLanesMax> out{};
        for (std::size_t i = 0; i < lanes; ++i) {
            in[i] = parts[first + i];
            out[i] = inner[first + i]->data();
        }
        Blake2bLanes h(lanes, kInnerBytes, "voxa.part");
        h.update(in.data(), part_bytes - tail);
        for (std::size_t i = 0; i < lanes; ++i) in[i] += part_bytes - tail;
        h.final(in.data(), tail, out.data());
    }
}

void inner_digest(const Inner& inner, std::array<uint8_t, kDigestBytes>* digest) noexcept {
    crypto::hash(*digest, "voxa.digest", {crypto::Bytes(inner)});
}

bool inner_matches(const Manifest& m, std::size_t i, const Inner& inner) noexcept {
    VOXA_ASSERT(i < m.n);
    std::array<uint8_t, kDigestBytes> d;
    inner_digest(inner, &d);
    return sodium_memcmp(d.data(), m.digest[i].data(), kDigestBytes) == 0;
}

void aont_mask(const Manifest& m, std::span<const Inner> inner, std::span<uint8_t, 32> out) noexcept {
    crypto::Hasher h(32, "voxa.aont");
    for (std::size_t i = 0; i < m.k; ++i) h.update(inner[i]);
    uint8_t len_le[8];
    store_u64(len_le, m.message_bytes);
    h.update(crypto::Bytes(len_le, 8));
    h.final(out);
}

bool decode_verified(const Manifest& m, std::span<const std::span<const uint8_t>> parts,
                     std::span<const Inner> inner, uint16_t verified_mask, crypto::Provider provider,
                     std::vector<uint8_t>* out) {
    std::size_t const k = m.k, n = m.n, part_bytes = m.part_bytes;
    VOXA_ASSERT(k >= 1 && k <= n && n <= wire::kPartsMax);
    VOXA_ASSERT(part_bytes % kPartAlignBytes == 0 && k * part_bytes >= m.message_bytes + kCanaryBytes);

    // The k lowest verified parts: every verified data slice is among them, so Reed-Solomon only rebuilds the
    // data slices that are actually missing.
    std::array<uint8_t, wire::kPartsMax> rows{};
    std::size_t have = 0;
    for (std::size_t i = 0; i < n && have < k; ++i) {
        if (verified_mask & (1u << i)) {
            VOXA_ASSERT(i < parts.size() && parts[i].size() == part_bytes && i < inner.size());
            rows[have++] = uint8_t(i);
        }
    }
    if (have < k) return false;

    // c, the k data slices in order. Appended into reserved room rather than sized up front, so the slices held
    // are written once (no zero fill first); only the room for rebuilt slices is zeroed.
    std::vector<uint8_t> buf;
    buf.reserve(k * part_bytes);
    std::array<Inner, wire::kPartsMax> data_inner;
    std::array<uint8_t, wire::kPartsMax> missing{};
    std::size_t missing_count = 0;
    for (std::size_t j = 0; j < k; ++j) {
        if (verified_mask & (1u << j)) {
            buf.insert(buf.end(), parts[j].begin(), parts[j].end());
            data_inner[j] = inner[j];
        } else {
            buf.resize(buf.size() + part_bytes);
            missing[missing_count++] = uint8_t(j);
        }
    }
    VOXA_ASSERT(buf.size() == k * part_bytes);
    if (missing_count > 0) {
        std::array<const uint8_t*, wire::kPartsMax> src{};
        for (std::size_t i = 0; i < k; ++i) src[i] = parts[rows[i]].data();
        std::array<uint8_t*, wire::kPartsMax> dst{};
        for (std::size_t i = 0; i < missing_count; ++i) dst[i] = buf.data() + missing[i] * part_bytes;
        if (!rs_rebuild(k, n, rows.data(), missing.data(), missing_count, part_bytes, src.data(), dst.data(),
                        data_inner.data()))
            return false;
        // A rebuilt slice must hash to its digest; otherwise the parts used were not from one message.
        for (std::size_t i = 0; i < missing_count; ++i) {
            if (!inner_matches(m, missing[i], data_inner[missing[i]])) return false;
        }
    }

    crypto::Key32 key;
    aont_mask(m, data_inner, key.span());
    for (std::size_t i = 0; i < 32; ++i) key.data()[i] ^= m.tail[i];
    auto stream = crypto::make_stream(provider, key.span());
    key.wipe();
    VOXA_CHECK(stream != nullptr);
    uint8_t const nonce[crypto::kStreamNonceBytes] = {};
    std::size_t const plain_bytes = m.message_bytes + kCanaryBytes;
    stream->xor_stream(nonce, buf.data(), plain_bytes);
    if (sodium_is_zero(buf.data() + m.message_bytes, kCanaryBytes) != 1) {
        sodium_memzero(buf.data(), plain_bytes);
        return false;
    }
    buf.resize(m.message_bytes);
    out->swap(buf);
    return true;
}

}  // namespace voxa::split
