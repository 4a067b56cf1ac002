#include "link/packet.h"

#include "common/bytes.h"

namespace voxa::link {

std::string_view drop_name(Drop d) noexcept {
    switch (d) {
        case Drop::kNone: return "none";
        case Drop::kShort: return "short";
        case Drop::kBadType: return "bad_type";
        case Drop::kBadSize: return "bad_size";
        case Drop::kUnknownReceiver: return "unknown_receiver";
        case Drop::kBadMac1: return "bad_mac1";
        case Drop::kCookieSent: return "cookie_sent";
        case Drop::kBadMac2: return "bad_mac2";
        case Drop::kHandshakeDecrypt: return "handshake_decrypt";
        case Drop::kUnknownPeer: return "unknown_peer";
        case Drop::kReplayedHandshake: return "replayed_handshake";
        case Drop::kTransportDecrypt: return "transport_decrypt";
        case Drop::kReplay: return "replay";
        case Drop::kExpired: return "expired";
        case Drop::kPeersFull: return "peers_full";
        case Drop::kCounterWrap: return "counter_wrap";
        case Drop::kNoSuite: return "no_suite";
        case Drop::kBadCookie: return "bad_cookie";
        case Drop::kCount: break;
    }
    return "unknown";
}

Drop parse_link_packet(std::span<const uint8_t> datagram, LinkPacketView* out) noexcept {
    std::size_t const len = datagram.size();
    const uint8_t* d = datagram.data();
    if (len < 4) return Drop::kShort;
    if (d[1] != 0 || d[2] != 0 || d[3] != 0) return Drop::kBadType;
    *out = LinkPacketView{};
    switch (d[0]) {
        case uint8_t(wire::LinkType::kInitiation):
            if (len != kInitiationBytes) return Drop::kBadSize;
            out->type = wire::LinkType::kInitiation;
            out->sender = load_u32(d + kInitSenderOff);
            out->ephemeral = d + kInitEphemeralOff;
            out->sealed_static = d + kInitStaticOff;
            out->sealed_payload = d + kInitPayloadOff;
            out->mac1 = d + kInitMac1Off;
            out->mac2 = d + kInitMac2Off;
            return Drop::kNone;
        case uint8_t(wire::LinkType::kResponse):
            if (len != kResponseBytes) return Drop::kBadSize;
            out->type = wire::LinkType::kResponse;
            out->sender = load_u32(d + kRespSenderOff);
            out->receiver = load_u32(d + kRespReceiverOff);
            out->ephemeral = d + kRespEphemeralOff;
            out->sealed_payload = d + kRespPayloadOff;
            out->mac1 = d + kRespMac1Off;
            out->mac2 = d + kRespMac2Off;
            return Drop::kNone;
        case uint8_t(wire::LinkType::kCookieReply):
            if (len != kCookieReplyBytes) return Drop::kBadSize;
            out->type = wire::LinkType::kCookieReply;
            out->receiver = load_u32(d + kCookieReceiverOff);
            out->nonce = d + kCookieNonceOff;
            out->sealed_cookie = d + kCookieSealedOff;
            return Drop::kNone;
        case uint8_t(wire::LinkType::kTransport):
            if (len < kTransportMinBytes || len > kTransportMaxBytes) return Drop::kBadSize;
            out->type = wire::LinkType::kTransport;
            out->receiver = load_u32(d + kTransportReceiverOff);
            out->counter = load_u64(d + kTransportCounterOff);
            out->payload = d + wire::kLinkHeaderBytes;
            out->payload_len = len - wire::kLinkOverheadBytes;
            out->tag = d + len - wire::kLinkTagBytes;
            return Drop::kNone;
        default:
            return Drop::kBadType;
    }
}

}  // namespace voxa::link
