#include "io/uring_backend.h"

#include <liburing.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "io/steering.h"
#include "io/udp_socket.h"
#include "voxa/assert.h"

namespace voxa::io {

namespace {

// user_data: the kind of request in the top byte, an index below.
enum class Tag : uint8_t { kRecv = 1, kSend = 2, kWake = 3, kCancel = 4 };
constexpr unsigned kTagShift = 56;
constexpr uint64_t make_user_data(Tag tag, uint64_t index) { return (uint64_t(tag) << kTagShift) | index; }
constexpr Tag tag_of(uint64_t user_data) { return Tag(user_data >> kTagShift); }
constexpr uint64_t index_of(uint64_t user_data) { return user_data & ((uint64_t(1) << kTagShift) - 1); }

constexpr uint16_t kBufferGroup = 0;
// The kernel's limits for one UDP GSO send: UDP_MAX_SEGMENTS was 64 before 6.x raised it; the byte limit is
// the largest IPv4 UDP payload (v6 allows a little more; one number for both keeps the batcher simple).
constexpr std::size_t kGsoSegmentsMax = 64;
constexpr std::size_t kGsoBytesMax = 65507;
constexpr std::size_t kDatagramBytesMax = 65507;
constexpr std::size_t kControlBytes = CMSG_SPACE(sizeof(int));   // room for the UDP_GRO cmsg
// In front of the payload in a provided buffer: io_uring_recvmsg_out, the source address, the control data.
constexpr std::size_t kRxHeaderBytes = sizeof(io_uring_recvmsg_out) + sizeof(sockaddr_in6) + kControlBytes;
constexpr std::size_t kCacheLine = 64;
constexpr std::size_t kFallbackRequestsMax = 256;

constexpr std::size_t round_up(std::size_t v, std::size_t to) { return (v + to - 1) / to * to; }

void log_fallback(uint32_t worker, const char* what, const std::string& why) {
    std::fprintf(stderr, "voxa-io: worker %u: %s (%s)\n", worker, what, why.c_str());
}

std::string errno_string(int err) { return std::strerror(err < 0 ? -err : err); }

void* map_anonymous(std::size_t bytes) noexcept {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
}

// One sendmsg: a datagram, or a GSO run of `count` datagrams of seg_bytes each, contiguous in the TX arena.
struct TxBatch {
    msghdr msg{};
    iovec iov{};
    sockaddr_in6 addr{};
    alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(uint16_t))] = {};
    Endpoint to;
    std::size_t offset = 0, bytes = 0, count = 0, seg_bytes = 0;
    bool done = false;             // the completion arrived; released when every older batch is done too
};

// A single-shot receive request (fallback): its own msghdr over its own buffer.
struct RxRequest {
    msghdr msg{};
    iovec iov{};
    sockaddr_in6 name{};
    alignas(cmsghdr) uint8_t control[kControlBytes] = {};
};

class UringBackend final : public Backend {
public:
    explicit UringBackend(const UringConfig& config) : config_(config) {}
    ~UringBackend() override;
    UringBackend(const UringBackend&) = delete;
    UringBackend& operator=(const UringBackend&) = delete;

    bool init(std::string* error);

    std::size_t poll(RxHandler& h, std::size_t budget) noexcept override;
    void transmit(const Endpoint& to, std::span<const uint8_t> datagram) noexcept override;
    void flush() noexcept override;
    bool tx_pending() const noexcept override { return queued_datagrams_ > 0; }
    void wait(uint64_t timeout_ns) noexcept override;
    uint16_t local_port() const noexcept override { return port_; }
    std::string features() const override;
    const BackendStats& stats() const noexcept override { return stats_; }

private:
    // Receive.
    bool setup_multishot(std::string* why);
    void setup_single_shot();
    void arm_multishot() noexcept;
    void arm_single(std::size_t slot) noexcept;
    void arm_wake() noexcept;
    void start_receive(const io_uring_cqe& cqe) noexcept;
    void recycle(std::size_t buffer) noexcept;
    uint8_t* rx_buffer(std::size_t i) const noexcept { return rx_mem_ + i * rx_stride_; }
    // Completions: sends and the doorbell are handled at once; receives are queued for poll().
    void drain() noexcept;
    void complete_send(const io_uring_cqe& cqe) noexcept;
    // Transmit.
    bool reserve(std::size_t len, std::size_t* offset) const noexcept;
    bool room_for_batch(std::size_t len, std::size_t* offset) const noexcept;
    TxBatch& batch_at(std::size_t k) noexcept { return batches_[(batch_head_ + k) % batches_.size()]; }
    void prepare_send(TxBatch& b) noexcept;
    void submit() noexcept;
    io_uring_sqe* get_sqe() noexcept;
    void use_fd(io_uring_sqe* sqe) noexcept;

