// Fuzz target for node descriptors and gossip bodies (dataplane/directory): the input as one descriptor, then as a
// gossip body merged into a small directory, whose own gossip is then merged into a second directory that must end
// up holding exactly the same signed entries. Byte 0 of the input also picks the gossip body size (so the re-split
// is fuzzed) and, past the first merge, a clock jump for expire(). Invariants abort on failure.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/provider.h"
#include "directory/directory.h"
#include "voxa/assert.h"

using namespace voxa;

namespace {

constexpr uint64_t kNow = 1'700'000'000;   // the seeds are issued shortly before this
constexpr std::size_t kEntriesMax = 16;

void check_descriptor(const directory::Descriptor& d) {
    VOXA_CHECK(d.id == crypto::node_id_of(d.ed25519));
    VOXA_CHECK(d.capacity >= 1 && d.capacity <= directory::kCapacityMax);
    VOXA_CHECK(d.endpoint.family == Endpoint::Family::kIpv4 || d.endpoint.family == Endpoint::Family::kIpv6);
    VOXA_CHECK(d.endpoint.port != 0);
    VOXA_CHECK(d.issued_at_s <= kNow + directory::kFutureSkewMaxS);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static bool const ready = crypto::init();
    VOXA_CHECK(ready);
    std::span<const uint8_t> const in(data, size);

    directory::Descriptor d;
    directory::Drop const why = directory::verify_descriptor(in, kNow, directory::kTtlDefaultS, &d);
    VOXA_CHECK(why < directory::Drop::kCount);
    NodeId self{};
    self[0] = 0xee;
    if (why == directory::Drop::kNone) {
        VOXA_CHECK(size == directory::kDescriptorBytes);
        check_descriptor(d);
        directory::Directory one(self);
        directory::Descriptor held;
        VOXA_CHECK(d.id == self || one.merge(in, kNow, &held) == directory::Directory::Merge::kNew);
        VOXA_CHECK(d.id == self || held == d);
    }

    directory::Directory a(self, directory::kTtlDefaultS, kEntriesMax);
    auto const changed = a.merge_gossip(in, kNow);
    VOXA_CHECK(a.size() <= kEntriesMax);
    VOXA_CHECK(changed.size() == a.size());   // a started empty: every change is a new entry
    for (const auto& c : changed) check_descriptor(c);
    uint64_t drops = 0;
    for (std::size_t i = 0; i < std::size_t(directory::Drop::kCount); ++i) drops += a.drops()[i];
    VOXA_CHECK(drops >= 1 || !changed.empty());   // every body either merges something or counts why not

    // Re-gossip what a holds; b (another self) must end with the same entries.
    std::size_t const body_bytes =
        directory::kGossipHeaderBytes + directory::kDescriptorBytes * (1 + (size > 0 ? data[0] % 12 : 0));
    NodeId other{};
    other[0] = 0xdd;
    directory::Directory b(other, directory::kTtlDefaultS, kEntriesMax);
    std::size_t bodies_descs = 0;
    for (const auto& body : a.gossip_bodies({}, body_bytes)) {
        VOXA_CHECK(body.size() <= body_bytes && body.size() >= directory::kGossipHeaderBytes);
        bodies_descs += body[0];
        b.merge_gossip(body, kNow);
    }
    VOXA_CHECK(bodies_descs == a.size());
    VOXA_CHECK(b.entries() == a.entries());

    // Time passes: everything issued by kNow + 300 is gone after kNow + 300 + ttl.
    uint64_t const later_s = kNow + (size > 1 ? uint64_t(data[1]) * 60 : 0);
    std::size_t const before = b.size();
    std::size_t const gone = b.expire(later_s);
    VOXA_CHECK(gone + b.size() == before);
    std::size_t const remaining = b.size();
    uint64_t const end_s = kNow + directory::kFutureSkewMaxS + directory::kTtlDefaultS + 1;
    VOXA_CHECK(b.expire(end_s) == remaining);
    VOXA_CHECK(b.size() == 0 && b.expire(end_s) == 0);
    (void)b.to_json();
    return 0;
}
