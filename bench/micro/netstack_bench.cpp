// Our Ethernet/IP/UDP layer (dataplane/netstack) per frame, for the DPDK backend, with 1280-byte cells:
//   BM_NetstackParse/<4|6>            parse_udp with software checksum verification (IPv4 header + UDP)
//   BM_NetstackParseNoVerify/<4|6>    parse_udp trusting the NIC's checksum offload
//   BM_NetstackWriteHeaders/<4|6>     write_udp_headers with software checksums (payload already in place)
//   BM_NetstackWriteHeadersOffload/<4|6>  write_udp_headers for NIC offload (pseudo-header sum only)
//   BM_NetstackParseIpOnly/<4|6>      parse_udp with checksum policy "off" (IPv4 header checksum only; IPv6 still
//                                     verifies UDP)
//   BM_NetstackWriteHeadersNoUdp/<4|6>  write_udp_headers with policy "off" (IPv4: header checksum, UDP 0)
//   BM_ClockSteady / BM_ClockLoop     one engine clock read: CLOCK_MONOTONIC (vdso) vs the reactor's LoopClock
//                                     inside an iteration (the relay reads it ~3 times per cell)
//   BM_Checksum/<bytes>               the 8-bytes-per-step Internet checksum, and
//   BM_ChecksumBytewise/<bytes>       RFC 1071's byte-wise reference loop on the same bytes (the baseline)
// Time per iteration is ns per frame; bytes/s are checksummed bytes.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <cstring>
#include <vector>

#include "common/clock.h"
#include "netstack/checksum.h"
#include "netstack/frame.h"
#include "reactor/doorbell.h"
#include "reactor/reactor.h"
#include "voxa/wire.h"

namespace {

using namespace voxa;
using namespace voxa::netstack;

constexpr std::size_t kPayload = wire::kCellBytesDefault;

struct Setup {
    LocalAddrs local;
    Endpoint from;
    Endpoint to;
    MacAddr a{{0x02, 0, 0, 0, 0, 1}};
    std::vector<uint8_t> frame;
    std::size_t headers = 0;

    explicit Setup(bool v6) {
        local.mac = MacAddr{{0x02, 0, 0, 0, 0, 2}};
        from.family = to.family = v6 ? Endpoint::Family::kIpv6 : Endpoint::Family::kIpv4;
        from.port = 40000;
        to.port = 51820;
        from.addr[0] = to.addr[0] = v6 ? 0xfd : 10;
        from.addr[v6 ? 15 : 3] = 1;
        to.addr[v6 ? 15 : 3] = 2;
        local.add(to);
        headers = header_bytes(from.family);
        frame.resize(headers + kPayload);
        randombytes_buf(frame.data() + headers, kPayload);
        write_udp_headers({frame.data(), headers}, a, local.mac, from, to, {frame.data() + headers, kPayload},
                          ChecksumMode::kSoftware);
    }
};

void parse_bench(benchmark::State& state, RxVerify verify) {
    Setup s(state.range(0) == 6);
    ParsedUdp p;
    for (auto _ : state) {
        Drop const d = parse_udp(s.frame, s.local, verify, &p);
        benchmark::DoNotOptimize(d);
        benchmark::DoNotOptimize(p);
        if (d != Drop::kNone) state.SkipWithError("parse failed");
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(s.frame.size()));
}
void BM_NetstackParse(benchmark::State& state) { parse_bench(state, RxVerify::kAll); }
void BM_NetstackParseNoVerify(benchmark::State& state) { parse_bench(state, RxVerify::kNone); }
void BM_NetstackParseIpOnly(benchmark::State& state) { parse_bench(state, RxVerify::kIpHeader); }
BENCHMARK(BM_NetstackParse)->Arg(4)->Arg(6);
BENCHMARK(BM_NetstackParseNoVerify)->Arg(4)->Arg(6);
BENCHMARK(BM_NetstackParseIpOnly)->Arg(4)->Arg(6);

void write_bench(benchmark::State& state, ChecksumMode mode) {
    Setup s(state.range(0) == 6);
    for (auto _ : state) {
        write_udp_headers({s.frame.data(), s.headers}, s.a, s.local.mac, s.from, s.to,
                          {s.frame.data() + s.headers, kPayload}, mode);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(s.frame.size()));
}
void BM_NetstackWriteHeaders(benchmark::State& state) { write_bench(state, ChecksumMode::kSoftware); }
void BM_NetstackWriteHeadersOffload(benchmark::State& state) { write_bench(state, ChecksumMode::kOffload); }
BENCHMARK(BM_NetstackWriteHeaders)->Arg(4)->Arg(6);
void BM_NetstackWriteHeadersNoUdp(benchmark::State& state) { write_bench(state, ChecksumMode::kNoUdp); }
BENCHMARK(BM_NetstackWriteHeadersOffload)->Arg(4)->Arg(6);
BENCHMARK(BM_NetstackWriteHeadersNoUdp)->Arg(4)->Arg(6);

void BM_ClockSteady(benchmark::State& state) {
    SteadyClock clock;
    const Clock& c = clock;
    for (auto _ : state) benchmark::DoNotOptimize(c.now_ns());
}
BENCHMARK(BM_ClockSteady);

// Inside a reactor iteration: the source reads the loop clock the way the engine does (through Clock&).
void BM_ClockLoop(benchmark::State& state) {
    struct Source final : reactor::PollSource {
        benchmark::State* state = nullptr;
        const Clock* clock = nullptr;
        std::size_t poll(uint64_t) noexcept override {
            for (auto _ : *state) benchmark::DoNotOptimize(clock->now_ns());
            return 0;
        }
    };
    SteadyClock steady;
    reactor::Doorbell bell;
    reactor::Reactor r(steady, reactor::ReactorConfig{}, bell);
    Source s;
    s.state = &state;
    s.clock = &r.loop_clock();
    r.add_source(s);
    (void)r.run_once();
}
BENCHMARK(BM_ClockLoop);

void BM_Checksum(benchmark::State& state) {
    std::vector<uint8_t> bytes(std::size_t(state.range(0)));
    randombytes_buf(bytes.data(), bytes.size());
    for (auto _ : state) benchmark::DoNotOptimize(checksum(bytes));
    state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}
void BM_ChecksumBytewise(benchmark::State& state) {
    std::vector<uint8_t> bytes(std::size_t(state.range(0)));
    randombytes_buf(bytes.data(), bytes.size());
    for (auto _ : state) benchmark::DoNotOptimize(checksum_bytewise(bytes));
    state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Checksum)->Arg(1288);
BENCHMARK(BM_ChecksumBytewise)->Arg(1288);

}  // namespace
