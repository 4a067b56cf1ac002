// Hashing and key derivation, all BLAKE2b through libsodium.
//
//   hash()  unkeyed or keyed BLAKE2b with a 16-byte personalization (domain separation), out 16..64 bytes.
//   kdf()   HKDF-style expansion with keyed BLAKE2b: out_i = BLAKE2b(key=prk, i || label), 32 bytes each.
//
// Functions are pure and thread-safe; none allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

namespace voxa::crypto {

using Bytes = std::span<const uint8_t>;

// BLAKE2b over the concatenation of `parts` with an optional key (0 or 16..64 bytes) and a personalization
// label (at most 16 characters, zero padded). `out.size()` must be 16..64.
void hash(std::span<uint8_t> out, std::string_view personal, std::initializer_list<Bytes> parts,
          Bytes key = {}) noexcept;

// Derive `outs.size()` 32-byte keys from `ikm` under `label`: prk = BLAKE2b-256(key=salt, ikm), then
// out_i = BLAKE2b-256(key=prk, personal=label, [i]) for i = 1, 2, ... The extract step's personalization is
// "voxa.kdf.extract". At most 8 outputs.
void kdf(std::initializer_list<std::span<uint8_t, 32>> outs, std::string_view label, Bytes ikm,
         Bytes salt = {}) noexcept;

// Streaming BLAKE2b for large inputs (parts of a message): init, update as often as needed, final.
class Hasher {
public:
    Hasher(std::size_t out_bytes, std::string_view personal, Bytes key = {}) noexcept;
    void update(Bytes data) noexcept;
    void final(std::span<uint8_t> out) noexcept;

private:
    alignas(64) unsigned char state_[384];
    std::size_t out_bytes_;
};

}  // namespace voxa::crypto
