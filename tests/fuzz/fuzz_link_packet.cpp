// Fuzz target for the link layer: every input goes through parse_link_packet() and then through
// LinkEndpoint::receive() of two endpoints that share an established session, so transport packets reach the
// receiver lookup, AEAD and replay window, and handshake packets reach mac1/cookie/Noise processing.
//
// libsodium's randomness is replaced by a fixed ChaCha20 stream before anything else runs, so the session (keys,
// receiver indices) is the same in every run and the seed corpus holds packets that really authenticate.
// VOXA_LINK_FUZZ_VERBOSE=1 prints what B made of each input. Regenerate the seeds with:  VOXA_LINK_FUZZ_SEEDS=tests/fuzz/corpus/link_packet build/tests/fuzz/replay_link_packet DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sodium.h>

#include "common/clock.h"
#include "crypto/identity.h"
#include "link/endpoint.h"
#include "link/packet.h"

namespace {

using namespace voxa;

// ---- deterministic randombytes (fuzzing only: this must never reach a real node) ----
uint64_t g_stream_block = 0;
const uint8_t kStreamKey[32] = {0x76, 0x6f, 0x78, 0x61, 0x2d, 0x66, 0x75, 0x7a, 0x7a};
void det_buf(void* const buf, const size_t size) {
    uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {};
    std::memcpy(nonce, &g_stream_block, sizeof g_stream_block);
    ++g_stream_block;
    crypto_stream_chacha20_ietf(static_cast<unsigned char*>(buf), size, nonce, kStreamKey);
}
uint32_t det_random() {
    uint32_t v;
    det_buf(&v, sizeof v);
    return v;
}
const char* det_name() { return "voxa-fuzz-deterministic"; }
randombytes_implementation g_det = {det_name, det_random, nullptr, nullptr, det_buf, nullptr};

struct FixedWall final : WallClock {
    uint64_t unix_ns() const noexcept override { return 1'700'000'000ull * kNsPerS; }
};

struct Queue final : link::TxSink {
    std::vector<std::vector<uint8_t>> out;
    void transmit(const Endpoint&, std::span<const uint8_t> d) noexcept override { out.emplace_back(d.begin(), d.end()); }
};

struct Discard final : link::TxSink {
    void transmit(const Endpoint&, std::span<const uint8_t>) noexcept override {}
};

crypto::Identity identity(uint8_t n) {
    std::array<uint8_t, 32> seed{};
    seed.fill(n);
    return crypto::Identity::from_seed(seed);
}

link::LinkConfig config() {
    link::LinkConfig c;
    c.peers_max = 8;
    c.suites_offered = 1;   // ChaCha20-Poly1305 everywhere: the same on every CPU
    c.provider = crypto::Provider::kSodium;
    return c;
}

struct World {
    ManualClock clock;
    FixedWall wall;
    crypto::Identity a = identity(1), b = identity(2);
    Endpoint addr_a = Endpoint::sim(1), addr_b = Endpoint::sim(2);
    link::LinkEndpoint ea{a, config(), clock, wall};
    link::LinkEndpoint eb{b, config(), clock, wall};
    link::PeerHandle ab = ea.add_peer(b.peer(), addr_b);
    link::PeerHandle ba = eb.add_peer(a.peer(), addr_a);

