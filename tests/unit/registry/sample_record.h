// What the registry tests share: fixed identities, and a fully populated, signed record (every field the
// canonical encoding carries) for the record tests and the verification benchmark
// (bench/micro/registry_bench.cpp), so both measure and check the same thing.
#pragma once

#include <array>
#include <cstdint>

#include "crypto/identity.h"
#include "registry/record.h"

namespace voxa::registry::test {

// The node identity seeded with 32 bytes of `n`: the same n is the same node in every test.
inline crypto::Identity identity(uint8_t n) {
    std::array<uint8_t, 32> seed{};
    seed.fill(n);
    return crypto::Identity::from_seed(seed);
}

inline Record sample_record(const crypto::Identity& id, Kind kind, uint64_t now_s) {
    Record r;
    r.kind = kind;
    r.type = kind == Kind::kRelay ? "high_capacity" : "devnet";
    r.capabilities = {"onion", "split/v1", "dns.v2"};
    r.metadata = {{"region", "eu-west"}, {"operator", "Zoë"}};
    if (kind == Kind::kRelay) r.routing_info = {{"exit", "no"}, {"max_circuits", "8192"}};
    r.program_version = "voxa 0.6.0";
    r.ipv4 = "10.0.0.7";
    r.ipv6 = "fd00::7";
    r.port = 9000;
    r.backend = "uring";
    r.capacity = 100;
    r.created_s = now_s - 100;
    r.updated_s = now_s - 10;
    r.expires_s = now_s + 3600;
    r.sequence = 5;
    sign_with_link(r, id, true, now_s - 10);   // a node record too says it relays: legal, and the widest case
    return r;
}

}  // namespace voxa::registry::test
