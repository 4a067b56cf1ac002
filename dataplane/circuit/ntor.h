// Per-hop key agreement: ntor (Tor's one-way authenticated handshake) with X25519 and BLAKE2b.
//
// The client knows the relay's node id ID and static X25519 key B (from the directory). It sends
// CREATE = ID || X (X = x*G, x ephemeral). The relay (static secret b) picks y, Y = y*G, and computes
//   secret_input = X^y || X^b || ID || B || X || Y || PROTOID          PROTOID = "voxa-ntor-x25519-blake2b-1"
//   KEY_SEED     = BLAKE2b-256(personal "voxa-ntor-key",    secret_input)
//   verify       = BLAKE2b-256(personal "voxa-ntor-verify", secret_input)
//   AUTH         = BLAKE2b-256(personal "voxa-ntor-mac",    verify || ID || B || Y || X || PROTOID || "Server")
// and answers CREATED = Y || AUTH. The client computes the same from Y^x and B^x and checks AUTH in constant
// time: only the holder of b can produce it, so the client knows whom it shares the keys with; the relay
// learns nothing about the client. Both sides then expand KEY_SEED with crypto::kdf (label "voxa-ntor-expand")
// into the six hop keys of HopSecrets, in that order. All-zero DH results (low-order points) are refused.
#pragma once

#include <cstdint>
#include <optional>

#include "circuit/cell.h"
#include "crypto/identity.h"
#include "crypto/secret.h"

namespace voxa::circuit {

// One hop's symmetric keys, wiped on destruction. fwd_* serve cells away from the origin, back_* towards it.
struct HopSecrets {
    crypto::Key32 fwd_stream, fwd_nonce, back_stream, back_nonce, fwd_e2e, back_e2e;
};

// The client (origin) half of one handshake: one object per hop being created. Holds the ephemeral secret x,
// wiped on destruction. One thread at a time; circuit setup, not the per-cell path.
class NtorClient {
public:
    // Picks a fresh ephemeral key from the CSPRNG. `relay` is copied.
    explicit NtorClient(const crypto::PeerIdentity& relay);

    // Writes the onionskin ID || X (kOnionskinBytes) to `out` (caller-owned). Same bytes on every call.
    void onionskin(uint8_t out[kOnionskinBytes]) const noexcept;

    // Checks the relay's CREATED body (Y || AUTH, caller-owned) and derives the hop's keys. Returns nullopt if
    // a DH result is all zero (bad Y or B) or AUTH does not verify (tampered Y/AUTH or wrong relay).
    // May be called again (e.g. after a forged reply); x is kept until destruction.
    std::optional<HopSecrets> finish(const uint8_t created[kCreatedBytes]) noexcept;

private:
    crypto::PeerIdentity relay_;
    crypto::Key32 x_;                      // ephemeral secret
    uint8_t X_[32]{};                      // ephemeral public
};

// The relay half. `onionskin` (ID || X) is read from the CREATE body. On success writes CREATED (Y || AUTH)
// to `created_out` and the hop's keys to `*secrets_out` (both caller-owned) and returns Drop::kNone; otherwise
// returns kWrongNode (ID is not ours) or kBadDh (X is a low-order / zero point) and writes nothing useful.
// Any thread (the identity is only read); no allocation.
Drop ntor_server(const crypto::Identity& self, const uint8_t onionskin[kOnionskinBytes],
                 uint8_t created_out[kCreatedBytes], HopSecrets* secrets_out) noexcept;

}  // namespace voxa::circuit
