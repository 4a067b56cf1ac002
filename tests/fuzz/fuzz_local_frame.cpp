// Fuzz target for the local socket's codec: the input is a byte stream fed to a FrameDecoder of each direction in
// pieces whose sizes come from the input itself; every frame it yields goes through the body parser of its type,
// and every parsed body is rebuilt and must encode back to the same bytes. Invariants abort on failure: frames lie
// inside what was fed, bodies never exceed frame_body_max, and a decoder in error stays in error.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "local/frame.h"
#include "voxa/assert.h"

using namespace voxa;
using namespace voxa::local;

namespace {

constexpr std::size_t kBodyMax = 4096;

void check_body(const FrameView& f) {
    std::vector<uint8_t> again;
    switch (f.type) {
        case FrameType::kSend:
            if (auto s = parse_send(f.body)) {
                auto const h = send_head(s->destination, s->flags);
                again = encode_frame(f.type, f.request_id, {h, s->bytes});
            }
            break;
        case FrameType::kReply:
            if (auto r = parse_reply(f.body)) {
                auto const h = reply_head(r->request, r->flags);
                again = encode_frame(f.type, f.request_id, {h, r->bytes});
            }
            break;
        case FrameType::kStatus:
        case FrameType::kAccepted:
            if (auto id = parse_status(f.body)) again = encode_frame(f.type, f.request_id, {*id});
            break;
        case FrameType::kResult:
            if (auto r = parse_result(f.body)) {
                auto const h = result_head(r->id, r->state);
                again = encode_frame(f.type, f.request_id, {h, as_bytes(r->error)});
            }
            break;
        case FrameType::kMessage:
            if (auto m = parse_message(f.body)) {
                auto const h = message_head(m->id, m->in_reply_to, m->flags);
                again = encode_frame(f.type, f.request_id, {h, m->bytes});
            }
            break;
        case FrameType::kState:
            if (auto s = parse_state(f.body)) again = encode_frame(f.type, f.request_id, {state_body(s->id, s->state)});
            break;
        case FrameType::kResolve:
            if (auto n = parse_resolve(f.body)) again = encode_frame(f.type, f.request_id, {as_bytes(*n)});
            break;
        case FrameType::kResolved:
            if (auto r = parse_resolved(f.body))
                again = encode_frame(f.type, f.request_id, {resolved_body(r->node, r->expires_s)});
            break;
        case FrameType::kError:
            if (auto e = parse_error(f.body)) {
                // rsv[2] is not checked by the parser (future use), so compare only code and text.
                VOXA_CHECK(e->text.size() + kErrorHeadBytes == f.body.size());
            }
            return;
        default:
            return;
    }
    if (again.empty()) return;
    VOXA_CHECK(again.size() == kFrameHeaderBytes + f.body.size());
    VOXA_CHECK(std::memcmp(again.data() + kFrameHeaderBytes, f.body.data(), f.body.size()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    // First byte: the piece size (1..256) for split feeding; the rest is the stream.
    std::size_t const piece = std::size_t(data[0]) + 1;
    std::span<const uint8_t> const stream(data + 1, size - 1);
    for (auto direction : {Direction::kToDaemon, Direction::kToClient}) {
        FrameDecoder d(direction, kBodyMax);
        std::size_t fed = 0, consumed = 0;
        bool failed = false;
        while (fed < stream.size() && !failed) {
            std::size_t const n = std::min(piece, stream.size() - fed);
            if (fed % 2 == 0) {
                d.feed(stream.subspan(fed, n));
            } else {
                auto space = d.prepare(n);
                VOXA_CHECK(space.size() >= n);
                std::memcpy(space.data(), stream.data() + fed, n);
                d.commit(n);
            }
            fed += n;
            FrameView f;
            for (;;) {
                auto const r = d.next(&f);
                if (r == FrameDecoder::Result::kNeedMore) break;
                if (r == FrameDecoder::Result::kError) {
                    VOXA_CHECK(d.error() != FrameError::kNone);
                    VOXA_CHECK(d.next(&f) == FrameDecoder::Result::kError);
                    failed = true;
                    break;
                }
                VOXA_CHECK(f.body.size() <= kBodyMax);
                VOXA_CHECK(type_valid(uint8_t(f.type), direction));
                consumed += kFrameHeaderBytes + f.body.size();
                VOXA_CHECK(consumed <= fed);
                check_body(f);
            }
        }
        if (!failed) VOXA_CHECK(consumed + d.buffered() == fed);
    }
    return 0;
}