    UringConfig config_;
    BackendStats stats_;
    int fd_ = -1;
    int family_ = AF_INET;
    uint16_t port_ = 0;
    io_uring ring_{};
    bool ring_ok_ = false;
    bool fixed_file_ = false, multishot_ = false, gso_ = false, gro_ = false, sqpoll_ = false, steering_ = false;
    bool sqes_prepared_ = false;   // SQEs are waiting for the next submit

    // Receive buffers: rx_count_ buffers of rx_stride_ bytes; with multishot they are lent to the kernel through
    // the buffer ring, in the fallback each has its own request.
    uint8_t* rx_mem_ = nullptr;
    std::size_t rx_mem_bytes_ = 0, rx_stride_ = 0, rx_count_ = 0;
    io_uring_buf_ring* buf_ring_ = nullptr;
    std::size_t buf_ring_bytes_ = 0;
    uint32_t buf_ring_entries_ = 0;
    bool buf_ring_registered_ = false;
    msghdr rx_msg_{};              // multishot: tells the kernel how much room the name and control data take
    std::vector<RxRequest> requests_;
    bool rearm_recv_ = false, rearm_wake_ = false;
    std::size_t recv_outstanding_ = 0;   // receive requests the kernel holds (for teardown)
    std::size_t sends_outstanding_ = 0;  // send requests without a completion yet (for teardown)

    // Receive completions not yet handed up, a FIFO (transmit() may reap while poll() is handing up).
    std::vector<io_uring_cqe> pending_;
    std::size_t pending_head_ = 0, pending_count_ = 0;
    // The completion being handed up: a GRO batch may span several poll() calls.
    struct Cursor {
        bool active = false;
        Endpoint from;
        uint8_t* data = nullptr;
        std::size_t left = 0, seg = 0, buffer = 0;
    } cur_;

    // Transmit arena: datagrams are packed back to back; [head, tail) in use, wrapping at arena_bytes_.
    uint8_t* tx_mem_ = nullptr;
    std::size_t arena_bytes_ = 0, tx_tail_ = 0, slot_bytes_ = 0;
    std::vector<TxBatch> batches_;   // a ring: [head, head + inflight) submitted, then `queued` not yet
    std::size_t batch_head_ = 0, batches_inflight_ = 0, batches_queued_ = 0;
    std::size_t live_datagrams_ = 0, queued_datagrams_ = 0;
    bool open_ = false;            // the newest queued batch may still grow (GSO)
};

UringBackend::~UringBackend() {
    if (ring_ok_) {
        // Cancel every request and wait (boundedly) until the kernel has let go of our buffers.
        if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) {
            io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
            io_uring_sqe_set_data64(sqe, make_user_data(Tag::kCancel, 0));
        }
        io_uring_submit(&ring_);
        for (int round = 0; round < 50 && (recv_outstanding_ > 0 || sends_outstanding_ > 0); ++round) {
            __kernel_timespec ts{0, 10'000'000};
            io_uring_cqe* cqe = nullptr;
            io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
            unsigned head;
            unsigned seen = 0;
            io_uring_for_each_cqe(&ring_, head, cqe) {
                ++seen;
                const Tag tag = tag_of(cqe->user_data);
                if (tag == Tag::kRecv && !(cqe->flags & IORING_CQE_F_MORE) && recv_outstanding_ > 0)
                    --recv_outstanding_;
                if (tag == Tag::kSend && sends_outstanding_ > 0) --sends_outstanding_;
            }
            io_uring_cq_advance(&ring_, seen);
        }
        if (buf_ring_registered_) io_uring_unregister_buf_ring(&ring_, kBufferGroup);
        io_uring_queue_exit(&ring_);
    }
    if (fd_ >= 0) close(fd_);
    if (buf_ring_) munmap(buf_ring_, buf_ring_bytes_);
    if (rx_mem_) munmap(rx_mem_, rx_mem_bytes_);
    if (tx_mem_) munmap(tx_mem_, arena_bytes_);
}

