// Request splitting: a message becomes n parts, any k of which rebuild it, and fewer than k reveal nothing.
//
//   1. AONT-RS (Resch & Plank) with a tree hash: a random key K encrypts M || 16 zero bytes (the canary) with
//      ChaCha20 (nonce 0); the ciphertext c is zero padded to k * part_bytes and cut into k data slices.
//   2. Systematic Reed-Solomon over GF(2^8) (ISA-L, Cauchy matrix): parts 0..k-1 are the slices, k..n-1 parity.
//   3. inner_i = BLAKE2b-512("voxa.part", part_i), digest_i = BLAKE2b-256("voxa.digest", inner_i) in the manifest.
//   4. tail = K xor BLAKE2b-256("voxa.aont", inner_0 || .. || inner_{k-1} || message_bytes u64 LE), in the manifest.
// Decoding verifies each part against its digest (keeping inner_i), rebuilds missing data slices from any k good
// parts, recovers K from the tail, decrypts and checks the canary. docs/PROTOCOL.md has the byte-exact rules.
//
// Thread-safety: all functions are reentrant; a SplitMessage is an immutable value once built.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/provider.h"
#include "split/manifest.h"
#include "voxa/types.h"

namespace voxa::split {

struct SplitParams {
    uint8_t k = 3, n = 5;
};

// The n parts of one message and its manifest. Owns one contiguous buffer of n * part_bytes (parts in order),
// allocated once by split_message. Move-only.
class SplitMessage {
public:
    SplitMessage(SplitMessage&&) noexcept = default;
    SplitMessage& operator=(SplitMessage&&) noexcept = default;

    const Manifest& manifest() const noexcept { return manifest_; }
    // Part i (i < n), part_bytes long; valid as long as this object.
    std::span<const uint8_t> part(std::size_t i) const noexcept;

private:
    friend std::optional<SplitMessage> split_message(std::span<const uint8_t>, SplitParams, const MessageId&,
                                                     const MessageId*, crypto::Provider, std::string*);
    SplitMessage() = default;

    Manifest manifest_;
    std::unique_ptr<uint8_t[]> parts_;   // n * part_bytes
};

// Splits `message` (1 .. wire::kMessageBytesMax bytes) into params.n parts of which params.k rebuild it.
// `in_reply_to` may be null (no reply: zeros; non-null sets the reply flag). Returns nullopt with *error set
// (if `error` is non-null) for bad k/n (need 1 <= k <= n <= 16) or size. Allocates the parts once; the key K
// comes from libsodium's CSPRNG and is wiped before returning.
std::optional<SplitMessage> split_message(std::span<const uint8_t> message, SplitParams params, const MessageId& id,
                                          const MessageId* in_reply_to, crypto::Provider provider,
                                          std::string* error);

// Decodes from any k verified parts: parts[i] is part i (empty = missing; a wrong-sized part counts as bad);
// entries past n are ignored. On success replaces *out with the message and returns true. Returns false, with
// `out` untouched, if fewer than k parts verify against the manifest digests or the canary is wrong. The caller
// counts the failure. `m` must come from parse_manifest or split_message (its sizes are trusted).
bool decode_message(const Manifest& m, std::span<const std::span<const uint8_t>> parts, crypto::Provider provider,
                    std::vector<uint8_t>* out);

}  // namespace voxa::split
