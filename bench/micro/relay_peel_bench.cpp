// BM_RelayPeel: one relay's whole work on one forward cell, excluding I/O, measured on the real engine
// (voxa::node::Node): link open (AEAD + replay window), cell parse, circuit lookup, one onion layer, header
// rewrite, link seal for the next hop. The origin's cells to the relay are captured and replayed into the relay.
#include <benchmark/benchmark.h>

#include "sim/relay_line.h"

namespace {

using namespace voxa;

void BM_RelayPeel(benchmark::State& state) {
    if (!crypto::init()) state.SkipWithError("libsodium");
    sim::RelayLine line;
    if (!line.warm_up()) {
        state.SkipWithError("circuit did not come up");
        return;
    }
    std::vector<std::vector<uint8_t>> cells;
    std::size_t next = 0;
    for (auto _ : state) {
        if (next == cells.size()) {
            state.PauseTiming();
            next = 0;
            cells = line.capture_forward_cells(4u << 20);
            state.ResumeTiming();
            if (cells.empty()) {
                state.SkipWithError("no cells captured");
                break;
            }
        }
        line.relay(cells[next++]);
    }
    const auto& s = line.relay_node().stats();
    if (s.cells_relayed_forward == 0) state.SkipWithError("relay forwarded nothing");
    state.counters["relayed"] = double(s.cells_relayed_forward);
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(state.range(0)));
}
BENCHMARK(BM_RelayPeel)->Arg(1280);

}  // namespace