bool UringBackend::init(std::string* error) {
    auto fail = [&](const std::string& why) {
        if (error) *error = why;
        return false;
    };
    const UringConfig& c = config_;
    if (c.workers == 0 || c.worker >= c.workers) return fail("worker index out of range");
    if (c.cell_bytes == 0 || c.cell_bytes > kDatagramBytesMax) return fail("cell_bytes must be 1..65507");
    if (c.rx_buffers == 0 || c.rx_buffers > 32768) return fail("rx_buffers must be 1..32768");
    if (c.rx_buffer_bytes < c.cell_bytes) return fail("rx_buffer_bytes must be >= cell_bytes");
    if (c.tx_slots == 0 || c.tx_batch == 0) return fail("tx_slots and tx_batch must be >= 1");
    if (c.ring_entries < 8 || c.ring_entries > 32768) return fail("ring_entries must be 8..32768");

    UdpSocketOptions so;
    so.bind = c.bind;
    so.gro = c.gro;
    so.buffer_bytes = c.socket_buffer_bytes;
    std::string why;
    const UdpSocketResult sock = open_udp_socket(so, &why);
    if (sock.fd < 0) return fail(why);
    fd_ = sock.fd;
    family_ = c.bind.family == Endpoint::Family::kIpv6 ? AF_INET6 : AF_INET;
    port_ = socket_port(fd_);
    gro_ = sock.gro;
    if (c.gro && !gro_) log_fallback(c.worker, "no UDP GRO: one datagram per receive", sock.gro_error);

    // The ring. The CQ is larger than the SQ: every multishot receive and every send posts into it.
    io_uring_params params{};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = c.ring_entries * 4;
    if (c.sqpoll) {
        params.flags |= IORING_SETUP_SQPOLL;
        params.sq_thread_idle = 1000;   // ms before the kernel thread sleeps
        const int rc = io_uring_queue_init_params(c.ring_entries, &ring_, &params);
        if (rc == 0) {
            sqpoll_ = true;
        } else {
            log_fallback(c.worker, "no SQPOLL: normal submission", errno_string(rc));
            params = io_uring_params{};
            params.flags = IORING_SETUP_CQSIZE;
            params.cq_entries = c.ring_entries * 4;
        }
    }
    if (!sqpoll_) {
        const int rc = io_uring_queue_init_params(c.ring_entries, &ring_, &params);
        if (rc != 0) return fail("io_uring unavailable: io_uring_queue_init: " + errno_string(rc));
    }
    ring_ok_ = true;

    const int rc_files = io_uring_register_files(&ring_, &fd_, 1);
    if (rc_files == 0) {
        fixed_file_ = true;
    } else {
        log_fallback(c.worker, "socket not registered: plain fd", errno_string(rc_files));
    }

    // GSO is a per-send cmsg; a kernel that knows UDP_SEGMENT answers getsockopt for it.
    if (c.gso) {
        int seg = 0;
        socklen_t len = sizeof seg;
        if (getsockopt(fd_, IPPROTO_UDP, UDP_SEGMENT, &seg, &len) == 0) {
            gso_ = true;
        } else {
            log_fallback(c.worker, "no UDP GSO: one send per datagram", errno_string(errno));
        }
    }

    // Receive memory: the header the kernel writes in front of each payload, then rx_buffer_bytes of payload.
    rx_stride_ = round_up(kRxHeaderBytes + c.rx_buffer_bytes, kCacheLine);
    rx_count_ = c.rx_buffers;
    rx_mem_bytes_ = rx_stride_ * rx_count_;
    rx_mem_ = static_cast<uint8_t*>(map_anonymous(rx_mem_bytes_));
    if (!rx_mem_) return fail("mmap of receive buffers failed: " + errno_string(errno));

    pending_.resize(std::size_t(params.cq_entries));
    if (c.multishot) {
        if (!setup_multishot(&why)) {
            log_fallback(c.worker, "no multishot recvmsg with a buffer ring: single-shot recvmsg", why);
            setup_single_shot();
        }
    } else {
        setup_single_shot();
    }

    if (c.wake_fd >= 0) arm_wake();

    // Transmit arena and batch ring.
    slot_bytes_ = c.cell_bytes;
    arena_bytes_ = round_up(c.tx_slots * slot_bytes_, 4096);
    tx_mem_ = static_cast<uint8_t*>(map_anonymous(arena_bytes_));
    if (!tx_mem_) return fail("mmap of the TX arena failed: " + errno_string(errno));
    batches_.resize(c.tx_slots);

    if (c.workers > 1 && c.bpf_steering && c.worker == c.workers - 1) {
        if (attach_steering(fd_, c.workers, &why)) {
            steering_ = true;
        } else {
            log_fallback(c.worker, "no BPF steering: the kernel's hash picks the worker", why);
        }
    }
    submit();
    return true;
}

