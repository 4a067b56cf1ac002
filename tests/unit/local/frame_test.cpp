// The local socket's frame codec: round trips, a stream fed one byte at a time, and every malformed header
// rejected (bad length, too long, unknown type per direction, reserved bytes), early where the length says so.
#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>
#include <vector>

#include "common/bytes.h"
#include "local/frame.h"
#include "support/test_support.h"

namespace voxa::local {
namespace {

std::vector<uint8_t> header(uint32_t length, uint8_t type, uint32_t request_id = 7, uint8_t rsv = 0) {
    std::vector<uint8_t> h(kFrameHeaderBytes, 0);
    store_u32(h.data(), length);
    h[4] = type;
    h[5] = rsv;
    store_u32(h.data() + 8, request_id);
    return h;
}

TEST(LocalFrame, HeaderLayoutIsExact) {
    auto const body = test::random_bytes(5);
    auto const f = encode_frame(FrameType::kSend, 0x01020304, {body});
    ASSERT_EQ(f.size(), 12u + 5u);
    EXPECT_EQ(load_u32(f.data()), 8u + 5u);   // bytes after the length field
    EXPECT_EQ(f[4], 0x01);
    EXPECT_EQ(f[5] | f[6] | f[7], 0);
    EXPECT_EQ(load_u32(f.data() + 8), 0x01020304u);
    EXPECT_EQ(0, std::memcmp(f.data() + 12, body.data(), 5));
}

TEST(LocalFrame, RoundTripsManyFramesInOneBuffer) {
    std::vector<uint8_t> stream;
    std::vector<std::vector<uint8_t>> bodies;
    const FrameType types[] = {FrameType::kSend, FrameType::kReply, FrameType::kSubscribe, FrameType::kStatus,
                               FrameType::kStats};
    for (int i = 0; i < 50; ++i) {
        bodies.push_back(test::random_bytes(std::size_t(randombytes_uniform(3000))));
        auto const head = test::random_bytes(std::size_t(randombytes_uniform(40)));
        auto const f = encode_frame(types[i % 5], uint32_t(i + 1), {head, bodies.back()});
        bodies.back().insert(bodies.back().begin(), head.begin(), head.end());
        stream.insert(stream.end(), f.begin(), f.end());
    }
    FrameDecoder d(Direction::kToDaemon, 4096);
    d.feed(stream);
    FrameView v;
    for (int i = 0; i < 50; ++i) {
        ASSERT_EQ(d.next(&v), FrameDecoder::Result::kFrame) << i;
        EXPECT_EQ(v.type, types[i % 5]);
        EXPECT_EQ(v.request_id, uint32_t(i + 1));
        ASSERT_EQ(v.body.size(), bodies[std::size_t(i)].size());
        EXPECT_TRUE(std::equal(v.body.begin(), v.body.end(), bodies[std::size_t(i)].begin()));
    }
    EXPECT_EQ(d.next(&v), FrameDecoder::Result::kNeedMore);
    EXPECT_EQ(d.buffered(), 0u);
}

TEST(LocalFrame, SplitReadsOneByteAtATime) {
    std::vector<uint8_t> stream;
    std::vector<std::vector<uint8_t>> bodies;
    for (int i = 0; i < 6; ++i) {
        bodies.push_back(test::random_bytes(std::size_t(i * 37)));
        auto const f = encode_frame(i % 2 ? FrameType::kMessage : FrameType::kJson, uint32_t(i), {bodies.back()});
        stream.insert(stream.end(), f.begin(), f.end());
    }
    FrameDecoder d(Direction::kToClient, 1024);
    std::size_t got = 0;
    FrameView v;
    for (uint8_t byte : stream) {
        d.feed(std::span<const uint8_t>(&byte, 1));
        for (;;) {
            auto const r = d.next(&v);
            ASSERT_NE(r, FrameDecoder::Result::kError);
            if (r == FrameDecoder::Result::kNeedMore) break;
            ASSERT_LT(got, bodies.size());
            EXPECT_EQ(v.request_id, uint32_t(got));
            EXPECT_TRUE(std::equal(v.body.begin(), v.body.end(), bodies[got].begin(), bodies[got].end()));
            ++got;
        }
    }
    EXPECT_EQ(got, bodies.size());
}

TEST(LocalFrame, ZeroCopyFeedingOfABigFrame) {
    auto const body = test::random_bytes(3u << 20);
    auto const f = encode_frame(FrameType::kSend, 9, {body});
    FrameDecoder d(Direction::kToDaemon, body.size());
    std::size_t at = 0;
    while (at < f.size()) {
        auto space = d.prepare(65536);
        ASSERT_GE(space.size(), 65536u);
        std::size_t const n = std::min(space.size(), std::min<std::size_t>(f.size() - at, 100'003));
        std::memcpy(space.data(), f.data() + at, n);
        d.commit(n);
        at += n;
    }
    FrameView v;
    ASSERT_EQ(d.next(&v), FrameDecoder::Result::kFrame);
    ASSERT_EQ(v.body.size(), body.size());
    EXPECT_EQ(0, std::memcmp(v.body.data(), body.data(), body.size()));
}

TEST(LocalFrame, BodyAtTheLimitPassesOneMoreIsTooLong) {
    FrameDecoder ok(Direction::kToDaemon, 100);
    auto const f = encode_frame(FrameType::kSend, 1, {test::random_bytes(100)});
    ok.feed(f);
    FrameView v;
    EXPECT_EQ(ok.next(&v), FrameDecoder::Result::kFrame);

    // Rejected as soon as the length field is in: no waiting for a body that may never come.
    FrameDecoder d(Direction::kToDaemon, 100);
    auto const h = header(8 + 101, 1);
    d.feed(std::span<const uint8_t>(h.data(), 4));
    EXPECT_EQ(d.next(&v), FrameDecoder::Result::kError);
    EXPECT_EQ(d.error(), FrameError::kTooLong);
    EXPECT_EQ(d.next(&v), FrameDecoder::Result::kError);   // stays in error

    FrameDecoder huge(Direction::kToDaemon, 100);
    huge.feed(header(0xFFFFFFFF, 1));
    EXPECT_EQ(huge.next(&v), FrameDecoder::Result::kError);
    EXPECT_EQ(huge.error(), FrameError::kTooLong);
}

TEST(LocalFrame, ShortLengthRejected) {
    for (uint32_t length : {0u, 1u, 7u}) {
        FrameDecoder d(Direction::kToDaemon, 100);
        d.feed(header(length, 1));
        FrameView v;
        EXPECT_EQ(d.next(&v), FrameDecoder::Result::kError) << length;
        EXPECT_EQ(d.error(), FrameError::kBadLength);
    }
    FrameDecoder d(Direction::kToDaemon, 100);
    d.feed(header(8, 5));   // exactly a header: an empty body is fine
    FrameView v;
    EXPECT_EQ(d.next(&v), FrameDecoder::Result::kFrame);
    EXPECT_TRUE(v.body.empty());
}

TEST(LocalFrame, UnknownTypesRejectedPerDirection) {
    for (unsigned t = 0; t < 256; ++t) {
        bool const to_daemon = t >= 1 && t <= 6;
        bool const to_client = (t >= 0x81 && t <= 0x86) || t == 0xFF;
        for (auto dir : {Direction::kToDaemon, Direction::kToClient}) {
            FrameDecoder d(dir, 100);
            d.feed(header(8, uint8_t(t)));
            FrameView v;
            bool const valid = dir == Direction::kToDaemon ? to_daemon : to_client;
            EXPECT_EQ(d.next(&v), valid ? FrameDecoder::Result::kFrame : FrameDecoder::Result::kError) << t;
            if (!valid) {
                EXPECT_EQ(d.error(), FrameError::kUnknownType);
            }
        }
    }
}

TEST(LocalFrame, ReservedBytesMustBeZero) {
    FrameDecoder d(Direction::kToDaemon, 100);
    d.feed(header(8, 1, 3, 0x40));
    FrameView v;
    EXPECT_EQ(d.next(&v), FrameDecoder::Result::kError);
    EXPECT_EQ(d.error(), FrameError::kBadReserved);
    EXPECT_EQ(d.pending_request_id(), 3u);
}

TEST(LocalFrame, GarbageNeverYieldsOutOfBoundsFrames) {
    // Random streams: every frame returned lies inside what was fed, and the buffer stays bounded.
    for (int round = 0; round < 2000; ++round) {
        auto const bytes = test::random_bytes(std::size_t(randombytes_uniform(200)));
        FrameDecoder d(round % 2 ? Direction::kToDaemon : Direction::kToClient, 64);
        d.feed(bytes);
        FrameView v;
        std::size_t consumed = 0;
        while (d.next(&v) == FrameDecoder::Result::kFrame) {
            consumed += kFrameHeaderBytes + v.body.size();
            ASSERT_LE(v.body.size(), 64u);
        }
        ASSERT_LE(consumed, bytes.size());
    }
}

TEST(LocalFrame, BodiesRoundTrip) {
    NodeId node;
    MessageId id, other;
    randombytes_buf(node.data(), node.size());
    randombytes_buf(id.data(), id.size());
    randombytes_buf(other.data(), other.size());
    auto const msg = test::random_bytes(77);

    auto sh = send_head(node, kFlagReport);
    std::vector<uint8_t> send(sh.begin(), sh.end());
    send.insert(send.end(), msg.begin(), msg.end());
    auto const s = parse_send(send);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->destination, node);
    EXPECT_EQ(s->flags, kFlagReport);
    EXPECT_TRUE(std::equal(s->bytes.begin(), s->bytes.end(), msg.begin(), msg.end()));

    auto rh = reply_head(id, 0);
    std::vector<uint8_t> reply(rh.begin(), rh.end());
    reply.insert(reply.end(), msg.begin(), msg.end());
    auto const r = parse_reply(reply);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->request, id);
    EXPECT_EQ(r->flags, 0);
    EXPECT_EQ(r->bytes.size(), msg.size());

    EXPECT_EQ(parse_status(id), id);
    EXPECT_EQ(parse_accepted(id), id);

    auto mh = message_head(id, other, kFlagIsReply);
    std::vector<uint8_t> m(mh.begin(), mh.end());
    m.insert(m.end(), msg.begin(), msg.end());
    auto const mb = parse_message(m);
    ASSERT_TRUE(mb);
    EXPECT_EQ(mb->id, id);
    EXPECT_EQ(mb->in_reply_to, other);
    EXPECT_EQ(mb->flags, kFlagIsReply);
    EXPECT_EQ(mb->bytes.size(), msg.size());

    auto resh = result_head(id, 4);
    std::vector<uint8_t> res(resh.begin(), resh.end());
    auto const text = as_bytes("no route");
    res.insert(res.end(), text.begin(), text.end());
    auto const rb = parse_result(res);
    ASSERT_TRUE(rb);
    EXPECT_EQ(rb->id, id);
    EXPECT_EQ(rb->state, 4);
    EXPECT_EQ(rb->error, "no route");

    auto const st = parse_state(state_body(id, 2));
    ASSERT_TRUE(st);
    EXPECT_EQ(st->id, id);
    EXPECT_EQ(st->state, 2);

    auto eh = error_head(413);
    std::vector<uint8_t> e(eh.begin(), eh.end());
    auto const etext = as_bytes("too large");
    e.insert(e.end(), etext.begin(), etext.end());
    auto const eb = parse_error(e);
    ASSERT_TRUE(eb);
    EXPECT_EQ(eb->code, 413);
    EXPECT_EQ(eb->text, "too large");
    EXPECT_EQ(load_u16(e.data()), 413);   // code u16 LE, then rsv[2]
    EXPECT_EQ(e[2] | e[3], 0);
}

TEST(LocalFrame, BodyParsersRejectShortReservedAndUnknownFlags) {
    std::vector<uint8_t> b(kSendHeadBytes, 0);
    EXPECT_TRUE(parse_send(b));
    EXPECT_FALSE(parse_send(std::span<const uint8_t>(b.data(), b.size() - 1)));
    b[kNodeIdBytes] = 2;   // unknown flag bit
    EXPECT_FALSE(parse_send(b));
    b[kNodeIdBytes] = 0;
    b[kNodeIdBytes + 2] = 1;   // reserved
    EXPECT_FALSE(parse_send(b));

    std::vector<uint8_t> r(kReplyHeadBytes - 1, 0);
    EXPECT_FALSE(parse_reply(r));
    EXPECT_FALSE(parse_status(r));
    r.resize(kMessageIdBytes + 1);
    EXPECT_FALSE(parse_status(r));   // exactly 16
    EXPECT_FALSE(parse_message(std::vector<uint8_t>(kMessageHeadBytes - 1)));
    EXPECT_FALSE(parse_result(std::vector<uint8_t>(kResultHeadBytes - 1)));
    EXPECT_FALSE(parse_state(std::vector<uint8_t>(kStateBodyBytes + 1)));
    EXPECT_FALSE(parse_error(std::vector<uint8_t>(3)));
    std::vector<uint8_t> m(kMessageHeadBytes, 0);
    m[2 * kMessageIdBytes] = 0x80;
    EXPECT_FALSE(parse_message(m));
}

TEST(LocalFrame, ResolveAndResolved) {
    EXPECT_EQ(type_name(FrameType::kResolve), "resolve");
    EXPECT_EQ(type_name(FrameType::kResolved), "resolved");
    // RESOLVE: the body is the name itself, nothing else.
    auto const req = encode_frame(FrameType::kResolve, 9, {as_bytes("alice.voxa")});
    FrameDecoder d(Direction::kToDaemon, 1024);
    d.feed(req);
    FrameView v;
    ASSERT_EQ(d.next(&v), FrameDecoder::Result::kFrame);
    EXPECT_EQ(v.type, FrameType::kResolve);
    ASSERT_TRUE(parse_resolve(v.body));
    EXPECT_EQ(*parse_resolve(v.body), "alice.voxa");
    EXPECT_TRUE(parse_resolve(as_bytes(std::string(253, 'z'))));
    for (std::string_view bad : {std::string_view(""), std::string_view("Alice"), std::string_view("a_b"),
                                 std::string_view("a b"), std::string_view("a\0", 2)}) {
        EXPECT_FALSE(parse_resolve(as_bytes(bad))) << bad;
    }
    EXPECT_FALSE(parse_resolve(as_bytes(std::string(254, 'z'))));
    // RESOLVED: | node_id[32] | expires_s u64 |, exactly.
    NodeId n{};
    for (std::size_t i = 0; i < n.size(); ++i) n[i] = uint8_t(i);
    auto const body = resolved_body(n, 0x0102030405060708ULL);
    ASSERT_EQ(body.size(), 40u);
    EXPECT_EQ(body[32], 0x08);   // little-endian
    EXPECT_EQ(body[39], 0x01);
    auto const r = parse_resolved(body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->node, n);
    EXPECT_EQ(r->expires_s, 0x0102030405060708ULL);
    EXPECT_FALSE(parse_resolved(std::span<const uint8_t>(body.data(), 39)));
    std::vector<uint8_t> longer(body.begin(), body.end());
    longer.push_back(0);
    EXPECT_FALSE(parse_resolved(longer));
}

}  // namespace
}  // namespace voxa::local
