// `voxa-bench relay`: one relay's forwarding rate on a 3-node devnet (origin, ONE relay, destination; hops 1,
// n = k = 1), against voxa-udp-forward as the middle box on the same namespaces in the same run.
//
// --backend (with --start) picks the relay's backend: uring (scripts/devnet.sh --netns, every node io_uring),
// dpdk (devnet.sh --backend mixed --dpdk-nodes 0: the relay runs DPDK on net_af_packet over its veth, origin and
// destination io_uring), memif (bench/dpdk/memif-net.sh: all three nodes DPDK, joined by two net_memif pairs, the
// relay pinned to a core of its own). The voxa-udp-forward baseline needs the kernel's UDP stack in the relay's
// namespace: it is skipped when the relay is a DPDK node (nodes.json "backend") or with --no-baseline.
//
// Per run: the relay's counters (cells_relayed_forward + cells_relayed_backward, from STATS on its socket) and its
// process CPU time are sampled around `seconds` of large messages origin -> destination; cells/s = cell delta /
// wall time, CPU ns per cell = CPU delta / cell delta, Gbit/s = cells/s * cell_bytes * 8. Then the baseline runs
// for the same time with cell_bytes-sized datagrams. Medians over the runs.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "baseline.h"
#include "client_adapter.h"
#include "e2e.h"

#ifndef VOXA_SOURCE_ROOT
#define VOXA_SOURCE_ROOT "."
#endif

namespace voxa::bench {
namespace {

// cells_relayed_forward + cells_relayed_backward of the node behind `socket`; nullopt (and `error`) on failure.
std::optional<double> relayed_cells(const std::string& socket, std::string& error) {
    auto const doc = node_stats(socket, error);
    if (!doc) return std::nullopt;
    return cells_relayed(*doc);
}

int cell_bytes_of(const Devnet& devnet) {
    std::ifstream in(devnet.dir + "/node0/config/p2p.json");
    auto const doc = nlohmann::json::parse(in, nullptr, false);
    return doc.is_object() ? doc.value("cell_bytes", 1280) : 1280;
}

}  // namespace

int relay_main(const Args& args) {
    auto const bad = args.unknown({"devnet", "start", "size", "seconds", "concurrency", "runs", "json",
                                   "udp-forward", "keep", "baseline-port", "backend", "no-baseline"});
    if (!bad.empty()) {
        std::fprintf(stderr, "voxa-bench relay: unknown option --%s\n", bad[0].c_str());
        return 2;
    }
    std::string const backend = args.get_or("backend", "uring");
    if (backend != "uring" && backend != "dpdk" && backend != "memif") {
        std::fprintf(stderr, "voxa-bench relay: --backend: expected uring, dpdk or memif, got %s\n", backend.c_str());
        return 2;
    }
    std::string const dir = args.get_or("devnet", backend == "memif" ? "/tmp/voxa-memif" : "/tmp/voxa-devnet-relay");
    auto const size = parse_size(args.get_or("size", "16M"));
    auto const concurrency = int_option(args, "concurrency", 2, 1, 1024);
    auto const runs = int_option(args, "runs", 5, 1, 100);
    auto const port = int_option(args, "baseline-port", 9300, 1024, 65535);
    double const seconds = std::atof(args.get_or("seconds", "3").c_str());
    std::string const tool = args.get_or("udp-forward", build_dir() + "/dataplane/tools/voxa-udp-forward");
    if (!size || !concurrency || !runs || !port || seconds <= 0) return 2;

    std::string const devnet_sh = backend == "memif" ? std::string(VOXA_SOURCE_ROOT) + "/bench/dpdk/memif-net.sh"
                                                     : std::string(VOXA_SOURCE_ROOT) + "/scripts/devnet.sh";
    bool const start = args.has("start");
    if (start) {
        std::string cmd = "'" + devnet_sh + "' start ";
        if (backend != "memif") cmd += "3 --netns --relays 1 --hops 1 --n 1 --k 1 --parts-per-relay 1 ";
        if (backend == "dpdk") cmd += "--backend mixed --dpdk-nodes 0 ";
        cmd += "--dir '" + dir + "' --build '" + build_dir() + "' >&2";
        if (std::system(cmd.c_str()) != 0) {
            std::fprintf(stderr, "voxa-bench relay: %s failed\n", cmd.c_str());
            return 1;
        }
    }
    auto stop_devnet = [&] {
        if (start && !args.has("keep")) {
            std::string const cmd = "'" + devnet_sh + "' stop --dir '" + dir + "' >&2";
            if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "voxa-bench relay: devnet stop failed\n");
        }
    };
    std::string error;
    auto devnet = load_devnet(dir, error);
    if (!devnet) {
        std::fprintf(stderr, "voxa-bench relay: %s\n", error.c_str());
        stop_devnet();
        return 1;
    }
    int relay = -1, origin = -1, destination = -1, relays = 0;
    for (auto const& node : devnet->nodes) {
        if (node.relay) {
            relay = node.index;
            ++relays;
        } else if (origin < 0) {
            origin = node.index;
        } else if (destination < 0) {
            destination = node.index;
        }
    }
    if (relays != 1 || origin < 0 || destination < 0) {
        std::fprintf(stderr, "voxa-bench relay: needs a devnet with exactly one relay and two endpoints "
                             "(voxa-bench relay --start makes one)\n");
        stop_devnet();
        return 2;
    }
    int const cell_bytes = cell_bytes_of(*devnet);
    auto const& relay_node = devnet->nodes[std::size_t(relay)];
    bool const baseline = !args.has("no-baseline") && relay_node.backend != "dpdk";

