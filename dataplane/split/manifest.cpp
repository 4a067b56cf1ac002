#include "split/manifest.h"

#include <cstring>

#include "common/bytes.h"
#include "voxa/assert.h"

namespace voxa::split {
namespace {

// Field offsets, in wire order.
constexpr std::size_t kOffVersion = 0, kOffFlags = 1, kOffK = 2, kOffN = 3, kOffRsv0 = 4, kOffMessageId = 8,
                      kOffInReplyTo = 24, kOffMessageBytes = 40, kOffPartBytes = 48, kOffRsv1 = 52, kOffTail = 56,
                      kOffDigest = 88;
static_assert(kOffDigest == kManifestFixedBytes);
static_assert(kOffTail + kTailBytes == kOffDigest);

}  // namespace

std::size_t manifest_wire_bytes(uint8_t n) noexcept { return kManifestFixedBytes + kDigestBytes * std::size_t(n); }

uint32_t part_bytes_for(uint64_t message_bytes, uint8_t k) noexcept {
    if (k == 0 || message_bytes > (uint64_t(1) << 40)) return 0;   // far above any allowed size; avoids overflow
    uint64_t const slice = (message_bytes + kCanaryBytes + k - 1) / k;
    uint64_t const aligned = (slice + kPartAlignBytes - 1) / kPartAlignBytes * kPartAlignBytes;
    if (aligned > UINT32_MAX) return 0;
    return uint32_t(aligned);
}

std::size_t encode_manifest(const Manifest& m, std::span<uint8_t> out) noexcept {
    VOXA_ASSERT(m.k >= 1 && m.k <= m.n && m.n <= wire::kPartsMax);
    std::size_t const bytes = manifest_wire_bytes(m.n);
    if (out.size() < bytes) return 0;
    uint8_t* p = out.data();
    p[kOffVersion] = m.version;
    p[kOffFlags] = m.flags;
    p[kOffK] = m.k;
    p[kOffN] = m.n;
    store_u32(p + kOffRsv0, 0);
    std::memcpy(p + kOffMessageId, m.message_id.data(), kMessageIdBytes);
    std::memcpy(p + kOffInReplyTo, m.in_reply_to.data(), kMessageIdBytes);
    store_u64(p + kOffMessageBytes, m.message_bytes);
    store_u32(p + kOffPartBytes, m.part_bytes);
    store_u32(p + kOffRsv1, 0);
    std::memcpy(p + kOffTail, m.tail.data(), kTailBytes);
    for (std::size_t i = 0; i < m.n; ++i) std::memcpy(p + kOffDigest + kDigestBytes * i, m.digest[i].data(), kDigestBytes);
    return bytes;
}

ManifestDrop parse_manifest(std::span<const uint8_t> in, std::size_t message_bytes_max, Manifest* out) noexcept {
    if (in.size() < kManifestFixedBytes) return ManifestDrop::kBadSize;
    const uint8_t* p = in.data();
    if (p[kOffVersion] != kManifestVersion) return ManifestDrop::kBadVersion;
    uint8_t const k = p[kOffK], n = p[kOffN];
    if (k == 0 || k > n || n > wire::kPartsMax) return ManifestDrop::kBadCounts;
    if (in.size() != manifest_wire_bytes(n)) return ManifestDrop::kBadSize;
    if (load_u32(p + kOffRsv0) != 0 || load_u32(p + kOffRsv1) != 0) return ManifestDrop::kReservedNonZero;
    uint64_t const message_bytes = load_u64(p + kOffMessageBytes);
    if (message_bytes == 0 || message_bytes > message_bytes_max) return ManifestDrop::kBadMessageBytes;
    uint32_t const part_bytes = load_u32(p + kOffPartBytes);
    if (part_bytes != part_bytes_for(message_bytes, k)) return ManifestDrop::kBadPartBytes;

    out->version = p[kOffVersion];
    out->flags = p[kOffFlags];
    out->k = k;
    out->n = n;
    std::memcpy(out->message_id.data(), p + kOffMessageId, kMessageIdBytes);
    std::memcpy(out->in_reply_to.data(), p + kOffInReplyTo, kMessageIdBytes);
    out->message_bytes = message_bytes;
    out->part_bytes = part_bytes;
    std::memcpy(out->tail.data(), p + kOffTail, kTailBytes);
    for (std::size_t i = 0; i < wire::kPartsMax; ++i) {
        if (i < n) {
            std::memcpy(out->digest[i].data(), p + kOffDigest + kDigestBytes * i, kDigestBytes);
        } else {
            out->digest[i].fill(0);
        }
    }
    return ManifestDrop::kNone;
}

}  // namespace voxa::split
