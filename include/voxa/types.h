// Common value types that cross process and plugin boundaries: node identities and keys as fixed byte arrays.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace voxa {

inline constexpr std::size_t kNodeIdBytes = 32;       // BLAKE2b-256 of the Ed25519 public key
inline constexpr std::size_t kPublicKeyBytes = 32;    // Ed25519 or X25519 public key
inline constexpr std::size_t kMessageIdBytes = 16;    // random per message, known to origin and destination only

using NodeId = std::array<uint8_t, kNodeIdBytes>;
using PublicKey = std::array<uint8_t, kPublicKeyBytes>;
using MessageId = std::array<uint8_t, kMessageIdBytes>;

// Lower-case hex of any byte array; for logs, file names and the API, never for comparisons of secrets.
template <std::size_t N>
std::string to_hex(const std::array<uint8_t, N>& bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * N);
    for (uint8_t b : bytes) {
        out.push_back(kDigits[b >> 4]);
        out.push_back(kDigits[b & 15]);
    }
    return out;
}

}  // namespace voxa