bool UringBackend::setup_multishot(std::string* why) {
    buf_ring_entries_ = 1;
    while (buf_ring_entries_ < rx_count_) buf_ring_entries_ <<= 1;
    buf_ring_bytes_ = round_up(buf_ring_entries_ * sizeof(io_uring_buf), 4096);
    buf_ring_ = static_cast<io_uring_buf_ring*>(map_anonymous(buf_ring_bytes_));
    if (!buf_ring_) {
        *why = "mmap: " + errno_string(errno);
        return false;
    }
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
    reg.ring_entries = buf_ring_entries_;
    reg.bgid = kBufferGroup;
    const int rc = io_uring_register_buf_ring(&ring_, &reg, 0);
    if (rc != 0) {
        *why = "io_uring_register_buf_ring: " + errno_string(rc);
        munmap(buf_ring_, buf_ring_bytes_);
        buf_ring_ = nullptr;
        return false;
    }
    buf_ring_registered_ = true;
    io_uring_buf_ring_init(buf_ring_);
    const int mask = io_uring_buf_ring_mask(buf_ring_entries_);
    for (std::size_t i = 0; i < rx_count_; ++i)
        io_uring_buf_ring_add(buf_ring_, rx_buffer(i), unsigned(rx_stride_), uint16_t(i), mask, int(i));
    io_uring_buf_ring_advance(buf_ring_, int(rx_count_));

    // In a multishot receive buffer the control messages follow the 16-byte header and the name area directly,
    // and a cmsghdr needs 8-byte alignment: reserve 32 bytes for the (28-byte) sockaddr_in6, not 28.
    rx_msg_.msg_namelen = 32;
    static_assert(sizeof(sockaddr_in6) <= 32 && sizeof(io_uring_recvmsg_out) % 8 == 0 && kControlBytes % 8 == 0);
    rx_msg_.msg_controllen = kControlBytes;
    multishot_ = true;
    arm_multishot();
    submit();
    // A kernel without multishot recvmsg fails the request at once: look for that before trusting it.
    io_uring_cqe* cqe = nullptr;
    if (io_uring_peek_cqe(&ring_, &cqe) == 0 && cqe && tag_of(cqe->user_data) == Tag::kRecv && cqe->res < 0 &&
        cqe->res != -ENOBUFS && !(cqe->flags & IORING_CQE_F_MORE)) {
        *why = "multishot recvmsg: " + errno_string(cqe->res);
        io_uring_cqe_seen(&ring_, cqe);
        recv_outstanding_ = 0;
        multishot_ = false;
        io_uring_unregister_buf_ring(&ring_, kBufferGroup);
        buf_ring_registered_ = false;
        munmap(buf_ring_, buf_ring_bytes_);
        buf_ring_ = nullptr;
        return false;
    }
    return true;
}

void UringBackend::setup_single_shot() {
    multishot_ = false;
    // One request per buffer, bounded so that re-arming them all fits the SQ.
    std::size_t n = rx_count_;
    if (n > kFallbackRequestsMax) n = kFallbackRequestsMax;
    if (n > config_.ring_entries / 2) n = config_.ring_entries / 2;
    requests_.resize(n);
    for (std::size_t i = 0; i < n; ++i) arm_single(i);
}

