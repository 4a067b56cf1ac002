#include "e2e.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "baseline.h"
#include "client_adapter.h"

#ifndef VOXA_PLOT_SCRIPT
#define VOXA_PLOT_SCRIPT "bench/e2e/plot.gnuplot"
#endif

namespace voxa::bench {
namespace {

constexpr std::size_t kStampBytes = 24;   // run tag, seq, send_ns

uint64_t load_u64(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

// What the receiving thread collects.
struct Arrivals {
    std::atomic<uint64_t> count{0};
    std::mutex mutex;                      // guards the fields below (one lock per arrival: messages are large)
    std::vector<double> latencies_ms;
    uint64_t bytes = 0;
    uint64_t last_ns = 0;
    std::string error;
};

void receive_loop(BenchClient& client, uint64_t tag, std::atomic<bool>& stop, Arrivals& out) {
    while (!stop.load(std::memory_order_relaxed)) {
        auto const event = client.next(50);
        if (event.kind == BenchClient::Kind::kClosed) {
            std::lock_guard lock(out.mutex);
            out.error = "receiver connection closed: " + event.error;
            return;
        }
        if (event.kind != BenchClient::Kind::kMessage || event.bytes.size() < kStampBytes) continue;
        uint64_t const arrival_ns = now_ns();
        if (load_u64(event.bytes.data()) != tag) continue;   // an earlier run's straggler
        uint64_t const send_ns = load_u64(event.bytes.data() + 16);
        {
            std::lock_guard lock(out.mutex);
            out.latencies_ms.push_back(double(arrival_ns - send_ns) / 1e6);
            out.bytes += event.bytes.size();
            out.last_ns = arrival_ns;
        }
        out.count.fetch_add(1, std::memory_order_release);
    }
}

std::vector<uint64_t> cpu_sample(const Devnet& devnet) {
    std::vector<uint64_t> out;
    for (auto const& node : devnet.nodes) out.push_back(process_cpu_ns(node.pid).value_or(0));
    return out;
}

}  // namespace

VoxaRun run_voxa(const Devnet& devnet, int from, int to, uint64_t size, uint64_t count, double seconds,
                 int concurrency, double stall_s) {
    VoxaRun run;
    if (size < kStampBytes) {
        run.error = "message size must be at least 24 bytes";
        return run;
    }
    auto const& src = devnet.nodes[std::size_t(from)];
    auto const& dst = devnet.nodes[std::size_t(to)];
    BenchClient sender, receiver;
    if (!sender.connect(src.socket, run.error) || !receiver.connect(dst.socket, run.error) ||
        !receiver.subscribe(run.error)) {
        return run;
    }
    uint64_t tag = 0;
    randombytes_buf(&tag, sizeof tag);
    std::vector<uint8_t> payload(size);
    randombytes_buf(payload.data(), payload.size());
    std::memcpy(payload.data(), &tag, 8);

    Arrivals arrivals;
    std::atomic<bool> stop{false};
    std::thread receiving([&] { receive_loop(receiver, tag, stop, arrivals); });

    auto const cpu_before = cpu_sample(devnet);
    uint64_t const start_ns = now_ns();
    uint64_t const end_ns = start_ns + uint64_t(seconds * 1e9);
    uint64_t const stall_ns = uint64_t(stall_s * 1e9);
    uint64_t first_send_ns = 0, last_progress_ns = start_ns, last_done = 0;
    auto done = [&] { return arrivals.count.load(std::memory_order_acquire) + run.failed; };
    auto more = [&] { return count ? run.sent < count : now_ns() < end_ns; };

    while (true) {
        uint64_t const now = now_ns();
        if (done() != last_done) {
            last_done = done();
            last_progress_ns = now;
        }
        bool const sending = more();
        if (!sending && done() >= run.sent) break;
        if (now - last_progress_ns > stall_ns) {
            run.error = "no progress for " + std::to_string(int(stall_s)) + " s";
            break;
        }
        if (sending && run.sent - done() < uint64_t(concurrency)) {
            uint64_t const seq = run.sent;
            uint64_t const send_ns = now_ns();
            std::memcpy(payload.data() + 8, &seq, 8);
            std::memcpy(payload.data() + 16, &send_ns, 8);
            std::string error;
            if (!sender.send(dst.id, payload, error)) {
                run.error = "send refused: " + error;
                break;
            }
            if (run.sent == 0) first_send_ns = send_ns;
            ++run.sent;
            continue;
        }
        // Window full (or draining): collect delivery reports; a failed message will never arrive.
        auto const event = sender.next(5);
        if (event.kind == BenchClient::Kind::kResult && event.state == 4) ++run.failed;
        if (event.kind == BenchClient::Kind::kClosed) {
            run.error = "sender connection closed: " + event.error;
            break;
        }
    }
    stop.store(true);
    receiving.join();
    auto const cpu_after = cpu_sample(devnet);

    std::lock_guard lock(arrivals.mutex);
    if (!arrivals.error.empty() && run.error.empty()) run.error = arrivals.error;
    run.arrived = arrivals.count.load();
    run.bytes = arrivals.bytes;
    run.seconds = run.arrived ? double(arrivals.last_ns - first_send_ns) / 1e9 : 0;
    if (run.seconds > 0) {
        run.goodput_gbps = double(run.bytes) * 8 / run.seconds / 1e9;
        run.msgs_per_s = double(run.arrived) / run.seconds;
    }
    run.p50_ms = percentile(arrivals.latencies_ms, 0.50);
    run.p99_ms = percentile(arrivals.latencies_ms, 0.99);
    run.p999_ms = percentile(arrivals.latencies_ms, 0.999);
    run.loss = run.sent ? double(run.sent - run.arrived) / double(run.sent) : 0;
    for (std::size_t i = 0; i < cpu_before.size(); ++i) {
        double const cpu_s = double(cpu_after[i] - cpu_before[i]) / 1e9;
        run.cpu_s.push_back(cpu_s);
        run.cpu_s_per_gb.push_back(run.bytes ? cpu_s / (double(run.bytes) / 1e9) : 0);
    }
    run.ok = run.error.empty() && run.arrived > 0;
    return run;
}

namespace {

struct Common {
    Devnet devnet;
    int from = 0, to = 0;
    uint64_t count = 0;
    double seconds = 0;
    int concurrency = 1;
    int runs = 1;
    uint16_t port = 9400;
};

// Shared option handling of `e2e` and `baseline`. nullopt after printing the problem.
std::optional<Common> parse_common(const Args& args) {
    Common c;
    std::string error;
    auto devnet = load_devnet(args.get_or("devnet", "/tmp/voxa-devnet"), error);
    if (!devnet) {
        std::fprintf(stderr, "voxa-bench: %s\n", error.c_str());
        return std::nullopt;
    }
    c.devnet = std::move(*devnet);
    int64_t const last = int64_t(c.devnet.nodes.size()) - 1;
    auto const from = int_option(args, "from", last, 0, last);
    auto const to = int_option(args, "to", last - 1, 0, last);
    auto const count = int_option(args, "count", 0, 0, int64_t(1) << 32);
    auto const concurrency = int_option(args, "concurrency", 4, 1, 4096);
    auto const runs = int_option(args, "runs", 1, 1, 1000);
    auto const port = int_option(args, "baseline-port", 9400, 1024, 65535);
    if (!from || !to || !count || !concurrency || !runs || !port) return std::nullopt;
    c.from = int(*from);
    c.to = int(*to);
    c.count = uint64_t(*count);
    c.seconds = std::atof(args.get_or("seconds", "0").c_str());
    c.concurrency = int(*concurrency);
    c.runs = int(*runs);
    c.port = uint16_t(*port);
    if (c.from == c.to) {
        std::fprintf(stderr, "voxa-bench: --from and --to must differ\n");
        return std::nullopt;
    }
    if (c.count == 0 && c.seconds <= 0) c.count = 20;
    return c;
}

nlohmann::json run_json(const VoxaRun& r) {
    return {{"ok", r.ok},           {"error", r.error},       {"sent", r.sent},
            {"arrived", r.arrived}, {"failed", r.failed},     {"bytes", r.bytes},
            {"seconds", r.seconds}, {"goodput_gbps", r.goodput_gbps}, {"msgs_per_s", r.msgs_per_s},
            {"p50_ms", r.p50_ms},   {"p99_ms", r.p99_ms},     {"p999_ms", r.p999_ms},
            {"loss", r.loss},       {"cpu_s", r.cpu_s},       {"cpu_s_per_gb", r.cpu_s_per_gb}};
}

nlohmann::json baseline_json(const TcpBaseline& b) {
    return {{"ok", b.ok},           {"error", b.error},        {"messages", b.messages}, {"bytes", b.bytes},
            {"seconds", b.seconds}, {"goodput_gbps", b.goodput_gbps}, {"msgs_per_s", b.msgs_per_s},
            {"p50_ms", b.p50_us / 1e3}, {"p99_ms", b.p99_us / 1e3}, {"p999_ms", b.p999_us / 1e3}};
}

// Median of one numeric field over the runs' JSON objects (only the runs that succeeded).
double median_of(const std::vector<nlohmann::json>& runs, const char* key) {
    std::vector<double> values;
    for (auto const& r : runs) {
        if (r.value("ok", false)) values.push_back(r[key].get<double>());
    }
    return median(values);
}

double ratio(double a, double b) { return b > 0 ? a / b : 0; }

}  // namespace

int e2e_main(const Args& args) {
    auto const bad = args.unknown({"devnet", "from", "to", "sizes", "count", "seconds", "concurrency", "json", "plot",
                                   "runs", "baseline-port", "no-baseline"});
    if (!bad.empty()) {
        std::fprintf(stderr, "voxa-bench e2e: unknown option --%s\n", bad[0].c_str());
        return 2;
    }
    auto common = parse_common(args);
    if (!common) return 2;
    auto& c = *common;
    auto const sizes = parse_sizes(args.get_or("sizes", "64K,1M,16M"));
    if (sizes.empty()) {
        std::fprintf(stderr, "voxa-bench e2e: --sizes: expected a list like 64K,1M,16M\n");
        return 2;
    }
    bool const with_baseline = !args.has("no-baseline");
    std::size_t const nodes = c.devnet.nodes.size();

    nlohmann::json report = {
        {"devnet", c.devnet.dir}, {"netns", c.devnet.netns()}, {"nodes", nodes}, {"from", c.from}, {"to", c.to},
        {"count", c.count},       {"seconds", c.seconds},      {"concurrency", c.concurrency}, {"runs", c.runs},
        {"sizes", nlohmann::json::array()}};
    std::printf("voxa-bench e2e: %zu nodes (%s), node %d -> node %d, concurrency %d, %s, median of %d run(s)\n",
                nodes, c.devnet.netns() ? "netns" : "loopback", c.from, c.to, c.concurrency,
                c.count ? (std::to_string(c.count) + " messages per run").c_str()
                        : (std::to_string(c.seconds) + " s per run").c_str(),
                c.runs);
    std::printf("%-6s %-8s %9s %9s %9s %9s %9s %7s %11s\n", "size", "path", "Gbit/s", "msgs/s", "p50 ms", "p99 ms",
                "p999 ms", "loss", "cpu s/GB*");
    bool all_ok = true;
    for (uint64_t const size : sizes) {
        std::vector<nlohmann::json> voxa_runs, base_runs;
        for (int r = 0; r < c.runs; ++r) {
            auto const run = run_voxa(c.devnet, c.from, c.to, size, c.count, c.seconds, c.concurrency);
            if (!run.ok) std::fprintf(stderr, "voxa-bench: %s run %d: %s\n", size_name(size).c_str(), r, run.error.c_str());
            voxa_runs.push_back(run_json(run));
            if (with_baseline) {
                // The baseline sends what voxa delivered in this run (count mode: the same count).
                auto const base = run_tcp_baseline(c.devnet.nodes[std::size_t(c.from)],
                                                   c.devnet.nodes[std::size_t(c.to)], size, c.count, c.seconds,
                                                   c.concurrency, c.port);
                if (!base.ok) std::fprintf(stderr, "voxa-bench: baseline %s run %d: %s\n", size_name(size).c_str(), r,
                                           base.error.c_str());
                base_runs.push_back(baseline_json(base));
            }
        }
        nlohmann::json entry = {{"size", size}, {"name", size_name(size)}};
        nlohmann::json voxa = {{"runs", voxa_runs}};
        for (auto key : {"goodput_gbps", "msgs_per_s", "p50_ms", "p99_ms", "p999_ms", "loss", "seconds"}) {
            voxa[key] = median_of(voxa_runs, key);
        }
        std::vector<double> cpu_per_gb(nodes, 0);
        double cpu_total = 0;
        for (std::size_t n = 0; n < nodes; ++n) {
            std::vector<double> values;
            for (auto const& r : voxa_runs) {
                if (r.value("ok", false)) values.push_back(r["cpu_s_per_gb"][n].get<double>());
            }
            cpu_per_gb[n] = median(values);
            cpu_total += cpu_per_gb[n];
        }
        voxa["cpu_s_per_gb"] = cpu_per_gb;
        voxa["cpu_s_per_gb_total"] = cpu_total;
        int const ok_runs = int(std::count_if(voxa_runs.begin(), voxa_runs.end(),
                                              [](auto const& r) { return r.value("ok", false); }));
        voxa["ok_runs"] = ok_runs;
        all_ok = all_ok && ok_runs == c.runs;
        entry["voxa"] = voxa;
        std::printf("%-6s %-8s %9.3f %9.1f %9.2f %9.2f %9.2f %7.4f %11.1f\n", size_name(size).c_str(), "voxa",
                    voxa["goodput_gbps"].get<double>(), voxa["msgs_per_s"].get<double>(), voxa["p50_ms"].get<double>(),
                    voxa["p99_ms"].get<double>(), voxa["p999_ms"].get<double>(), voxa["loss"].get<double>(), cpu_total);
        if (with_baseline) {
            nlohmann::json base = {{"runs", base_runs}};
            for (auto key : {"goodput_gbps", "msgs_per_s", "p50_ms", "p99_ms", "p999_ms", "seconds"}) {
                base[key] = median_of(base_runs, key);
            }
            entry["baseline_tcp"] = base;
            entry["ratio"] = {{"goodput", ratio(voxa["goodput_gbps"], base["goodput_gbps"])},
                              {"msgs_per_s", ratio(voxa["msgs_per_s"], base["msgs_per_s"])},
                              {"p50", ratio(voxa["p50_ms"], base["p50_ms"])},
                              {"p99", ratio(voxa["p99_ms"], base["p99_ms"])}};
            std::printf("%-6s %-8s %9.3f %9.1f %9.2f %9.2f %9.2f %7s %11s\n", "", "tcp", base["goodput_gbps"].get<double>(),
                        base["msgs_per_s"].get<double>(), base["p50_ms"].get<double>(), base["p99_ms"].get<double>(),
                        base["p999_ms"].get<double>(), "-", "-");
            std::printf("%-6s %-8s %8.3fx %8.3fx %8.2fx %8.2fx\n", "", "ratio", entry["ratio"]["goodput"].get<double>(),
                        entry["ratio"]["msgs_per_s"].get<double>(), entry["ratio"]["p50"].get<double>(),
                        entry["ratio"]["p99"].get<double>());
        }
        std::fflush(stdout);
        report["sizes"].push_back(entry);
    }
    std::printf("* cpu s/GB: CPU seconds of all %zu node processes per GB of payload delivered (per node in the JSON)\n",
                nodes);

    if (auto const path = args.get("json")) {
        std::ofstream out(*path);
        out << report.dump(2) << "\n";
        if (!out) std::fprintf(stderr, "voxa-bench: cannot write %s\n", path->c_str());
    }
    if (auto const path = args.get("plot")) {
        std::string const data = *path + ".dat";
        {
            std::ofstream out(data);
            out << "# size_bytes voxa_gbps tcp_gbps voxa_p50_ms voxa_p99_ms tcp_p50_ms tcp_p99_ms\n";
            for (auto const& e : report["sizes"]) {
                auto const base = e.value("baseline_tcp", nlohmann::json::object());
                out << e["size"].get<uint64_t>() << ' ' << e["voxa"]["goodput_gbps"].get<double>() << ' '
                    << base.value("goodput_gbps", 0.0) << ' ' << e["voxa"]["p50_ms"].get<double>() << ' '
                    << e["voxa"]["p99_ms"].get<double>() << ' ' << base.value("p50_ms", 0.0) << ' '
                    << base.value("p99_ms", 0.0) << "\n";
            }
        }
        std::string const cmd = "gnuplot -e \"datafile='" + data + "'; outfile='" + *path + "'\" '" +
                                VOXA_PLOT_SCRIPT + "'";
        if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "voxa-bench: gnuplot failed: %s\n", cmd.c_str());
    }
    return all_ok ? 0 : 1;
}

int baseline_main(const Args& args) {
    auto const bad = args.unknown({"devnet", "from", "to", "size", "count", "seconds", "concurrency", "runs",
                                   "baseline-port"});
    if (!bad.empty()) {
        std::fprintf(stderr, "voxa-bench baseline: unknown option --%s\n", bad[0].c_str());
        return 2;
    }
    auto common = parse_common(args);
    auto const size = parse_size(args.get_or("size", "1M"));
    if (!common || !size) return 2;
    auto& c = *common;
    std::vector<nlohmann::json> runs;
    for (int r = 0; r < c.runs; ++r) {
        auto const base = run_tcp_baseline(c.devnet.nodes[std::size_t(c.from)], c.devnet.nodes[std::size_t(c.to)],
                                           *size, c.count, c.seconds, c.concurrency, c.port);
        if (!base.ok) std::fprintf(stderr, "voxa-bench baseline: %s\n", base.error.c_str());
        runs.push_back(baseline_json(base));
    }
    nlohmann::json out = {{"size", *size}, {"runs", runs}};
    for (auto key : {"goodput_gbps", "msgs_per_s", "p50_ms", "p99_ms", "seconds"}) out[key] = median_of(runs, key);
    std::printf("%s\n", out.dump().c_str());
    return out["goodput_gbps"].get<double>() > 0 ? 0 : 1;
}

}  // namespace voxa::bench
