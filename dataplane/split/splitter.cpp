#include "split/splitter.h"

#include <cstring>

#include <sodium.h>

#include "crypto/secret.h"
#include "split/codec.h"
#include "split/rs.h"
#include "voxa/assert.h"

namespace voxa::split {

std::span<const uint8_t> SplitMessage::part(std::size_t i) const noexcept {
    VOXA_ASSERT(i < manifest_.n);
    return {parts_.get() + i * manifest_.part_bytes, manifest_.part_bytes};
}

std::optional<SplitMessage> split_message(std::span<const uint8_t> message, SplitParams params, const MessageId& id,
                                          const MessageId* in_reply_to, crypto::Provider provider,
                                          std::string* error) {
    if (params.k < 1 || params.k > params.n || params.n > wire::kPartsMax) {
        if (error) {
            *error = "split: need 1 <= k <= n <= " + std::to_string(wire::kPartsMax) + ", got k=" +
                     std::to_string(params.k) + " n=" + std::to_string(params.n);
        }
        return std::nullopt;
    }
    if (message.empty() || message.size() > wire::kMessageBytesMax) {
        if (error) {
            *error = "split: message of " + std::to_string(message.size()) + " bytes; need 1.." +
                     std::to_string(wire::kMessageBytesMax);
        }
        return std::nullopt;
    }
    std::size_t const k = params.k, n = params.n;
    uint32_t const part_bytes = part_bytes_for(message.size(), params.k);
    VOXA_CHECK(part_bytes != 0);

    SplitMessage sm;
    Manifest& m = sm.manifest_;
    m.flags = in_reply_to ? kManifestFlagReply : 0;
    m.k = params.k;
    m.n = params.n;
    m.message_id = id;
    if (in_reply_to) m.in_reply_to = *in_reply_to;
    m.message_bytes = message.size();
    m.part_bytes = part_bytes;

    // c = ChaCha20(K, 0)(M || canary), zero padded to k slices; parity parts follow in the same buffer.
    std::size_t const plain_bytes = message.size() + kCanaryBytes;
    sm.parts_.reset(new uint8_t[n * part_bytes]);
    uint8_t* c = sm.parts_.get();
    std::memcpy(c, message.data(), message.size());
    std::memset(c + message.size(), 0, k * part_bytes - message.size());
    crypto::Key32 key;
    randombytes_buf(key.data(), key.size());
    {
        auto stream = crypto::make_stream(provider, key.span());
        VOXA_CHECK(stream != nullptr);
        uint8_t const nonce[crypto::kStreamNonceBytes] = {};
        stream->xor_stream(nonce, c, plain_bytes);
    }

    std::array<Inner, wire::kPartsMax> inner;
    rs_encode_and_hash(k, n, part_bytes, c, inner.data());
    for (std::size_t i = 0; i < n; ++i) inner_digest(inner[i], &m.digest[i]);
    aont_mask(m, inner, m.tail);
    for (std::size_t i = 0; i < kTailBytes; ++i) m.tail[i] ^= key.data()[i];
    sodium_memzero(inner.data(), sizeof inner);
    return std::optional<SplitMessage>(std::move(sm));
}

bool decode_message(const Manifest& m, std::span<const std::span<const uint8_t>> parts, crypto::Provider provider,
                    std::vector<uint8_t>* out) {
    std::size_t const n = std::min<std::size_t>(m.n, parts.size());
    std::array<Inner, wire::kPartsMax> inner;
    uint16_t verified = 0;
    std::size_t verified_count = 0;
    // Parts in index order: data slices first, so a complete set of data slices decodes without Reed-Solomon.
    // Stop hashing once k parts verify: the rest cannot change the result.
    for (std::size_t i = 0; i < n && verified_count < m.k; ++i) {
        if (parts[i].size() != m.part_bytes) continue;
        part_inner(parts[i], &inner[i]);
        if (!inner_matches(m, i, inner[i])) continue;
        verified = uint16_t(verified | (1u << i));
        ++verified_count;
    }
    if (verified_count < m.k) return false;
    return decode_verified(m, parts, inner, verified, provider, out);
}

}  // namespace voxa::split
