// Onion layer costs per cell (dataplane/circuit/onion.h), default provider:
//   BM_OnionPeel/<cell_bytes>     a relay's relay_forward: one ChaCha20 pass over the onion and one AES block.
//   BM_OnionEndOpen/<cell_bytes>  the circuit end's end_receive_forward: ChaCha20 pass plus ChaCha20-Poly1305
//                                 open, on cells the origin wrapped beforehand (a ring refilled off the clock).
// Bytes processed = onion bytes per cell. Read against BM_Baseline_ChaChaPolySeal/1280 from the same run.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <vector>

#include "circuit/ntor.h"
#include "circuit/onion.h"
#include "crypto/provider.h"
#include "voxa/wire.h"

namespace {

using namespace voxa;

circuit::HopSecrets random_secrets() {
    circuit::HopSecrets s;
    for (crypto::Key32* k : {&s.fwd_stream, &s.fwd_nonce, &s.back_stream, &s.back_nonce, &s.fwd_e2e, &s.back_e2e}) {
        randombytes_buf(k->data(), k->size());
    }
    return s;
}

void BM_OnionPeel(benchmark::State& state) {
    if (!crypto::init()) state.SkipWithError("crypto::init failed");
    const auto onion_len = wire::onion_bytes(std::size_t(state.range(0)));
    circuit::HopCrypto hop(random_secrets(), crypto::default_provider());
    std::vector<uint8_t> onion(onion_len, 0x5a);
    uint8_t nonce[wire::kCellNonceBytes];
    randombytes_buf(nonce, sizeof nonce);
    for (auto _ : state) {
        hop.relay_forward(nonce, onion.data(), onion.size());
        benchmark::DoNotOptimize(onion.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(onion_len));
}
BENCHMARK(BM_OnionPeel)->Arg(int64_t(wire::kCellBytesDefault));

void BM_OnionEndOpen(benchmark::State& state) {
    if (!crypto::init()) state.SkipWithError("crypto::init failed");
    const auto onion_len = wire::onion_bytes(std::size_t(state.range(0)));
    const auto secrets = random_secrets();
    circuit::HopCrypto end(secrets, crypto::default_provider());
    circuit::OriginCrypto origin(crypto::default_provider());
    origin.add_hop(secrets);

    constexpr std::size_t kRing = 256;   // cells wrapped ahead; 256 * 1.2 KB stays in L2
    std::vector<uint8_t> onions(kRing * onion_len);
    std::vector<std::array<uint8_t, wire::kCellNonceBytes>> nonces(kRing);
    auto refill = [&] {
        for (std::size_t i = 0; i < kRing; ++i) {
            uint8_t* onion = onions.data() + i * onion_len;
            std::memset(onion, 0x5a, onion_len - wire::kE2eTagBytes);
            origin.wrap_forward(1, nonces[i].data(), onion, onion_len);
        }
    };
    refill();
    std::size_t next = 0;
    for (auto _ : state) {
        if (next == kRing) {
            state.PauseTiming();
            refill();
            next = 0;
            state.ResumeTiming();
        }
        const bool ok = end.end_receive_forward(nonces[next].data(), onions.data() + next * onion_len, onion_len);
        if (!ok) state.SkipWithError("an authentic cell failed to open");
        ++next;
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(onion_len));
}
BENCHMARK(BM_OnionEndOpen)->Arg(int64_t(wire::kCellBytesDefault));

}  // namespace
