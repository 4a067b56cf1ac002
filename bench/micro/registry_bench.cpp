// Registry record verification (plugins/registry/record.h) beside its yardstick in the same run:
// BM_Ed25519VerifyRaw is one crypto_sign_verify_detached over a message of the record's signed size. A full
// record verify checks two signatures (the record's and its embedded link descriptor's) plus the field rules,
// so about 2x the raw figure is the floor; BM_RecordDecodeVerify adds decoding from the canonical bytes, which is
// what every record received from the API or the DHT costs.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include "crypto/provider.h"
#include "registry/record.h"
#include "sample_record.h"

namespace {

using namespace voxa;
using namespace voxa::registry;

constexpr uint64_t kNow = 1'800'000'000;

Record relay_record(const crypto::Identity& id) { return test::sample_record(id, Kind::kRelay, kNow); }

void BM_RecordVerify(benchmark::State& state) {
    if (!crypto::init()) state.SkipWithError("crypto::init failed");
    crypto::Identity const id = crypto::Identity::generate();
    Record const r = relay_record(id);
    if (verify(r, kNow) != Refusal::kNone) state.SkipWithError("the record does not verify");
    for (auto _ : state) benchmark::DoNotOptimize(verify(r, kNow));
    state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_RecordVerify);

void BM_RecordDecodeVerify(benchmark::State& state) {
    if (!crypto::init()) state.SkipWithError("crypto::init failed");
    crypto::Identity const id = crypto::Identity::generate();
    std::vector<uint8_t> const bytes = encode(relay_record(id));
    for (auto _ : state) {
        Record r;
        Refusal const d = decode(bytes, &r);
        benchmark::DoNotOptimize(d == Refusal::kNone ? verify(r, kNow) : d);
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.counters["record_bytes"] = double(bytes.size());
}
BENCHMARK(BM_RecordDecodeVerify);

void BM_Ed25519VerifyRaw(benchmark::State& state) {
    if (!crypto::init()) state.SkipWithError("crypto::init failed");
    crypto::Identity const id = crypto::Identity::generate();
    // The same size as the record's signed message: context + encoding without the signature.
    std::size_t const bytes = kRriContext.size() + encode(relay_record(id)).size() - crypto::kSignatureBytes;
    std::vector<uint8_t> message(bytes, 0x5a);
    crypto::Signature const sig = id.sign(message);
    for (auto _ : state) {
        benchmark::DoNotOptimize(
            crypto_sign_verify_detached(sig.data(), message.data(), message.size(), id.peer().ed25519.data()));
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.counters["message_bytes"] = double(bytes);
}
BENCHMARK(BM_Ed25519VerifyRaw);

}  // namespace
