// Yardsticks measured in the same run as every other micro benchmark, so results are read as ratios:
// BM_Baseline_Memcpy (memory bandwidth) and BM_Baseline_ChaChaPolySeal (raw libsodium AEAD, the per-cell
// crypto every target is expressed against).
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <cstring>
#include <vector>

namespace {

void BM_Baseline_Memcpy(benchmark::State& state) {
    const auto bytes = std::size_t(state.range(0));
    std::vector<uint8_t> src(bytes, 0x5a), dst(bytes);
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), bytes);
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}
BENCHMARK(BM_Baseline_Memcpy)->Arg(1280)->Arg(65536)->Arg(1048576);

void BM_Baseline_ChaChaPolySeal(benchmark::State& state) {
    if (sodium_init() < 0) state.SkipWithError("sodium_init failed");
    const auto bytes = std::size_t(state.range(0));
    std::vector<uint8_t> buf(bytes, 0x5a);
    uint8_t key[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {};
    uint8_t tag[crypto_aead_chacha20poly1305_ietf_ABYTES];
    randombytes_buf(key, sizeof key);
    uint64_t counter = 0;
    for (auto _ : state) {
        std::memcpy(nonce + 4, &counter, 8);
        ++counter;
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf.data(), tag, nullptr, buf.data(), bytes, nullptr, 0,
                                                           nullptr, nonce, key);
        benchmark::DoNotOptimize(tag);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}
BENCHMARK(BM_Baseline_ChaChaPolySeal)->Arg(1280)->Arg(65536)->Arg(1048576);

}  // namespace

BENCHMARK_MAIN();