io_uring_sqe* UringBackend::get_sqe() noexcept {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
        submit();
        sqe = io_uring_get_sqe(&ring_);
    }
    if (sqe) sqes_prepared_ = true;
    return sqe;
}

void UringBackend::use_fd(io_uring_sqe* sqe) noexcept {
    if (fixed_file_) {
        sqe->fd = 0;
        sqe->flags |= IOSQE_FIXED_FILE;
    }
}

void UringBackend::submit() noexcept {
    if (!sqes_prepared_) return;
    sqes_prepared_ = false;
    (void)io_uring_submit(&ring_);
}

void UringBackend::arm_multishot() noexcept {
    io_uring_sqe* sqe = get_sqe();
    if (!sqe) {
        rearm_recv_ = true;   // try again at the end of the next poll()
        return;
    }
    io_uring_prep_recvmsg_multishot(sqe, fd_, &rx_msg_, 0);
    use_fd(sqe);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(sqe, make_user_data(Tag::kRecv, 0));
    ++recv_outstanding_;
}

void UringBackend::arm_single(std::size_t slot) noexcept {
    RxRequest& r = requests_[slot];
    io_uring_sqe* sqe = get_sqe();
    VOXA_CHECK(sqe != nullptr);   // at most ring_entries / 2 requests exist; the SQ was flushed by get_sqe
    r.iov.iov_base = rx_buffer(slot);
    r.iov.iov_len = config_.rx_buffer_bytes;
    r.msg = msghdr{};
    r.msg.msg_name = &r.name;
    r.msg.msg_namelen = sizeof r.name;
    r.msg.msg_iov = &r.iov;
    r.msg.msg_iovlen = 1;
    r.msg.msg_control = r.control;
    r.msg.msg_controllen = sizeof r.control;
    io_uring_prep_recvmsg(sqe, fd_, &r.msg, 0);
    use_fd(sqe);
    io_uring_sqe_set_data64(sqe, make_user_data(Tag::kRecv, slot));
    ++recv_outstanding_;
}

void UringBackend::arm_wake() noexcept {
    io_uring_sqe* sqe = get_sqe();
    if (!sqe) {
        rearm_wake_ = true;
        return;
    }
    // A poll, not a read: the doorbell's counter belongs to the reactor, which drains it itself.
    io_uring_prep_poll_multishot(sqe, config_.wake_fd, POLLIN);
    io_uring_sqe_set_data64(sqe, make_user_data(Tag::kWake, 0));
}

void UringBackend::drain() noexcept {
    io_uring_cqe* batch[64];
    for (;;) {
        const std::size_t room = pending_.size() - pending_count_;
        if (room == 0) return;
        const unsigned want = unsigned(room < 64 ? room : 64);
        const unsigned n = io_uring_peek_batch_cqe(&ring_, batch, want);
        for (unsigned i = 0; i < n; ++i) {
            const io_uring_cqe& cqe = *batch[i];
            switch (tag_of(cqe.user_data)) {
                case Tag::kSend: complete_send(cqe); break;
                case Tag::kWake:
                    if (!(cqe.flags & IORING_CQE_F_MORE)) rearm_wake_ = true;
                    break;
                case Tag::kRecv:
                    if (!(cqe.flags & IORING_CQE_F_MORE) && recv_outstanding_ > 0) --recv_outstanding_;
                    pending_[(pending_head_ + pending_count_) % pending_.size()] = cqe;
                    ++pending_count_;
                    break;
                case Tag::kCancel: break;
            }
        }
        io_uring_cq_advance(&ring_, n);
        if (n < want) return;
    }
}

