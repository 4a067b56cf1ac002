// voxa-bench: end-to-end measurements on a running devnet (scripts/devnet.sh), each beside a baseline measured on
// the same topology in the same run. See docs/OPERATIONS.md, "Benchmarks".
#include <cstdio>
#include <exception>
#include <string_view>

#include <sodium.h>

#include "baseline.h"
#include "bench_util.h"
#include "e2e.h"

namespace {

void usage() {
    std::fputs(
        "usage: voxa-bench <command> [options]\n"
        "  e2e      --devnet D --from I --to J [--sizes 64K,1M,16M] (--count C | --seconds S) [--concurrency Q]\n"
        "           [--runs R] [--json out.json] [--plot out.png] [--no-baseline] [--baseline-port P]\n"
        "  relay    [--devnet D] [--start [--keep]] [--backend uring|dpdk|memif] [--size 16M] [--seconds S]\n"
        "           [--concurrency Q] [--runs R] [--no-baseline]\n"
        "           [--json out.json] [--udp-forward PATH]\n"
        "  baseline --devnet D --from I --to J --size B (--count C | --seconds S) [--concurrency Q] [--runs R]\n"
        "  baseline-sink / baseline-send   (the TCP baseline's two ends; started by the commands above)\n",
        stderr);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        usage();
        return 2;
    }
    if (sodium_init() < 0) {
        std::fprintf(stderr, "voxa-bench: sodium_init failed\n");
        return 1;
    }
    std::string_view const cmd = argv[1];
    voxa::bench::Args const args(argc, argv, 2);
    try {
        if (cmd == "e2e") return voxa::bench::e2e_main(args);
        if (cmd == "relay") return voxa::bench::relay_main(args);
        if (cmd == "baseline") return voxa::bench::baseline_main(args);
        if (cmd == "baseline-sink") return voxa::bench::baseline_sink_main(args);
        if (cmd == "baseline-send") return voxa::bench::baseline_send_main(args);
    } catch (const std::exception& e) {   // only the JSON library throws here; the bench is not the data plane
        std::fprintf(stderr, "voxa-bench: %s\n", e.what());
        return 1;
    }
    usage();
    return 2;
}
