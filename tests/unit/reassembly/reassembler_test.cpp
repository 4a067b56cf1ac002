// Reassembly, after VPP's test_reassembly.py checklist: orders, duplicates, overlaps, truncation, fragments before
// the manifest, corrupted parts, timeouts, floods, per-source bounds, late fragments, and missing() ranges.
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "common/bytes.h"
#include "common/clock.h"
#include "reassembly/reassembler.h"
#include "split/codec.h"
#include "split/fragment.h"
#include "split/splitter.h"
#include "support/test_support.h"

namespace voxa::reassembly {
namespace {

using test::random_bytes;

// One message, split and framed: the manifest bytes and every fragment of every part as DATA message data.
struct Framed {
    std::vector<uint8_t> message;
    split::Manifest manifest;
    std::vector<uint8_t> manifest_bytes;
    std::vector<std::vector<std::vector<uint8_t>>> fragments;   // [part][fragment]

    const MessageId& id() const { return manifest.message_id; }
};

Framed make(std::size_t bytes, split::SplitParams p, std::size_t cell_bytes = wire::kCellBytesDefault) {
    Framed f;
    f.message = random_bytes(bytes);
    MessageId id;
    randombytes_buf(id.data(), id.size());
    std::string error;
    auto sm = split::split_message(f.message, p, id, nullptr, crypto::default_provider(), &error);
    EXPECT_TRUE(sm.has_value()) << error;
    f.manifest = sm->manifest();
    f.manifest_bytes.resize(split::manifest_wire_bytes(p.n));
    EXPECT_EQ(split::encode_manifest(f.manifest, f.manifest_bytes), f.manifest_bytes.size());
    f.fragments.resize(p.n);
    std::size_t const count = split::fragments_in_part(f.manifest.part_bytes, cell_bytes);
    for (uint8_t i = 0; i < p.n; ++i) {
        for (uint32_t j = 0; j < count; ++j) {
            std::vector<uint8_t> cell(wire::relay_data_bytes(cell_bytes));
            cell.resize(split::write_fragment(id, i, j, sm->part(i), cell_bytes, cell.data()));
            f.fragments[i].push_back(std::move(cell));
        }
    }
    return f;
}

split::FragmentView view(const std::vector<uint8_t>& data) {
    split::FragmentView v;
    EXPECT_EQ(split::parse_fragment(data, &v), split::FragmentDrop::kNone);
    return v;
}

Drop feed(Reassembler& r, const std::vector<uint8_t>& data, SourceId source = 1) {
    return r.accept_fragment(source, view(data));
}

uint64_t drops(const Reassembler& r, Drop d) { return r.stats().drops[std::size_t(d)]; }

// (part, fragment) pairs of the given parts, in order.
std::vector<std::pair<uint8_t, uint32_t>> schedule(const Framed& f, std::vector<uint8_t> parts) {
    std::vector<std::pair<uint8_t, uint32_t>> out;
    for (uint8_t p : parts)
        for (uint32_t j = 0; j < f.fragments[p].size(); ++j) out.emplace_back(p, j);
    return out;
}

void expect_completed(Reassembler& r, const Framed& f) {
    CompletedMessage done;
    ASSERT_TRUE(r.pop_completed(&done));
    EXPECT_EQ(done.manifest.message_id, f.id());
    EXPECT_TRUE(done.bytes == f.message);
    EXPECT_EQ(r.state(f.id()), MessageState::kCompleted);
}

ReassemblyConfig small_config() {
    ReassemblyConfig c;
    c.messages_max = 16;
    c.bytes_max = 4u << 20;
    c.bytes_per_source_max = 2u << 20;
    return c;
}

class Reassembly : public ::testing::Test {
protected:
    ManualClock clock_;
};

TEST_F(Reassembly, InOrderReversedAndRandomOrder) {
    std::mt19937_64 rng(1);
    for (int order = 0; order < 3; ++order) {
        Reassembler r(small_config(), clock_);
        Framed const f = make(50'000, {3, 5});
        ASSERT_EQ(r.accept_manifest(1, f.manifest_bytes), Drop::kNone);
        EXPECT_EQ(r.state(f.id()), MessageState::kInProgress);
        auto s = schedule(f, {0, 1, 2, 3, 4});
        if (order == 1) std::reverse(s.begin(), s.end());
        if (order == 2) std::shuffle(s.begin(), s.end(), rng);
        for (auto [p, j] : s) {
            Drop const d = feed(r, f.fragments[p][j]);
            EXPECT_TRUE(d == Drop::kNone || d == Drop::kLate) << drop_name(d);
        }
        expect_completed(r, f);
        EXPECT_EQ(r.stats().completed, 1u);
        EXPECT_EQ(r.stats().parts_verified, 3u) << "stops at k parts";
        EXPECT_EQ(r.stats().bytes_in_flight, 0u);
        EXPECT_EQ(r.stats().messages_in_flight, 0u);
        EXPECT_GT(r.stats().bytes_in_flight_peak, 0u);
        CompletedMessage none;
        EXPECT_FALSE(r.pop_completed(&none));
    }
}

TEST_F(Reassembly, DuplicatesAndOverlappingIndices) {
    std::mt19937_64 rng(2);
    Reassembler r(small_config(), clock_);
    Framed const f = make(40'000, {2, 4});
    ASSERT_EQ(r.accept_manifest(1, f.manifest_bytes), Drop::kNone);
    ASSERT_EQ(feed(r, f.fragments[0][0]), Drop::kNone);
    EXPECT_EQ(feed(r, f.fragments[0][0]), Drop::kDuplicate);
    // Same index, different bytes: still a duplicate; the first copy wins.
    auto other = f.fragments[0][0];
    other.back() ^= 0xff;
    EXPECT_EQ(feed(r, other), Drop::kDuplicate);
    auto s = schedule(f, {0, 1});
    auto twice = s;
    twice.insert(twice.end(), s.begin(), s.end());
    std::shuffle(twice.begin() + 1, twice.end(), rng);
    for (auto [p, j] : twice) feed(r, f.fragments[p][j]);
    expect_completed(r, f);
    EXPECT_GE(drops(r, Drop::kDuplicate), 2u);
}

TEST_F(Reassembly, TruncatedAndOutOfRangeFragments) {
    Reassembler r(small_config(), clock_);
    Framed const f = make(10'000, {3, 5});
    ASSERT_EQ(r.accept_manifest(1, f.manifest_bytes), Drop::kNone);
    ASSERT_GE(f.fragments[0].size(), 2u);
    auto shorter = f.fragments[0][0];
    shorter.pop_back();
    EXPECT_EQ(feed(r, shorter), Drop::kBadFragment);
    // The last fragment with a full fragment's length.
    auto last = f.fragments[0].back();
    last.resize(wire::kFragmentHeaderBytes + wire::fragment_data_bytes(wire::kCellBytesDefault), 0);
    EXPECT_EQ(feed(r, last), Drop::kBadFragment);
    auto last_short = f.fragments[0].back();
    last_short.pop_back();
    EXPECT_EQ(feed(r, last_short), Drop::kBadFragment);
    // part >= n, fragment past the end.
    auto wrong_part = f.fragments[0][0];
    wrong_part[16] = 5;
    EXPECT_EQ(feed(r, wrong_part), Drop::kFragmentRange);
    auto wrong_index = f.fragments[0][0];
    store_u32(&wrong_index[20], uint32_t(f.fragments[0].size()));
    EXPECT_EQ(feed(r, wrong_index), Drop::kFragmentRange);
    EXPECT_EQ(drops(r, Drop::kBadFragment), 3u);
    EXPECT_EQ(drops(r, Drop::kFragmentRange), 2u);
    EXPECT_EQ(r.stats().bytes_in_flight, 0u) << "no buffer for rejected fragments";
    for (auto [p, j] : schedule(f, {2, 3, 4})) EXPECT_EQ(feed(r, f.fragments[p][j]), Drop::kNone);
    expect_completed(r, f);
}

TEST_F(Reassembly, FragmentsBeforeTheManifest) {
    Reassembler r(small_config(), clock_);
    Framed const f = make(5'000, {3, 5});
    for (auto [p, j] : schedule(f, {0, 1})) EXPECT_EQ(feed(r, f.fragments[p][j]), Drop::kUnknownMessage);
    EXPECT_EQ(r.state(f.id()), MessageState::kUnknown);
    EXPECT_EQ(r.stats().bytes_in_flight, 0u);
    ASSERT_EQ(r.accept_manifest(7, f.manifest_bytes), Drop::kNone);
    for (auto [p, j] : schedule(f, {0, 1, 2})) feed(r, f.fragments[p][j]);
    expect_completed(r, f);
}

TEST_F(Reassembly, ManifestCopiesMustBeIdentical) {
    Reassembler r(small_config(), clock_);
    Framed const f = make(5'000, {3, 5});
    EXPECT_EQ(r.accept_manifest(1, std::vector<uint8_t>(10, 0)), Drop::kBadManifest);
    ASSERT_EQ(r.accept_manifest(1, f.manifest_bytes), Drop::kNone);
    EXPECT_EQ(r.accept_manifest(2, f.manifest_bytes), Drop::kNone);
    auto changed = f.manifest_bytes;
    changed[100] ^= 1;   // a digest
    EXPECT_EQ(r.accept_manifest(2, changed), Drop::kManifestMismatch);
    auto flags = f.manifest_bytes;
    flags[1] ^= 1;
    EXPECT_EQ(r.accept_manifest(3, flags), Drop::kManifestMismatch);
    EXPECT_EQ(drops(r, Drop::kBadManifest), 1u);
    EXPECT_EQ(drops(r, Drop::kManifestMismatch), 2u);
    for (auto [p, j] : schedule(f, {0, 1, 2})) feed(r, f.fragments[p][j]);
    expect_completed(r, f);
}

TEST_F(Reassembly, CorruptedPartIsRejectedAndMessageCompletesFromOthers) {
    Reassembler r(small_config(), clock_);
    Framed const f = make(30'000, {3, 5});
    ASSERT_EQ(r.accept_manifest(1, f.manifest_bytes), Drop::kNone);
    auto bad = f.fragments[1][2];
    bad[30] ^= 0x04;
    for (uint32_t j = 0; j < f.fragments[1].size(); ++j) {
        EXPECT_EQ(feed(r, j == 2 ? bad : f.fragments[1][j]), Drop::kNone);
    }
    // Complete but not verified yet: nothing is missing, and it is not in the verified mask.
    Range whole[2];
    EXPECT_EQ(r.missing(f.id(), 1, whole), 0u) << "a complete part waiting for its batch misses nothing";
    EXPECT_EQ(r.verified_parts_mask(f.id()), 0u);
    EXPECT_EQ(feed(r, f.fragments[1][0]), Drop::kDuplicate);
    EXPECT_EQ(r.stats().parts_rejected, 0u);
    // Parts 0 and 3 make k complete parts: the fragment that completes the batch reports the bad part.
    auto s = schedule(f, {0, 3});
    for (std::size_t i = 0; i + 1 < s.size(); ++i) {
        EXPECT_EQ(feed(r, f.fragments[s[i].first][s[i].second]), Drop::kNone);
    }
    EXPECT_EQ(feed(r, f.fragments[s.back().first][s.back().second]), Drop::kPartDigest);
    EXPECT_EQ(r.stats().parts_rejected, 1u);
    EXPECT_EQ(r.stats().parts_verified, 2u);
    EXPECT_EQ(drops(r, Drop::kPartDigest), 1u);
    EXPECT_EQ(r.stats().bytes_in_flight, 2u * f.manifest.part_bytes) << "the rejected part's buffer is freed";
    EXPECT_EQ(r.verified_parts_mask(f.id()), 0b01001);
    EXPECT_EQ(r.state(f.id()), MessageState::kInProgress);
    ASSERT_EQ(r.missing(f.id(), 1, whole), 1u) << "the whole part is missing again";
    EXPECT_EQ(whole[0].first, 0u);
    EXPECT_EQ(whole[0].last, f.fragments[1].size() - 1);
    for (auto [p, j] : schedule(f, {4})) feed(r, f.fragments[p][j]);
    EXPECT_EQ(r.stats().parts_verified, 3u);
    expect_completed(r, f);
}

TEST_F(Reassembly, BatchWithSeveralBadPartsWaitsForGoodOnes) {
    Reassembler r(small_config(), clock_);
    Framed const f = make(40'000, {3, 6});
    ASSERT_EQ(r.accept_manifest(1, f.manifest_bytes), Drop::kNone);
    auto bad0 = f.fragments[0].back();
    bad0.back() ^= 0x01;
    auto bad2 = f.fragments[2][0];
    bad2[24] ^= 0x10;
    for (uint32_t j = 0; j + 1 < f.fragments[0].size(); ++j) EXPECT_EQ(feed(r, f.fragments[0][j]), Drop::kNone);
    EXPECT_EQ(feed(r, bad0), Drop::kNone);
    for (auto [p, j] : schedule(f, {1})) EXPECT_EQ(feed(r, f.fragments[p][j]), Drop::kNone);
    EXPECT_EQ(feed(r, bad2), Drop::kNone);
    for (uint32_t j = 1; j + 1 < f.fragments[2].size(); ++j) EXPECT_EQ(feed(r, f.fragments[2][j]), Drop::kNone);
    EXPECT_EQ(r.verified_parts_mask(f.id()), 0u) << "two complete parts of k = 3: nothing hashed yet";
    EXPECT_EQ(feed(r, f.fragments[2].back()), Drop::kPartDigest);
    EXPECT_EQ(r.stats().parts_rejected, 2u);
    EXPECT_EQ(drops(r, Drop::kPartDigest), 2u) << "counted once per rejected part";
    EXPECT_EQ(r.verified_parts_mask(f.id()), 0b010);
    EXPECT_EQ(r.stats().bytes_in_flight, f.manifest.part_bytes);
    // One more part is not enough (1 verified + 1 complete < 3); the next completes the message.
    for (auto [p, j] : schedule(f, {4})) EXPECT_EQ(feed(r, f.fragments[p][j]), Drop::kNone);
    EXPECT_EQ(r.verified_parts_mask(f.id()), 0b010);
    Range none[1];
    EXPECT_EQ(r.missing(f.id(), 4, none), 0u);
    for (auto [p, j] : schedule(f, {5})) EXPECT_EQ(feed(r, f.fragments[p][j]), Drop::kNone);
    EXPECT_EQ(r.stats().parts_verified, 3u);
    expect_completed(r, f);
    EXPECT_EQ(feed(r, f.fragments[3][0]), Drop::kLate);
}

TEST_F(Reassembly, EvictionFreesCompleteUnverifiedParts) {
    ReassemblyConfig c = small_config();
    c.messages_max = 1;
    Reassembler r(c, clock_);
    Framed const f = make(20'000, {3, 5});
    Framed const g = make(20'000, {3, 5});
    ASSERT_EQ(r.accept_manifest(1, f.manifest_bytes), Drop::kNone);
    for (auto [p, j] : schedule(f, {0, 1})) EXPECT_EQ(feed(r, f.fragments[p][j]), Drop::kNone);
    EXPECT_EQ(r.stats().bytes_in_flight, 2u * f.manifest.part_bytes);
    ASSERT_EQ(r.accept_manifest(1, g.manifest_bytes), Drop::kNone);
    EXPECT_EQ(r.stats().evicted_pressure, 1u);
    EXPECT_EQ(r.stats().bytes_in_flight, 0u);
    EXPECT_EQ(feed(r, f.fragments[2][0]), Drop::kUnknownMessage);
    for (auto [p, j] : schedule(g, {4, 2, 0})) EXPECT_EQ(feed(r, g.fragments[p][j]), Drop::kNone);
    expect_completed(r, g);
    EXPECT_EQ(r.stats().parts_verified, 3u) << "the evicted message's complete parts were never hashed";
}

// Fragments of several messages interleaved one by one, an evicted message whose slot is taken by another, and
// late fragments of two finished messages alternating: every fragment goes to its own message.
TEST_F(Reassembly, InterleavedMessagesAndSlotReuse) {
    ReassemblyConfig c = small_config();
    c.messages_max = 2;
    Reassembler r(c, clock_);
    Framed const a = make(9'000, {2, 3});
    Framed const b = make(7'000, {2, 3});
    Framed const e = make(5'000, {2, 3});
    ASSERT_EQ(r.accept_manifest(1, a.manifest_bytes), Drop::kNone);
    ASSERT_EQ(r.accept_manifest(1, b.manifest_bytes), Drop::kNone);
    auto sa = schedule(a, {2, 0});
    auto sb = schedule(b, {1, 2});
    for (std::size_t i = 0; i < std::max(sa.size(), sb.size()); ++i) {
        if (i < sa.size()) {
            EXPECT_EQ(feed(r, a.fragments[sa[i].first][sa[i].second]), Drop::kNone);
        }
        if (i < sb.size()) {
            EXPECT_EQ(feed(r, b.fragments[sb[i].first][sb[i].second]), Drop::kNone);
        }
    }
    expect_completed(r, b);   // fewer fragments: it finishes first
    expect_completed(r, a);
    for (uint32_t j = 0; j < a.fragments[1].size(); ++j) {
        EXPECT_EQ(feed(r, a.fragments[1][j]), Drop::kLate);
        EXPECT_EQ(feed(r, b.fragments[0][j % b.fragments[0].size()]), Drop::kLate);
    }
    // Slot reuse: `a2` is filled, evicted by two newer manifests, and its fragments are unknown afterwards.
    Framed const a2 = make(9'000, {2, 3});
    ASSERT_EQ(r.accept_manifest(1, a2.manifest_bytes), Drop::kNone);
    EXPECT_EQ(feed(r, a2.fragments[0][0]), Drop::kNone);
    ASSERT_EQ(r.accept_manifest(1, e.manifest_bytes), Drop::kNone);
    Framed const g = make(6'000, {2, 3});
    ASSERT_EQ(r.accept_manifest(1, g.manifest_bytes), Drop::kNone);
    EXPECT_EQ(r.state(a2.id()), MessageState::kUnknown);
    EXPECT_EQ(feed(r, a2.fragments[0][1]), Drop::kUnknownMessage);
    for (auto [p, j] : schedule(g, {0, 1})) EXPECT_EQ(feed(r, g.fragments[p][j]), Drop::kNone);
    for (auto [p, j] : schedule(e, {1, 2})) EXPECT_EQ(feed(r, e.fragments[p][j]), Drop::kNone);
    expect_completed(r, g);
    expect_completed(r, e);
    EXPECT_EQ(r.stats().bytes_in_flight, 0u);
}

TEST_F(Reassembly, RejectedPartCanBeResent) {
    Reassembler r(small_config(), clock_);
    Framed const f = make(30'000, {2, 2});
    ASSERT_EQ(r.accept_manifest(1, f.manifest_bytes), Drop::kNone);
    auto bad = f.fragments[0][0];
    bad[40] ^= 1;
    feed(r, bad);
    for (uint32_t j = 1; j < f.fragments[0].size(); ++j) feed(r, f.fragments[0][j]);
    EXPECT_EQ(r.stats().parts_rejected, 0u) << "verified only with k complete parts";
    auto s = schedule(f, {1});
    for (std::size_t i = 0; i + 1 < s.size(); ++i) {
        EXPECT_EQ(feed(r, f.fragments[s[i].first][s[i].second]), Drop::kNone);
    }
    EXPECT_EQ(feed(r, f.fragments[s.back().first][s.back().second]), Drop::kPartDigest);
    EXPECT_EQ(r.stats().parts_rejected, 1u);
    EXPECT_EQ(r.verified_parts_mask(f.id()), 0b10);
    EXPECT_EQ(feed(r, f.fragments[1][0]), Drop::kDuplicate);
    for (auto [p, j] : schedule(f, {0})) EXPECT_EQ(feed(r, f.fragments[p][j]), Drop::kNone);
    expect_completed(r, f);
}

TEST_F(Reassembly, WrongTailFailsTheCanaryAndIsRemembered) {
    Reassembler r(small_config(), clock_);
    Framed f = make(8'000, {2, 3});
    f.manifest_bytes[60] ^= 1;   // in the tail: every digest still verifies, the key comes out wrong
    ASSERT_EQ(r.accept_manifest(1, f.manifest_bytes), Drop::kNone);
    auto s = schedule(f, {0, 1});
    for (std::size_t i = 0; i + 1 < s.size(); ++i) {
        EXPECT_EQ(feed(r, f.fragments[s[i].first][s[i].second]), Drop::kNone);
    }
    EXPECT_EQ(feed(r, f.fragments[s.back().first][s.back().second]), Drop::kCanary);
    EXPECT_EQ(r.state(f.id()), MessageState::kFailed);
    EXPECT_EQ(drops(r, Drop::kCanary), 1u);
    EXPECT_EQ(r.stats().completed, 0u);
    EXPECT_EQ(r.stats().bytes_in_flight, 0u);
    CompletedMessage done;
    EXPECT_FALSE(r.pop_completed(&done));
    EXPECT_EQ(feed(r, f.fragments[2][0]), Drop::kLate);
}

TEST_F(Reassembly, AgeEviction) {
    ReassemblyConfig c = small_config();
    c.age_ns = 30 * kNsPerS;
    Reassembler r(c, clock_);
    Framed const a = make(20'000, {3, 5});
    Framed const b = make(20'000, {3, 5});
    ASSERT_EQ(r.accept_manifest(1, a.manifest_bytes), Drop::kNone);
    feed(r, a.fragments[0][0]);
    clock_.advance_ns(20 * kNsPerS);
    ASSERT_EQ(r.accept_manifest(1, b.manifest_bytes), Drop::kNone);
    feed(r, b.fragments[0][0]);
    clock_.advance_ns(10 * kNsPerS);
    r.expire();
    EXPECT_EQ(r.stats().evicted_age, 0u) << "exactly age_ns old is not older than age_ns";
    clock_.advance_ns(1);
    r.expire();
    EXPECT_EQ(r.stats().evicted_age, 1u);
    EXPECT_EQ(r.state(a.id()), MessageState::kUnknown);
    EXPECT_EQ(r.state(b.id()), MessageState::kInProgress);
    EXPECT_EQ(r.stats().bytes_in_flight, b.manifest.part_bytes);
    EXPECT_EQ(feed(r, a.fragments[0][1]), Drop::kUnknownMessage);
    clock_.advance_ns(20 * kNsPerS);
    r.expire();
    EXPECT_EQ(r.stats().evicted_age, 2u);
    EXPECT_EQ(r.stats().bytes_in_flight, 0u);
    EXPECT_EQ(r.stats().messages_in_flight, 0u);
}

TEST_F(Reassembly, FloodOfDuplicatesDoesNotGrow) {
    Reassembler r(small_config(), clock_);
    Framed const f = make(20'000, {3, 5});
    ASSERT_EQ(r.accept_manifest(1, f.manifest_bytes), Drop::kNone);
    ASSERT_EQ(feed(r, f.fragments[0][0]), Drop::kNone);
    uint64_t const bytes = r.stats().bytes_in_flight;
    for (int i = 0; i < 100'000; ++i) feed(r, f.fragments[0][0]);
    for (int i = 0; i < 1000; ++i) r.accept_manifest(1, f.manifest_bytes);
    EXPECT_EQ(drops(r, Drop::kDuplicate), 100'000u);
    EXPECT_EQ(r.stats().bytes_in_flight, bytes);
    EXPECT_EQ(r.stats().bytes_in_flight_peak, bytes);
    EXPECT_EQ(r.stats().messages_in_flight, 1u);
}

TEST_F(Reassembly, FloodOfNeverCompletedMessagesStaysBounded) {
    ReassemblyConfig c;
    c.messages_max = 8;
    c.bytes_max = 300'000;
    c.bytes_per_source_max = 300'000;
    Reassembler r(c, clock_);
    std::mt19937_64 rng(3);
    uint64_t part_buffers = 0;
    for (int m = 0; m < 200; ++m) {
        Framed const f = make(20'000 + rng() % 60'000, {3, 5});
        ASSERT_EQ(r.accept_manifest(SourceId(m % 3), f.manifest_bytes), Drop::kNone);
        for (uint8_t p = 0; p < 5; ++p) {
            // One fragment short of complete in every part.
            for (uint32_t j = 0; j + 1 < f.fragments[p].size(); ++j) {
                Drop const d = feed(r, f.fragments[p][j], SourceId(m % 3));
                EXPECT_TRUE(d == Drop::kNone || d == Drop::kOverBudget) << drop_name(d);
                if (d == Drop::kNone && j == 0) ++part_buffers;
                ASSERT_LE(r.stats().bytes_in_flight, c.bytes_max);
                ASSERT_LE(r.stats().messages_in_flight, c.messages_max);
            }
        }
    }
    EXPECT_LE(r.stats().bytes_in_flight_peak, c.bytes_max);
    EXPECT_GT(r.stats().evicted_pressure, 100u);
    EXPECT_EQ(r.stats().completed, 0u);
    EXPECT_GT(part_buffers, 500u);
}

TEST_F(Reassembly, MessagesMaxEvictsTheOldest) {
    ReassemblyConfig c = small_config();
    c.messages_max = 4;
    Reassembler r(c, clock_);
    std::vector<Framed> fs;
    for (int i = 0; i < 6; ++i) {
        fs.push_back(make(1'000, {1, 2}));
        clock_.advance_ns(1);
        ASSERT_EQ(r.accept_manifest(1, fs.back().manifest_bytes), Drop::kNone);
        EXPECT_LE(r.stats().messages_in_flight, 4u);
    }
    EXPECT_EQ(r.stats().evicted_pressure, 2u);
    EXPECT_EQ(r.state(fs[0].id()), MessageState::kUnknown);
    EXPECT_EQ(r.state(fs[1].id()), MessageState::kUnknown);
    for (int i = 2; i < 6; ++i) EXPECT_EQ(r.state(fs[i].id()), MessageState::kInProgress);
    ReassemblyConfig none = small_config();
    none.messages_max = 0;
    Reassembler z(none, clock_);
    EXPECT_EQ(z.accept_manifest(1, fs[0].manifest_bytes), Drop::kTooManyMessages);
}

TEST_F(Reassembly, PerSourceBoundProtectsOtherSources) {
    ReassemblyConfig c = small_config();
    c.bytes_max = 1u << 20;
    c.bytes_per_source_max = 100'000;
    Reassembler r(c, clock_);
    Framed const victim = make(60'000, {3, 5});   // ~20 KB parts
    ASSERT_EQ(r.accept_manifest(2, victim.manifest_bytes), Drop::kNone);
    for (uint8_t p = 0; p < 2; ++p) feed(r, victim.fragments[p][0], 2);
    // A hog on source 1: a message whose parts exceed its share.
    Framed const hog = make(600'000, {3, 5});     // ~200 KB parts
    ASSERT_EQ(r.accept_manifest(1, hog.manifest_bytes), Drop::kNone);
    EXPECT_EQ(feed(r, hog.fragments[0][0], 1), Drop::kOverBudget);
    // Many smaller messages on source 1: it evicts only its own.
    uint64_t over = 0;
    for (int i = 0; i < 10; ++i) {
        Framed const f = make(60'000, {3, 5});
        r.accept_manifest(1, f.manifest_bytes);
        for (uint8_t p = 0; p < 5; ++p) over += feed(r, f.fragments[p][0], 1) == Drop::kOverBudget;
    }
    EXPECT_GT(r.stats().evicted_pressure, 0u);
    EXPECT_EQ(r.state(victim.id()), MessageState::kInProgress) << "source 2's message untouched";
    for (auto [p, j] : schedule(victim, {0, 1, 2})) feed(r, victim.fragments[p][j], 2);
    expect_completed(r, victim);
    CompletedMessage none;
    EXPECT_FALSE(r.pop_completed(&none));
    EXPECT_GE(drops(r, Drop::kOverBudget), 1u + over);
}

TEST_F(Reassembly, LateFragmentsAndManifestsAfterCompletion) {
    ReassemblyConfig c = small_config();
    c.completed_remembered = 2;
    Reassembler r(c, clock_);
    std::vector<Framed> fs;
    for (int i = 0; i < 3; ++i) {
        fs.push_back(make(3'000, {2, 4}));
        ASSERT_EQ(r.accept_manifest(1, fs.back().manifest_bytes), Drop::kNone);
        for (auto [p, j] : schedule(fs.back(), {0, 1})) feed(r, fs.back().fragments[p][j]);
        expect_completed(r, fs.back());
    }
    EXPECT_EQ(feed(r, fs[2].fragments[3][0]), Drop::kLate);
    EXPECT_EQ(r.accept_manifest(1, fs[2].manifest_bytes), Drop::kLate);
    EXPECT_EQ(r.state(fs[1].id()), MessageState::kCompleted);
    EXPECT_EQ(r.state(fs[0].id()), MessageState::kUnknown) << "only completed_remembered ids are kept";
    EXPECT_EQ(drops(r, Drop::kLate), 2u);
    EXPECT_EQ(r.missing(fs[2].id(), 0, std::span<Range>()), 0u);
    EXPECT_EQ(r.verified_parts_mask(fs[2].id()), 0u);
}

TEST_F(Reassembly, PartSourcesAndSeenMask) {
    Reassembler r(small_config(), clock_);
    Framed const f = make(10'000, {2, 4});
    ASSERT_EQ(r.accept_manifest(9, f.manifest_bytes), Drop::kNone);
    feed(r, f.fragments[3][0], 33);
    for (auto [p, j] : schedule(f, {1})) feed(r, f.fragments[p][j], 11);
    for (auto [p, j] : schedule(f, {2})) feed(r, f.fragments[p][j], 22);
    CompletedMessage done;
    ASSERT_TRUE(r.pop_completed(&done));
    EXPECT_TRUE(done.bytes == f.message);
    EXPECT_EQ(done.parts_seen_mask, 0b1110);
    EXPECT_EQ(done.part_source[1], 11u);
    EXPECT_EQ(done.part_source[2], 22u);
    EXPECT_EQ(done.part_source[3], 33u);
}

// missing() against a brute-force reference, with parts spanning many bitmap words (512-byte cells).
TEST_F(Reassembly, MissingRanges) {
    std::mt19937_64 rng(4);
    ReassemblyConfig c = small_config();
    c.cell_bytes = 512;
    Reassembler r(c, clock_);
    Framed const f = make(200'000, {1, 2}, 512);
    std::size_t const count = f.fragments[0].size();
    ASSERT_GT(count, 300u);
    ASSERT_EQ(r.accept_manifest(1, f.manifest_bytes), Drop::kNone);
    std::vector<Range> out(1000);
    ASSERT_EQ(r.missing(f.id(), 0, out), 1u);
    EXPECT_EQ(out[0].first, 0u);
    EXPECT_EQ(out[0].last, count - 1);
    EXPECT_EQ(r.missing(f.id(), 2, out), 0u) << "part out of range";
    std::vector<bool> have(count, false);
    for (int round = 0; round < 6; ++round) {
        // Add runs of various lengths, including ones that cross 64-bit words.
        for (int k = 0; k < 20; ++k) {
            std::size_t const start = rng() % count, len = 1 + rng() % (round < 3 ? 3 : 130);
            for (std::size_t j = start; j < std::min(count - 1, start + len); ++j) {   // never the last: keep going
                if (!have[j]) {
                    ASSERT_EQ(feed(r, f.fragments[0][j]), Drop::kNone);
                }
                have[j] = true;
            }
        }
        std::vector<Range> expect;
        for (std::size_t j = 0; j < count; ++j) {
            if (have[j]) continue;
            if (!expect.empty() && expect.back().last + 1 == j) {
                expect.back().last = uint32_t(j);
            } else {
                expect.push_back({uint32_t(j), uint32_t(j)});
            }
        }
        std::size_t const n = r.missing(f.id(), 0, out);
        ASSERT_EQ(n, expect.size());
        for (std::size_t i = 0; i < n; ++i) {
            EXPECT_EQ(out[i].first, expect[i].first) << i;
            EXPECT_EQ(out[i].last, expect[i].last) << i;
        }
        // Starting at an arbitrary fragment: the same holes, cut at `from`.
        uint32_t const from = uint32_t(rng() % count);
        std::vector<Range> tail;
        for (Range e : expect) {
            if (e.last < from) continue;
            tail.push_back({std::max(e.first, from), e.last});
        }
        std::size_t const m = r.missing(f.id(), 0, out, from);
        ASSERT_EQ(m, tail.size()) << "from " << from;
        for (std::size_t i = 0; i < m; ++i) {
            EXPECT_EQ(out[i].first, tail[i].first) << i;
            EXPECT_EQ(out[i].last, tail[i].last) << i;
        }
        EXPECT_EQ(r.missing(f.id(), 0, out, uint32_t(count)), 0u);
        if (expect.size() > 2) {
            std::vector<Range> two(2);
            ASSERT_EQ(r.missing(f.id(), 0, two), 2u) << "bounded by out.size()";
            EXPECT_EQ(two[1].first, expect[1].first);
        }
    }
    for (std::size_t j = 0; j < count; ++j)
        if (!have[j]) feed(r, f.fragments[0][j]);
    expect_completed(r, f);
}

// The differential property: split, drop up to n-k parts, shuffle, duplicate, corrupt now and then; the result is
// the original message or a counted drop, never a wrong message.
TEST_F(Reassembly, PropertyAnyKPartsInAnyOrder) {
    std::mt19937_64 rng(5);
    Reassembler r(ReassemblyConfig{}, clock_);
    for (int round = 0; round < 300; ++round) {
        uint8_t const n = uint8_t(1 + rng() % 16), k = uint8_t(1 + rng() % n);
        Framed const f = make(1 + rng() % 30'000, {k, n});
        std::vector<uint8_t> parts(n);
        std::iota(parts.begin(), parts.end(), uint8_t(0));
        std::shuffle(parts.begin(), parts.end(), rng);
        parts.resize(k + rng() % (n - k + 1));
        auto s = schedule(f, parts);
        std::size_t const dups = rng() % (s.size() + 1);
        for (std::size_t i = 0; i < dups; ++i) s.push_back(s[rng() % s.size()]);
        std::shuffle(s.begin(), s.end(), rng);
        bool const corrupt = rng() % 4 == 0;
        std::size_t const corrupt_at = rng() % s.size();
        bool manifest_sent = false;
        std::size_t const manifest_at = rng() % 3;   // sometimes after a few fragments
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (i == manifest_at) manifest_sent = r.accept_manifest(1, f.manifest_bytes) == Drop::kNone;
            auto data = f.fragments[s[i].first][s[i].second];
            if (corrupt && i == corrupt_at) data.back() ^= 0x80;
            feed(r, data, SourceId(s[i].first));
        }
        if (!manifest_sent) r.accept_manifest(1, f.manifest_bytes);
        // Fragments that came before the manifest were dropped (kUnknownMessage); the origin re-sends them.
        for (std::size_t i = 0; i < std::min(manifest_at, s.size()); ++i) {
            feed(r, f.fragments[s[i].first][s[i].second], SourceId(s[i].first));
        }
        CompletedMessage done;
        if (r.pop_completed(&done)) {
            EXPECT_EQ(done.manifest.message_id, f.id());
            EXPECT_TRUE(done.bytes == f.message) << "round " << round;
        } else {
            // Only a corruption (or a duplicate of the corrupted fragment's index arriving first) may stop it.
            EXPECT_TRUE(corrupt) << "round " << round;
            EXPECT_GT(drops(r, Drop::kPartDigest), 0u);
        }
        EXPECT_FALSE(r.pop_completed(&done));
    }
    EXPECT_EQ(drops(r, Drop::kCanary), 0u);
}

// The batch hash the reassembler verifies with: every batch size (1 part alone, vector groups of up to 8, more
// than 8 in two groups) and both whole and half final blocks must give each part's own inner hash.
TEST(ReassemblyBatchHash, PartsInnerMatchesOnePartAtATime) {
    for (std::size_t part_bytes : {std::size_t(64), std::size_t(128), std::size_t(1216), std::size_t(16384 + 64)}) {
        for (std::size_t count = 1; count <= wire::kPartsMax; ++count) {
            std::vector<std::vector<uint8_t>> parts(count);
            std::vector<const uint8_t*> ptrs;
            for (auto& p : parts) {
                p = random_bytes(part_bytes);
                ptrs.push_back(p.data());
            }
            std::vector<split::Inner> got(count);
            std::vector<split::Inner*> outs;
            for (auto& g : got) outs.push_back(&g);
            split::parts_inner(ptrs, part_bytes, outs.data());
            for (std::size_t i = 0; i < count; ++i) {
                split::Inner want;
                split::part_inner(parts[i], &want);
                EXPECT_EQ(got[i], want) << "part_bytes " << part_bytes << " count " << count << " part " << i;
            }
        }
    }
}

TEST(ReassemblyDrop, NamesAreDistinct) {
    std::vector<std::string_view> names;
    for (std::size_t d = 0; d < std::size_t(Drop::kCount); ++d) names.push_back(drop_name(Drop(d)));
    std::sort(names.begin(), names.end());
    EXPECT_EQ(std::unique(names.begin(), names.end()), names.end());
    EXPECT_EQ(drop_name(Drop::kPartDigest), "part_digest");
}

}  // namespace
}  // namespace voxa::reassembly