    World() {
        Queue qa, qb;
        ea.connect(ab, qa);                                       // initiation
        eb.receive(addr_a, qa.out[0].data(), qa.out[0].size(), qb);   // response
        ea.receive(addr_b, qb.out[0].data(), qb.out[0].size(), qa);   // keepalive
        eb.receive(addr_a, qa.out[1].data(), qa.out[1].size(), qb);
        if (!ea.ready(ab) || !eb.ready(ba)) std::abort();
    }
};

World& world() {
    static bool once = [] {
        randombytes_set_implementation(&g_det);
        return crypto::init();
    }();
    (void)once;
    static World w;
    return w;
}

void write_seed(const std::string& dir, const char* name, const std::vector<uint8_t>& bytes) {
    std::string const path = dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return;
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
}

std::vector<uint8_t> sealed(World& w, std::size_t payload_len, uint8_t fill) {
    std::vector<uint8_t> p(payload_len + wire::kLinkOverheadBytes, fill);
    p.resize(w.ea.seal(w.ab, p.data(), payload_len));
    return p;
}

// Writes valid packets of every type and a few malformed ones, as they are right after the world is built.
void write_seeds(World& w, const std::string& dir) {
    Queue q, qb;
    write_seed(dir, "transport_cell_1280", sealed(w, 1248, 0x11));
    write_seed(dir, "transport_keepalive", sealed(w, 0, 0));
    write_seed(dir, "transport_small", sealed(w, 100, 0x22));
    auto tampered = sealed(w, 200, 0x33);
    tampered[100] ^= 1;
    write_seed(dir, "bad_transport_tampered", tampered);
    write_seed(dir, "transport_64", sealed(w, 64, 0x44));
    auto unknown = sealed(w, 64, 0x55);
    unknown[5] ^= 0xff;
    write_seed(dir, "bad_transport_unknown_receiver", unknown);
    write_seed(dir, "transport_32", sealed(w, 32, 0x66));

    // A handshake from a third node C; B answers; the cookie reply comes from a loaded twin of B.
    link::LinkConfig loaded = config();
    loaded.handshakes_per_s_max = 0;
    crypto::Identity c = identity(3);
    link::LinkEndpoint ec{c, config(), w.clock, w.wall};
    link::PeerHandle cb = ec.add_peer(w.b.peer(), w.addr_b);
    ec.connect(cb, q);
    write_seed(dir, "initiation", q.out.back());
    auto bad_mac = q.out.back();
    bad_mac[link::kInitMac1Off] ^= 1;
    write_seed(dir, "bad_initiation_mac1", bad_mac);
    auto short_init = q.out.back();
    short_init.pop_back();
    write_seed(dir, "bad_initiation_size", short_init);
    std::vector<uint8_t> init = q.out.back();
    w.eb.receive(Endpoint::sim(3), init.data(), init.size(), qb);
    write_seed(dir, "response", qb.out.back());
    link::LinkEndpoint eb_loaded{w.b, loaded, w.clock, w.wall};
    std::vector<uint8_t> init2 = q.out.back();
    eb_loaded.receive(Endpoint::sim(3), init2.data(), init2.size(), qb);
    write_seed(dir, "cookie_reply", qb.out.back());

    write_seed(dir, "bad_empty", {});
    write_seed(dir, "bad_short", {4, 0, 0});
    write_seed(dir, "bad_type", {9, 0, 0, 0, 1, 2, 3, 4});
    write_seed(dir, "bad_reserved", {4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    write_seed(dir, "bad_transport_size", {4, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
    std::vector<uint8_t> cookie_short(63, 0);
    cookie_short[0] = 3;
    write_seed(dir, "bad_cookie_size", cookie_short);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    World& w = world();
    static bool seeded = [&w] {
        if (const char* dir = std::getenv("VOXA_LINK_FUZZ_SEEDS")) write_seeds(w, dir);
        return true;
    }();
    (void)seeded;

    link::LinkPacketView view;
    (void)link::parse_link_packet(std::span<const uint8_t>(data, size), &view);

    // receive() decrypts in place: each endpoint gets its own copy (heap, so ASan sees any overrun).
    Discard tx;
    std::vector<uint8_t> copy(data, data + size);
    link::RxEvent const ev = w.eb.receive(w.addr_a, copy.data(), copy.size(), tx);
    if (std::getenv("VOXA_LINK_FUZZ_VERBOSE")) {   // which path an input took: for checking the seeds
        std::printf("%zu bytes: kind %d drop %s\n", size, int(ev.kind), std::string(link::drop_name(ev.drop)).c_str());
    }
    copy.assign(data, data + size);
    (void)w.ea.receive(w.addr_b, copy.data(), copy.size(), tx);
    return 0;
}