void UringBackend::complete_send(const io_uring_cqe& cqe) noexcept {
    const std::size_t slot = std::size_t(index_of(cqe.user_data));
    VOXA_ASSERT(slot < batches_.size());
    TxBatch& b = batches_[slot];
    VOXA_ASSERT(!b.done);
    VOXA_ASSERT(sends_outstanding_ > 0);
    --sends_outstanding_;
    if (cqe.res >= 0) {
        stats_.tx_packets += b.count;
        stats_.tx_bytes += b.bytes;
        if (b.count > 1) ++stats_.tx_gso_batches;
    } else {
        stats_.tx_errors += b.count;
        // A device or path that cannot segment (EIO, or EINVAL for a segment above the MTU) would fail every
        // GSO send: stop batching, once, and say so.
        if (b.count > 1 && gso_ && (cqe.res == -EIO || cqe.res == -EINVAL)) {
            gso_ = false;
            log_fallback(config_.worker, "GSO send failed: one send per datagram from now on",
                         errno_string(cqe.res));
        }
    }
    b.done = true;
    // Release in order: the arena is a FIFO, so only the oldest batches free space.
    while (batches_inflight_ > 0 && batches_[batch_head_].done) {
        TxBatch& old = batches_[batch_head_];
        old.done = false;
        live_datagrams_ -= old.count;
        batch_head_ = (batch_head_ + 1) % batches_.size();
        --batches_inflight_;
    }
}

void UringBackend::recycle(std::size_t buffer) noexcept {
    if (multishot_) {
        io_uring_buf_ring_add(buf_ring_, rx_buffer(buffer), unsigned(rx_stride_), uint16_t(buffer),
                              io_uring_buf_ring_mask(buf_ring_entries_), 0);
        io_uring_buf_ring_advance(buf_ring_, 1);
    } else {
        arm_single(buffer);
    }
}

void UringBackend::start_receive(const io_uring_cqe& cqe) noexcept {
    const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
    if (multishot_ && !more) rearm_recv_ = true;
    const bool has_buffer = multishot_ ? (cqe.flags & IORING_CQE_F_BUFFER) != 0 : true;
    const std::size_t buffer =
        multishot_ ? std::size_t(cqe.flags >> IORING_CQE_BUFFER_SHIFT) : std::size_t(index_of(cqe.user_data));
    if (cqe.res < 0 || !has_buffer) {
        if (cqe.res == -ENOBUFS) {
            ++stats_.rx_no_buffer;
        } else if (cqe.res != -ECANCELED) {
            ++stats_.rx_errors;
        }
        if (!multishot_) arm_single(buffer);   // keep the fallback's request count constant
        return;
    }
    VOXA_ASSERT(buffer < rx_count_);
    const sockaddr* name = nullptr;
    socklen_t name_len = 0;
    cmsghdr* first = nullptr;
    msghdr* msg = nullptr;
    uint8_t* payload = nullptr;
    std::size_t len = 0;
    bool truncated = false;
    io_uring_recvmsg_out* out = nullptr;
    if (multishot_) {
        out = io_uring_recvmsg_validate(rx_buffer(buffer), cqe.res, &rx_msg_);
        if (!out) {
            ++stats_.rx_errors;
            recycle(buffer);
            return;
        }
        name = static_cast<const sockaddr*>(io_uring_recvmsg_name(out));
        name_len = socklen_t(out->namelen < sizeof(sockaddr_in6) ? out->namelen : sizeof(sockaddr_in6));
        first = io_uring_recvmsg_cmsg_firsthdr(out, &rx_msg_);
        payload = static_cast<uint8_t*>(io_uring_recvmsg_payload(out, &rx_msg_));
        len = io_uring_recvmsg_payload_length(out, cqe.res, &rx_msg_);
        truncated = (out->flags & MSG_TRUNC) != 0 || out->payloadlen != len;
    } else {
        RxRequest& r = requests_[buffer];
        msg = &r.msg;
        name = reinterpret_cast<const sockaddr*>(&r.name);
        name_len = r.msg.msg_namelen;
        first = CMSG_FIRSTHDR(&r.msg);
        payload = rx_buffer(buffer);
        len = std::size_t(cqe.res);
        truncated = (r.msg.msg_flags & MSG_TRUNC) != 0;
    }
    if (truncated) {
        ++stats_.rx_errors;
        recycle(buffer);
        return;
    }
    int seg = 0;
    for (cmsghdr* cm = first; cm != nullptr;
         cm = multishot_ ? io_uring_recvmsg_cmsg_nexthdr(out, &rx_msg_, cm) : CMSG_NXTHDR(msg, cm)) {
        if (cm->cmsg_level == IPPROTO_UDP && cm->cmsg_type == UDP_GRO && cm->cmsg_len >= CMSG_LEN(sizeof(int)))
            std::memcpy(&seg, CMSG_DATA(cm), sizeof seg);
    }
    ++stats_.rx_completions;
    cur_.active = true;
    cur_.from = from_sockaddr(name, name_len);
    cur_.data = payload;
    cur_.left = len;
    cur_.seg = (seg > 0 && std::size_t(seg) < len) ? std::size_t(seg) : len;
    cur_.buffer = buffer;
    if (cur_.seg < len) ++stats_.rx_gro_batches;
}

