// The link transport path per cell: BM_LinkSeal (header, counter, AEAD through the provider) and BM_LinkOpen
// (receiver-index lookup, AEAD open, replay window) for a 1280-byte datagram (1248-byte payload), default
// provider and ChaCha20-Poly1305; read against BM_Baseline_ChaChaPolySeal/1280 (raw libsodium) of the same run.
// BM_LinkSeal_Sodium and BM_LinkSeal_AesGcm are for information.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <vector>

#include "common/clock.h"
#include "crypto/identity.h"
#include "link/endpoint.h"

namespace {

using namespace voxa;

struct FixedWall final : WallClock {
    uint64_t unix_ns() const noexcept override { return 1'700'000'000ull * kNsPerS; }
};

struct Queue final : link::TxSink {
    std::vector<std::vector<uint8_t>> out;
    void transmit(const Endpoint&, std::span<const uint8_t> d) noexcept override { out.emplace_back(d.begin(), d.end()); }
};

// Two endpoints with an established session.
struct Pair {
    ManualClock clock;
    FixedWall wall;
    crypto::Identity a = crypto::Identity::generate(), b = crypto::Identity::generate();
    std::unique_ptr<link::LinkEndpoint> ea, eb;
    link::PeerHandle ab = link::kNoPeer, ba = link::kNoPeer;
    Queue sink;

    Pair(crypto::Provider provider, uint8_t suites) {
        link::LinkConfig c;
        c.provider = provider;
        c.suites_offered = suites;
        ea = std::make_unique<link::LinkEndpoint>(a, c, clock, wall);
        eb = std::make_unique<link::LinkEndpoint>(b, c, clock, wall);
        ab = ea->add_peer(b.peer(), Endpoint::sim(2));
        ba = eb->add_peer(a.peer(), Endpoint::sim(1));
        ea->connect(ab, sink);
        for (std::size_t i = 0; i < sink.out.size() && i < 16; ++i) {
            std::vector<uint8_t> d = sink.out[i];
            bool const to_b = i % 2 == 0;   // initiation, response, keepalive alternate A->B, B->A, A->B
            (to_b ? eb : ea)->receive(Endpoint::sim(to_b ? 1 : 2), d.data(), d.size(), sink);
        }
    }
    bool ok() const { return ea->ready(ab) && eb->ready(ba); }
};

void seal_loop(benchmark::State& state, crypto::Provider provider, uint8_t suites) {
    crypto::init();
    Pair pair(provider, suites);
    if (!pair.ok()) {
        state.SkipWithError("no session (suite unavailable?)");
        return;
    }
    auto const bytes = std::size_t(state.range(0));
    std::size_t const payload = bytes - wire::kLinkOverheadBytes;
    std::vector<uint8_t> buf(bytes, 0x5a);
    for (auto _ : state) {
        std::size_t n = pair.ea->seal(pair.ab, buf.data(), payload);
        benchmark::DoNotOptimize(n);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}

void BM_LinkSeal(benchmark::State& state) { seal_loop(state, crypto::default_provider(), 0x1); }
void BM_LinkSeal_Sodium(benchmark::State& state) { seal_loop(state, crypto::Provider::kSodium, 0x1); }
void BM_LinkSeal_AesGcm(benchmark::State& state) { seal_loop(state, crypto::default_provider(), 0x2); }

void BM_LinkOpen(benchmark::State& state) {
    crypto::init();
    Pair pair(crypto::default_provider(), 0x1);
    if (!pair.ok()) {
        state.SkipWithError("no session");
        return;
    }
    auto const bytes = std::size_t(state.range(0));
    std::size_t const payload = bytes - wire::kLinkOverheadBytes;
    constexpr std::size_t kRing = 4096;
    std::vector<uint8_t> ring(kRing * bytes, 0x5a);
    auto refill = [&] {
        for (std::size_t i = 0; i < kRing; ++i) pair.ea->seal(pair.ab, ring.data() + i * bytes, payload);
    };
    refill();
    std::size_t next = 0;
    Endpoint const from = Endpoint::sim(1);
    Queue sink;
    std::size_t bad = 0;
    for (auto _ : state) {
        if (next == kRing) {
            state.PauseTiming();
            refill();
            next = 0;
            state.ResumeTiming();
        }
        link::RxEvent ev = pair.eb->receive(from, ring.data() + next * bytes, bytes, sink);
        bad += ev.kind != link::RxEvent::Kind::kPayload;
        benchmark::DoNotOptimize(ev);
        ++next;
    }
    if (bad != 0) state.SkipWithError("packets dropped");
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}

BENCHMARK(BM_LinkSeal)->Arg(1280);
BENCHMARK(BM_LinkOpen)->Arg(1280);
BENCHMARK(BM_LinkSeal_Sodium)->Arg(1280);
BENCHMARK(BM_LinkSeal_AesGcm)->Arg(1280);

}  // namespace
