// A node's long-term identity: an Ed25519 key pair, its node id (BLAKE2b-256 of the public key), and the
// X25519 key pair derived from it for handshakes. Secret keys live only in wiped memory and in files of
// mode 0600 under data/local/.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "crypto/secret.h"
#include "voxa/types.h"

namespace voxa::crypto {

inline constexpr std::size_t kSignatureBytes = 64;
using Signature = std::array<uint8_t, kSignatureBytes>;

// The public half, as other nodes know it (from the directory).
struct PeerIdentity {
    PublicKey ed25519{};   // signing key
    PublicKey x25519{};    // derived static DH key
    NodeId id{};           // BLAKE2b-256(ed25519)

    // Derives x25519 and id from an Ed25519 public key. Returns nullopt if the point is invalid.
    static std::optional<PeerIdentity> from_ed25519(const PublicKey& ed25519);
};

NodeId node_id_of(const PublicKey& ed25519) noexcept;

class Identity {
public:
    // A fresh key pair from the CSPRNG.
    static Identity generate();
    // Deterministic from a 32-byte seed; for tests and the simulated network only.
    static Identity from_seed(std::span<const uint8_t, 32> seed);

    // Loads `dir/node.key` (the 32-byte seed, raw) or creates it with mode 0600 (and `dir` with 0700) if
    // absent. Refuses a key file that is readable by group or others. On error returns nullopt and sets `error`.
    static std::optional<Identity> load_or_create(const std::filesystem::path& dir, std::string* error);

    const PeerIdentity& peer() const noexcept { return peer_; }
    const NodeId& id() const noexcept { return peer_.id; }
    const Key32& x25519_secret() const noexcept { return x25519_secret_; }

    Signature sign(std::span<const uint8_t> message) const noexcept;
    static bool verify(const PublicKey& ed25519, std::span<const uint8_t> message, const Signature& sig) noexcept;

private:
    Identity() = default;
    void derive_from_seed(std::span<const uint8_t, 32> seed);

    PeerIdentity peer_;
    Secret<64> ed25519_secret_;   // libsodium's seed || public key form
    Key32 x25519_secret_;
    Key32 seed_;
};

}  // namespace voxa::crypto
