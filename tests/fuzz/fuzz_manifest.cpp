// Fuzz target for the split/reassembly parsers: parse_manifest and parse_fragment on the raw input, then the
// input as a manifest and as a fragment into a small Reassembler, then the input read as a framed session:
//
//   | manifest_len u16 | manifest ... | { record_len u16 | record ... }* |
//
// where each record is DATA message data (a fragment); every other record gets the manifest's message id so the
// fuzzer reaches part assembly, verification and decoding. Records whose first byte is 0xff instead advance the
// clock and expire. Invariants (round trip of a parsed manifest, memory bounds) abort on failure.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "common/bytes.h"
#include "common/clock.h"
#include "crypto/provider.h"
#include "reassembly/reassembler.h"
#include "split/fragment.h"
#include "split/manifest.h"
#include "voxa/assert.h"

using namespace voxa;

namespace {

reassembly::ReassemblyConfig small_config() {
    reassembly::ReassemblyConfig c;
    c.messages_max = 4;
    c.bytes_max = 256u << 10;
    c.bytes_per_source_max = 128u << 10;
    c.message_bytes_max = 1u << 20;
    c.completed_remembered = 8;
    c.age_ns = 5 * kNsPerS;
    return c;
}

void check_bounds(const reassembly::Reassembler& r, const reassembly::ReassemblyConfig& c) {
    VOXA_CHECK(r.stats().bytes_in_flight <= c.bytes_max);
    VOXA_CHECK(r.stats().bytes_in_flight_peak <= c.bytes_max);
    VOXA_CHECK(r.stats().messages_in_flight <= c.messages_max);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static bool const ready = crypto::init();
    VOXA_CHECK(ready);
    std::span<const uint8_t> const in(data, size);

    split::Manifest m;
    if (split::parse_manifest(in, wire::kMessageBytesMax, &m) == split::ManifestDrop::kNone) {
        uint8_t out[split::kManifestBytesMax];
        std::size_t const n = split::encode_manifest(m, out);
        VOXA_CHECK(n == size && std::memcmp(out, data, size) == 0);
    }
    split::FragmentView view;
    (void)split::parse_fragment(in, &view);

    auto const config = small_config();
    ManualClock clock;
    reassembly::Reassembler r(config, clock);
    r.accept_manifest(1, in);
    if (split::parse_fragment(in, &view) == split::FragmentDrop::kNone) r.accept_fragment(1, view);
    check_bounds(r, config);

    // The framed session.
    if (size < 2) return 0;
    std::size_t const manifest_len = load_u16(data);
    if (2 + manifest_len > size) return 0;
    std::span<const uint8_t> const manifest = in.subspan(2, manifest_len);
    bool const parsed = split::parse_manifest(manifest, config.message_bytes_max, &m) == split::ManifestDrop::kNone;
    r.accept_manifest(2, manifest);
    std::vector<uint8_t> record;
    std::size_t at = 2 + manifest_len;
    unsigned index = 0;
    while (at + 2 <= size) {
        std::size_t const len = load_u16(data + at);
        at += 2;
        if (len > size - at) break;
        record.assign(data + at, data + at + len);
        at += len;
        ++index;
        if (!record.empty() && record[0] == 0xff) {
            clock.advance_ns(uint64_t(record.size()) * kNsPerS);
            r.expire();
            r.accept_manifest(3, manifest);
            continue;
        }
        if (parsed && index % 2 == 1 && record.size() >= kMessageIdBytes)
            std::memcpy(record.data(), m.message_id.data(), kMessageIdBytes);
        if (split::parse_fragment(record, &view) == split::FragmentDrop::kNone) {
            r.accept_fragment(view.part % 3, view);
            reassembly::Range ranges[4];
            std::size_t const count = r.missing(view.message_id, view.part, ranges);
            VOXA_CHECK(count <= 4);
            for (std::size_t i = 0; i < count; ++i) VOXA_CHECK(ranges[i].first <= ranges[i].last);
            (void)r.verified_parts_mask(view.message_id);
            (void)r.state(view.message_id);
        }
        check_bounds(r, config);
    }
    reassembly::CompletedMessage done;
    while (r.pop_completed(&done)) {
        VOXA_CHECK(done.bytes.size() == done.manifest.message_bytes);
    }
    return 0;
}
