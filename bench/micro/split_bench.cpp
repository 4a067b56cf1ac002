// Splitting and reassembly throughput, read against BM_Baseline_ChaChaPolySeal from the same run
// (target: >= 0.35x its bytes/s at 1 MiB for both).
//   BM_SplitEncode/<bytes>  split_message (AONT, Reed-Solomon, hashing) plus framing every fragment of every
//                           part into one reused cell buffer, as the origin does before sending.
//   BM_Reassemble/<bytes>   a Reassembler fed the manifest and all fragments of all n parts of a pre-split message
//                           until pop_completed; parts past the k-th verified one are answered kLate.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <vector>

#include "common/clock.h"
#include "crypto/provider.h"
#include "reassembly/reassembler.h"
#include "split/fragment.h"
#include "split/splitter.h"

namespace {

using namespace voxa;

MessageId random_id() {
    MessageId id;
    randombytes_buf(id.data(), id.size());
    return id;
}

void BM_SplitEncode(benchmark::State& state) {
    if (!crypto::init()) state.SkipWithError("crypto init failed");
    auto const bytes = std::size_t(state.range(0));
    std::vector<uint8_t> message(bytes);
    randombytes_buf(message.data(), message.size());
    std::size_t const cell_bytes = wire::kCellBytesDefault;
    std::vector<uint8_t> cell(wire::relay_data_bytes(cell_bytes));
    MessageId const id = random_id();
    auto const provider = crypto::default_provider();
    for (auto _ : state) {
        auto sm = split::split_message(message, {3, 5}, id, nullptr, provider, nullptr);
        if (!sm) {
            state.SkipWithError("split failed");
            break;
        }
        uint32_t const part_bytes = sm->manifest().part_bytes;
        std::size_t const fragments = split::fragments_in_part(part_bytes, cell_bytes);
        for (uint8_t p = 0; p < sm->manifest().n; ++p) {
            for (uint32_t f = 0; f < fragments; ++f) {
                benchmark::DoNotOptimize(split::write_fragment(id, p, f, sm->part(p), cell_bytes, cell.data()));
            }
        }
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}
BENCHMARK(BM_SplitEncode)->Arg(65536)->Arg(1048576);

// One pre-split message, framed once; each iteration gives it a fresh message id (rewritten in the framed copies
// with paused timing) so that the reassembler sees a new message every time.
void BM_Reassemble(benchmark::State& state) {
    if (!crypto::init()) state.SkipWithError("crypto init failed");
    auto const bytes = std::size_t(state.range(0));
    std::vector<uint8_t> message(bytes);
    randombytes_buf(message.data(), message.size());
    std::size_t const cell_bytes = wire::kCellBytesDefault;
    auto sm = split::split_message(message, {3, 5}, random_id(), nullptr, crypto::default_provider(), nullptr);
    if (!sm) {
        state.SkipWithError("split failed");
        return;
    }
    split::Manifest manifest = sm->manifest();
    std::vector<uint8_t> manifest_bytes(split::manifest_wire_bytes(manifest.n));
    std::vector<std::vector<uint8_t>> cells;
    std::size_t const fragments = split::fragments_in_part(manifest.part_bytes, cell_bytes);
    for (uint8_t p = 0; p < manifest.n; ++p) {
        for (uint32_t f = 0; f < fragments; ++f) {
            std::vector<uint8_t> cell(wire::relay_data_bytes(cell_bytes));
            cell.resize(split::write_fragment(manifest.message_id, p, f, sm->part(p), cell_bytes, cell.data()));
            cells.push_back(std::move(cell));
        }
    }
    ManualClock clock;
    reassembly::ReassemblyConfig config;
    config.cell_bytes = cell_bytes;
    reassembly::Reassembler reassembler(config, clock);
    reassembly::CompletedMessage done;
    for (auto _ : state) {
        state.PauseTiming();
        manifest.message_id = random_id();
        split::encode_manifest(manifest, manifest_bytes);
        for (auto& cell : cells) std::copy(manifest.message_id.begin(), manifest.message_id.end(), cell.begin());
        state.ResumeTiming();

        reassembler.accept_manifest(1, manifest_bytes);
        for (const auto& cell : cells) {
            split::FragmentView view;
            if (split::parse_fragment(cell, &view) == split::FragmentDrop::kNone) {
                reassembler.accept_fragment(view.part, view);
            }
        }
        if (!reassembler.pop_completed(&done) || done.bytes.size() != bytes) {
            state.SkipWithError("reassembly failed");
            break;
        }
        benchmark::DoNotOptimize(done.bytes.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}
BENCHMARK(BM_Reassemble)->Arg(65536)->Arg(1048576);

}  // namespace
