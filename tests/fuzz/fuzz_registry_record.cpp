// Fuzz target for registry records and name records (plugins/registry/record.h, name_record.h). Byte 0 selects,
// as in the real encodings: 3 decodes a name record, anything else a node/relay record (whose decoder refuses
// kinds other than 1 and 2). Invariants, checked on every accepted input (abort on failure):
//   - one spelling: encode(decode(b)) == b, so a signed record has no second accepted form;
//   - the JSON form round-trips to the same value;
//   - verify() never crashes, and what it accepts has id == BLAKE2b-256(key) and a consistent link descriptor.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "crypto/provider.h"
#include "registry/name_record.h"
#include "registry/record.h"
#include "voxa/assert.h"

using namespace voxa;
using namespace voxa::registry;

namespace {

constexpr uint64_t kNow = 1'800'000'000;   // the seeds are signed shortly before this

void record(std::span<const uint8_t> in) {
    Record r;
    if (decode(in, &r) != Refusal::kNone) return;
    std::vector<uint8_t> const again = encode(r);
    VOXA_CHECK(again.size() == in.size() && std::equal(again.begin(), again.end(), in.begin()));
    Record back;
    std::string why;
    VOXA_CHECK(from_json(to_json(r), r.kind, &back, &why) == Refusal::kNone);
    VOXA_CHECK(back == r);
    if (verify(r, kNow) == Refusal::kNone) {
        VOXA_CHECK(r.id == crypto::node_id_of(r.public_key));
        directory::Descriptor d;
        VOXA_CHECK(directory::verify_descriptor(r.link_descriptor, kNow, UINT64_MAX, &d) == directory::Drop::kNone);
        VOXA_CHECK(d.ed25519 == r.public_key && d.endpoint.port == r.port && d.capacity == r.capacity);
    }
}

void name(std::span<const uint8_t> in) {
    NameRecord n;
    if (decode(in, &n) != Refusal::kNone) return;
    std::vector<uint8_t> const again = encode(n);
    VOXA_CHECK(again.size() == in.size() && std::equal(again.begin(), again.end(), in.begin()));
    NameRecord back;
    std::string why;
    VOXA_CHECK(from_json(to_json(n), &back, &why) == Refusal::kNone);
    VOXA_CHECK(back == n);
    VOXA_CHECK(is_valid_name(n.name));
    if (verify(n, kNow) == Refusal::kNone) {
        VOXA_CHECK(may_replace(nullptr, n, kNow) == Refusal::kNone);
        VOXA_CHECK(may_replace(&n, n, kNow) == Refusal::kReplayed);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static bool const ready = crypto::init();
    VOXA_CHECK(ready);
    std::span<const uint8_t> const in(data, size);
    if (size > 0 && data[0] == kNameTag)
        name(in);
    else
        record(in);
    return 0;
}
