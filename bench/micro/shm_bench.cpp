// The control -> data plane channel between two processes, against the obvious alternative measured in the same
// run: a Unix-domain socket pair.
//
//   BM_ShmRingTwoProcess/batch:N    the shm command ring (dataplane/shm): the parent publishes N messages of 64
//                                   bytes, the forked child consumes them and answers the last one on the event ring.
//   BM_UnixSocketPingPong/batch:N   the same exchange over socketpair(AF_UNIX, SOCK_SEQPACKET).
//
// batch:1 is a ping-pong: time per iteration is the round-trip latency. batch:4096 is throughput: items_per_second
// is messages per second (one answer per 4096 messages). Both ends spin briefly, then yield, when idle.
#include <benchmark/benchmark.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "shm/ring.h"
#include "shm/segment.h"

namespace {

using namespace voxa::shm;

constexpr std::size_t kMessageBytes = 64;
constexpr uint16_t kData = 1, kAckMe = 2, kStop = 3;
constexpr int kSpinsBeforeYield = 256;

struct TempDir {
    std::string path;
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "voxa-shm-bench-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

void idle(int* spins) {
    if (++*spins >= kSpinsBeforeYield) {
        *spins = 0;
        ::sched_yield();
    }
}

// The child: consume commands; answer kAckMe with an event; leave on kStop.
[[noreturn]] void shm_child(const std::string& path, const SegmentConfig& config) {
    std::string error;
    auto data = Segment::open(path, config, Side::kData, &error);
    if (!data) ::_exit(2);
    RingConsumer in = data->command_consumer(0);
    RingProducer out = data->event_producer(0);
    int spins = 0;
    for (;;) {
        SlotView v;
        if (!in.peek(&v)) {
            idle(&spins);
            continue;
        }
        spins = 0;
        uint16_t const type = v.type;
        uint64_t const seq = v.seq;
        in.release();
        if (type == kStop) ::_exit(0);
        if (type == kAckMe) {
            uint8_t body[8];
            std::memcpy(body, &seq, 8);
            while (!out.try_push(kAckMe, body)) idle(&spins);
        }
    }
}

void BM_ShmRingTwoProcess(benchmark::State& state) {
    auto const batch = std::size_t(state.range(0));
    TempDir dir;
    std::string const path = dir.path + "/voxa.shm";
    SegmentConfig config;
    config.workers = 1;
    config.ring_slots = 1024;
    config.slot_bytes = 256;
    std::string error;
    auto control = Segment::open(path, config, Side::kControl, &error);
    if (!control) {
        state.SkipWithError(error.c_str());
        return;
    }
    pid_t const pid = ::fork();
    if (pid == 0) shm_child(path, config);
    RingProducer out = control->command_producer(0);
    RingConsumer in = control->event_consumer(0);
    uint8_t message[kMessageBytes];
    std::memset(message, 0x5a, sizeof message);
    int spins = 0;
    for (auto _ : state) {
        for (std::size_t i = 0; i < batch; ++i) {
            while (!out.try_push(i + 1 == batch ? kAckMe : kData, message)) idle(&spins);
        }
        SlotView v;
        while (!in.peek(&v)) idle(&spins);
        in.release();
    }
    while (!out.try_push(kStop, {})) idle(&spins);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) state.SkipWithError("child failed");
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(batch));
}
BENCHMARK(BM_ShmRingTwoProcess)->ArgName("batch")->Arg(1)->Arg(4096)->UseRealTime();

[[noreturn]] void socket_child(int fd) {
    uint8_t buf[kMessageBytes + 1];
    for (;;) {
        ssize_t const n = ::read(fd, buf, sizeof buf);
        if (n <= 0) ::_exit(2);
        if (buf[0] == kStop) ::_exit(0);
        if (buf[0] == kAckMe && ::write(fd, buf, 8) != 8) ::_exit(3);
    }
}

void BM_UnixSocketPingPong(benchmark::State& state) {
    auto const batch = std::size_t(state.range(0));
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
        state.SkipWithError("socketpair failed");
        return;
    }
    pid_t const pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        socket_child(fds[1]);
    }
    ::close(fds[1]);
    uint8_t message[kMessageBytes];
    std::memset(message, 0x5a, sizeof message);
    bool ok = true;
    for (auto _ : state) {
        for (std::size_t i = 0; i < batch; ++i) {
            message[0] = uint8_t(i + 1 == batch ? kAckMe : kData);
            ok &= ::write(fds[0], message, sizeof message) == ssize_t(sizeof message);
        }
        uint8_t ack[16];
        ok &= ::read(fds[0], ack, sizeof ack) == 8;
    }
    message[0] = kStop;
    ok &= ::write(fds[0], message, sizeof message) == ssize_t(sizeof message);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(fds[0]);
    if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) state.SkipWithError("socket exchange failed");
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(batch));
}
BENCHMARK(BM_UnixSocketPingPong)->ArgName("batch")->Arg(1)->Arg(4096)->UseRealTime();

}  // namespace