    std::printf("voxa-bench relay: node %d -> relay %d (%s) -> node %d (%s), %s messages, concurrency %lld, %.1f s "
                "per run, %lld runs, %d-byte cells%s\n",
                origin, relay, relay_node.backend.c_str(), destination, devnet->netns() ? "netns" : "no netns",
                size_name(*size).c_str(),
                static_cast<long long>(*concurrency), seconds, static_cast<long long>(*runs), cell_bytes,
                baseline ? "" : " (no udp-forward baseline: the relay is not on the kernel stack)");
    std::printf("%4s %12s %10s %12s | %12s %10s %12s\n", "run", "relay c/s", "Gbit/s", "cpu ns/cell", "udpfwd p/s",
                "Gbit/s", "cpu ns/pkt");
    std::vector<double> cells_s, cpu_ns, fwd_pps, fwd_ns;
    nlohmann::json run_log = nlohmann::json::array();
    for (int r = 0; r < *runs; ++r) {
        auto const cells_before = relayed_cells(relay_node.socket, error);
        auto const cpu_before = process_cpu_ns(relay_node.pid);
        uint64_t const t0 = now_ns();
        auto const run = run_voxa(*devnet, origin, destination, *size, 0, seconds, int(*concurrency));
        double const wall_s = double(now_ns() - t0) / 1e9;
        auto const cells_after = relayed_cells(relay_node.socket, error);
        auto const cpu_after = process_cpu_ns(relay_node.pid);
        if (!cells_before || !cells_after || !cpu_before || !cpu_after) {
            std::fprintf(stderr, "voxa-bench relay: reading the relay failed: %s\n", error.c_str());
            stop_devnet();
            return 1;
        }
        if (!run.ok) std::fprintf(stderr, "voxa-bench relay: run %d: %s\n", r, run.error.c_str());
        double const cells = *cells_after - *cells_before;
        double const rate = cells / wall_s;
        double const ns = cells > 0 ? double(*cpu_after - *cpu_before) / cells : 0;
        UdpForwardBaseline base;
        if (baseline) {
            base = run_udp_forward_baseline(tool, devnet->nodes[std::size_t(origin)], relay_node,
                                            devnet->nodes[std::size_t(destination)], uint64_t(cell_bytes), seconds,
                                            uint16_t(*port));
        }
        if (baseline && !base.ok) {
            std::fprintf(stderr, "voxa-bench relay: baseline run %d: %s\n", r, base.error.c_str());
        }
        std::printf("%4d %12.0f %10.3f %12.0f | %12.0f %10.3f %12.0f\n", r, rate, rate * cell_bytes * 8 / 1e9, ns,
                    base.packets_per_s, base.gbps, base.cpu_ns_per_packet);
        std::fflush(stdout);
        if (cells > 0) {
            cells_s.push_back(rate);
            cpu_ns.push_back(ns);
        }
        if (base.ok) {
            fwd_pps.push_back(base.packets_per_s);
            fwd_ns.push_back(base.cpu_ns_per_packet);
        }
        run_log.push_back({{"relay_cells", cells}, {"wall_s", wall_s}, {"relay_cells_per_s", rate},
                           {"relay_cpu_ns_per_cell", ns}, {"messages_arrived", run.arrived},
                           {"messages_sent", run.sent}, {"goodput_gbps", run.goodput_gbps},
                           {"udp_forward_pps", base.packets_per_s},
                           {"udp_forward_cpu_ns_per_packet", base.cpu_ns_per_packet}, {"error", run.error}});
    }
    stop_devnet();
    double const m_cells = median(cells_s), m_ns = median(cpu_ns), m_pps = median(fwd_pps), m_fns = median(fwd_ns);
    double const cells_ratio = m_pps > 0 ? m_cells / m_pps : 0;
    double const cpu_ratio = m_fns > 0 ? m_ns / m_fns : 0;
    std::printf("median relay:        %.0f cells/s, %.3f Gbit/s, %.0f CPU ns per cell\n", m_cells,
                m_cells * cell_bytes * 8 / 1e9, m_ns);
    if (baseline) {
        std::printf("median udp forward:  %.0f packets/s, %.3f Gbit/s, %.0f CPU ns per packet\n", m_pps,
                    m_pps * cell_bytes * 8 / 1e9, m_fns);
        std::printf("ratio relay/forward: %.2fx cells/s, %.2fx CPU per cell (target >= 1.0x cells/s)\n",
                    cells_ratio, cpu_ratio);
    }
    nlohmann::json report = {{"devnet", dir},
                             {"backend", relay_node.backend},
                             {"cell_bytes", cell_bytes},
                             {"message_bytes", *size},
                             {"seconds", seconds},
                             {"runs", run_log},
                             {"relay", {{"cells_per_s", m_cells},
                                        {"gbps", m_cells * cell_bytes * 8 / 1e9},
                                        {"cpu_ns_per_cell", m_ns}}},
                             {"udp_forward", {{"packets_per_s", m_pps},
                                              {"gbps", m_pps * cell_bytes * 8 / 1e9},
                                              {"cpu_ns_per_packet", m_fns}}},
                             {"ratio", {{"cells_per_s", cells_ratio}, {"cpu_per_cell", cpu_ratio}}}};
    if (auto const path = args.get("json")) {
        std::ofstream out(*path);
        out << report.dump(2) << "\n";
    }
    return cells_s.empty() ? 1 : 0;
}

}  // namespace voxa::bench
