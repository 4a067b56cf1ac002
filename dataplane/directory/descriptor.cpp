#include "directory/descriptor.h"

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "voxa/assert.h"

namespace voxa::directory {

namespace {

constexpr std::size_t kSignedInputBytes = kDescriptorContext.size() + kDescriptorSignedBytes;

// The exact bytes the signature covers: the context prefix, then the descriptor up to the signature. The prefix
// keeps a descriptor signature from ever being valid as any other signature made with the identity key.
std::array<uint8_t, kSignedInputBytes> signed_input(const uint8_t* descriptor) noexcept {
    std::array<uint8_t, kSignedInputBytes> in;
    std::memcpy(in.data(), kDescriptorContext.data(), kDescriptorContext.size());
    std::memcpy(in.data() + kDescriptorContext.size(), descriptor, kDescriptorSignedBytes);
    return in;
}

bool all_zero(const uint8_t* p, std::size_t n) noexcept {
    return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

}  // namespace

std::string_view drop_name(Drop d) noexcept {
    switch (d) {
        case Drop::kNone: return "none";
        case Drop::kBadSize: return "bad_size";
        case Drop::kBadVersion: return "bad_version";
        case Drop::kBadField: return "bad_field";
        case Drop::kBadSignature: return "bad_signature";
        case Drop::kFromFuture: return "from_future";
        case Drop::kExpired: return "expired";
        case Drop::kBadBody: return "bad_body";
        case Drop::kFull: return "full";
        case Drop::kGossipOff: return "gossip_off";
        case Drop::kCount: break;
    }
    return "unknown";
}

std::array<uint8_t, kDescriptorBytes> sign_descriptor(const crypto::Identity& self, const Endpoint& endpoint,
                                                      uint32_t capacity, bool relay, uint64_t issued_at_s) {
    VOXA_CHECK(endpoint.family == Endpoint::Family::kIpv4 || endpoint.family == Endpoint::Family::kIpv6);
    VOXA_CHECK(endpoint.port != 0);
    VOXA_CHECK(capacity >= 1 && capacity <= kCapacityMax);

    std::array<uint8_t, kDescriptorBytes> d{};
    d[kOffVersion] = kDescriptorVersion;
    d[kOffFlags] = relay ? kDescriptorFlagRelay : 0;
    d[kOffFamily] = uint8_t(endpoint.family);
    store_u16(&d[kOffPort], endpoint.port);
    std::size_t const addr_bytes = endpoint.family == Endpoint::Family::kIpv4 ? 4 : 16;
    std::memcpy(&d[kOffAddr], endpoint.addr.data(), addr_bytes);
    store_u32(&d[kOffCapacity], capacity);
    store_u64(&d[kOffIssuedAt], issued_at_s);
    std::memcpy(&d[kOffPublicKey], self.peer().ed25519.data(), kPublicKeyBytes);
    auto const in = signed_input(d.data());
    crypto::Signature const sig = self.sign(in);
    std::memcpy(&d[kOffSignature], sig.data(), sig.size());
    return d;
}

Drop decode_descriptor_unverified(std::span<const uint8_t> bytes, uint64_t now_s, uint64_t ttl_s,
                                  Descriptor* out) noexcept {
    if (bytes.size() != kDescriptorBytes) return Drop::kBadSize;
    const uint8_t* const d = bytes.data();
    if (d[kOffVersion] != kDescriptorVersion) return Drop::kBadVersion;
    if ((d[kOffFlags] & ~kDescriptorFlagRelay) != 0 || d[kOffRsv1] != 0 || load_u16(&d[kOffRsv2]) != 0)
        return Drop::kBadField;
    Endpoint endpoint;
    if (d[kOffFamily] == uint8_t(Endpoint::Family::kIpv4)) {
        endpoint.family = Endpoint::Family::kIpv4;
        if (!all_zero(&d[kOffAddr + 4], 12)) return Drop::kBadField;   // one encoding per address
    } else if (d[kOffFamily] == uint8_t(Endpoint::Family::kIpv6)) {
        endpoint.family = Endpoint::Family::kIpv6;
    } else {
        return Drop::kBadField;
    }
    endpoint.port = load_u16(&d[kOffPort]);
    if (endpoint.port == 0) return Drop::kBadField;
    std::memcpy(endpoint.addr.data(), &d[kOffAddr], endpoint.addr.size());
    uint32_t const capacity = load_u32(&d[kOffCapacity]);
    if (capacity < 1 || capacity > kCapacityMax) return Drop::kBadField;

    // Written so that no sum can overflow, whatever issued_at_s holds.
    uint64_t const issued_at_s = load_u64(&d[kOffIssuedAt]);
    if (issued_at_s > now_s && issued_at_s - now_s > kFutureSkewMaxS) return Drop::kFromFuture;
    if (now_s > issued_at_s && now_s - issued_at_s > ttl_s) return Drop::kExpired;

    if (out != nullptr) {
        std::memcpy(out->ed25519.data(), &d[kOffPublicKey], kPublicKeyBytes);
        out->id = crypto::node_id_of(out->ed25519);
        out->endpoint = endpoint;
        out->capacity = capacity;
        out->relay = (d[kOffFlags] & kDescriptorFlagRelay) != 0;
        out->issued_at_s = issued_at_s;
        out->x25519 = {};
    }
    return Drop::kNone;
}

Drop check_descriptor_signature(std::span<const uint8_t> bytes, Descriptor* out) noexcept {
    VOXA_ASSERT(bytes.size() == kDescriptorBytes);
    if (bytes.size() != kDescriptorBytes) return Drop::kBadSize;
    const uint8_t* const d = bytes.data();
    PublicKey key;
    std::memcpy(key.data(), &d[kOffPublicKey], kPublicKeyBytes);
    crypto::Signature sig;
    std::memcpy(sig.data(), &d[kOffSignature], sig.size());
    auto const in = signed_input(d);
    if (!crypto::Identity::verify(key, in, sig)) return Drop::kBadSignature;
    // libsodium's verify already refuses small-order and non-canonical keys; a key that still has no X25519 form
    // could never complete a handshake, so it is refused the same way.
    auto const peer = crypto::PeerIdentity::from_ed25519(key);
    if (!peer) return Drop::kBadSignature;
    if (out != nullptr) out->x25519 = peer->x25519;
    return Drop::kNone;
}

Drop verify_descriptor(std::span<const uint8_t> bytes, uint64_t now_s, uint64_t ttl_s, Descriptor* out) noexcept {
    Descriptor d;
    Drop why = decode_descriptor_unverified(bytes, now_s, ttl_s, &d);
    if (why != Drop::kNone) return why;
    why = check_descriptor_signature(bytes, &d);
    if (why != Drop::kNone) return why;
    if (out != nullptr) *out = d;
    return Drop::kNone;
}

}  // namespace voxa::directory