std::size_t UringBackend::poll(RxHandler& h, std::size_t budget) noexcept {
    std::size_t handled = 0;
    drain();
    while (handled < budget) {
        if (cur_.active) {
            // Hand up the datagrams of the current buffer (an empty datagram is handed up once, as itself).
            do {
                const std::size_t n = cur_.left < cur_.seg ? cur_.left : cur_.seg;
                uint8_t* data = cur_.data;
                cur_.data += n;
                cur_.left -= n;
                ++stats_.rx_packets;
                stats_.rx_bytes += n;
                ++handled;
                h.on_datagram(cur_.from, data, n);
            } while (cur_.left > 0 && handled < budget);
            if (cur_.left == 0) {
                cur_.active = false;
                recycle(cur_.buffer);
            }
            continue;
        }
        if (pending_count_ == 0) {
            drain();
            if (pending_count_ == 0) break;
        }
        const io_uring_cqe cqe = pending_[pending_head_];
        pending_head_ = (pending_head_ + 1) % pending_.size();
        --pending_count_;
        start_receive(cqe);
    }
    // Re-arm after recycling: a multishot receive that stopped for want of buffers would stop again at once.
    if (rearm_recv_ && multishot_) {
        rearm_recv_ = false;
        ++stats_.rx_rearms;
        arm_multishot();
    }
    if (rearm_wake_) {
        rearm_wake_ = false;
        arm_wake();
    }
    submit();
    return handled;
}

bool UringBackend::reserve(std::size_t len, std::size_t* offset) const noexcept {
    if (batches_inflight_ + batches_queued_ == 0) {
        *offset = 0;
        return len <= arena_bytes_;
    }
    const std::size_t head = batches_[batch_head_].offset;
    if (tx_tail_ > head) {   // in use: [head, tail); free: [tail, end) and [0, head)
        if (tx_tail_ + len <= arena_bytes_) {
            *offset = tx_tail_;
            return true;
        }
        *offset = 0;
        return len < head;   // strict: tail == head means "empty"
    }
    *offset = tx_tail_;      // wrapped: in use [head, end) and [0, tail); free: [tail, head)
    return tx_tail_ + len < head;
}

bool UringBackend::room_for_batch(std::size_t len, std::size_t* offset) const noexcept {
    return live_datagrams_ < config_.tx_slots && batches_inflight_ + batches_queued_ < batches_.size() &&
           reserve(len, offset);
}

