// Registry record verification (plugins/registry/record.h) beside its yardstick in the same run:
// BM_Ed25519VerifyRaw is one crypto_sign_verify_detached over a message of the record's signed size. A full
// record verify checks two signatures (the record's and its embedded link descriptor's) plus the field rules,
// so about 2x the raw figure is the floor; BM_RecordDecodeVerify adds decoding from the canonical bytes, which is
// what every record received from the API or the DHT costs.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include "config/config.h"
#include "crypto/provider.h"
#include "registry/record.h"

namespace {

using namespace voxa;
using namespace voxa::registry;

constexpr uint64_t kNow = 1'800'000'000;

Record relay_record(const crypto::Identity& id) {
    Record r;
    r.kind = Kind::kRelay;
    r.type = "standard";
    r.capabilities = {"onion", "split/v1"};
    r.metadata = {{"region", "eu-west"}};
    r.routing_info = {{"exit", "no"}};
    r.program_version = "voxa 0.6.0";
    r.ipv4 = "10.0.0.7";
    r.ipv6 = "fd00::7";
    r.port = 9000;
    r.backend = "uring";
    r.capacity = 100;
    r.created_s = kNow - 100;
    r.updated_s = kNow - 10;
    r.expires_s = kNow + 3600;
    r.sequence = 1;
    r.link_descriptor =
        directory::sign_descriptor(id, *config::parse_numeric_endpoint(r.ipv4, r.port), r.capacity, true, kNow - 10);
    sign(r, id);
    return r;
}

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