void UringBackend::transmit(const Endpoint& to, std::span<const uint8_t> datagram) noexcept {
    const std::size_t len = datagram.size();
    if (len == 0 || len > slot_bytes_) {
        ++stats_.tx_dropped_size;
        return;
    }
    if (open_) {
        TxBatch& b = batch_at(batches_inflight_ + batches_queued_ - 1);
        std::size_t off = 0;
        if (gso_ && b.seg_bytes == len && b.count < kGsoSegmentsMax && b.bytes + len <= kGsoBytesMax &&
            b.to == to && live_datagrams_ < config_.tx_slots && reserve(len, &off) && off == b.offset + b.bytes) {
            std::memcpy(tx_mem_ + off, datagram.data(), len);
            b.bytes += len;
            ++b.count;
            tx_tail_ = off + len;
            ++live_datagrams_;
            ++queued_datagrams_;
            if (queued_datagrams_ >= config_.tx_batch) flush();
            return;
        }
        open_ = false;
    }
    std::size_t off = 0;
    if (!room_for_batch(len, &off)) {
        // Everything is queued or in flight: push it out, collect what finished, and look again.
        flush();
        drain();
        if (!room_for_batch(len, &off)) {
            ++stats_.tx_dropped_full;
            return;
        }
    }
    TxBatch& b = batch_at(batches_inflight_ + batches_queued_);
    const socklen_t addr_len = to_sockaddr(to, family_, &b.addr);
    if (addr_len == 0) {   // e.g. an IPv6 peer on an IPv4 socket
        ++stats_.tx_errors;
        return;
    }
    b.msg = msghdr{};
    b.msg.msg_name = &b.addr;
    b.msg.msg_namelen = addr_len;
    b.to = to;
    b.offset = off;
    b.bytes = len;
    b.count = 1;
    b.seg_bytes = len;
    b.done = false;
    std::memcpy(tx_mem_ + off, datagram.data(), len);
    tx_tail_ = off + len;
    ++batches_queued_;
    ++live_datagrams_;
    ++queued_datagrams_;
    open_ = gso_;
    if (queued_datagrams_ >= config_.tx_batch) flush();
}

void UringBackend::prepare_send(TxBatch& b) noexcept {
    b.iov.iov_base = tx_mem_ + b.offset;
    b.iov.iov_len = b.bytes;
    b.msg.msg_iov = &b.iov;
    b.msg.msg_iovlen = 1;
    if (b.count > 1) {
        b.msg.msg_control = b.control;
        b.msg.msg_controllen = sizeof b.control;
        cmsghdr* cm = CMSG_FIRSTHDR(&b.msg);
        cm->cmsg_level = IPPROTO_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        const uint16_t seg = uint16_t(b.seg_bytes);
        std::memcpy(CMSG_DATA(cm), &seg, sizeof seg);
    } else {
        b.msg.msg_control = nullptr;
        b.msg.msg_controllen = 0;
    }
}

void UringBackend::flush() noexcept {
    open_ = false;
    if (batches_queued_ == 0) return;
    while (batches_queued_ > 0) {
        io_uring_sqe* sqe = get_sqe();
        if (!sqe) break;   // the SQ is full even after a submit: the rest goes at the next flush
        const std::size_t slot = (batch_head_ + batches_inflight_) % batches_.size();
        TxBatch& b = batches_[slot];
        prepare_send(b);
        io_uring_prep_sendmsg(sqe, fd_, &b.msg, 0);
        use_fd(sqe);
        io_uring_sqe_set_data64(sqe, make_user_data(Tag::kSend, slot));
        ++batches_inflight_;
        ++sends_outstanding_;
        --batches_queued_;
        queued_datagrams_ -= b.count;
    }
    ++stats_.tx_submits;
    submit();
}

void UringBackend::wait(uint64_t timeout_ns) noexcept {
    // Sleeping with datagrams queued would only delay them.
    if (queued_datagrams_ > 0) flush();
    if (cur_.active || pending_count_ > 0 || io_uring_cq_ready(&ring_) > 0) return;
    __kernel_timespec ts{};
    ts.tv_sec = int64_t(timeout_ns / 1'000'000'000);
    ts.tv_nsec = int64_t(timeout_ns % 1'000'000'000);
    io_uring_cqe* cqe = nullptr;
    sqes_prepared_ = false;   // submit_and_wait submits whatever is prepared
    (void)io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
}

std::string UringBackend::features() const {
    std::string f;
    auto add = [&f](bool on, const char* name) {
        if (!on) return;
        if (!f.empty()) f += ',';
        f += name;
    };
    add(multishot_, "multishot");
    add(multishot_, "bufring");
    add(!multishot_, "single-shot");
    add(gso_, "gso");
    add(gro_, "gro");
    add(steering_, "bpf-steering");
    add(fixed_file_, "fixed-file");
    add(sqpoll_, "sqpoll");
    add(family_ == AF_INET6, "dual-stack");
    return f;
}

}  // namespace

std::unique_ptr<Backend> make_uring_backend(const UringConfig& config, std::string* error) {
    auto backend = std::make_unique<UringBackend>(config);
    if (!backend->init(error)) return nullptr;
    return backend;
}

}  // namespace voxa::io
