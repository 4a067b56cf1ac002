// Worker steering: the reference function's table, and the cBPF program doing the same in the kernel with two
// real sockets in one reuseport group.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <vector>

#include "io/steering.h"
#include "io/udp_socket.h"

namespace voxa::io {
namespace {

std::vector<uint8_t> packet(uint8_t type, std::size_t len, std::size_t key_off, uint8_t key) {
    std::vector<uint8_t> d(len, 0xee);   // every other byte odd-looking, so a wrong offset shows
    if (len > 0) d[0] = type;
    if (key_off < len) d[key_off] = key;
    return d;
}

TEST(Steering, TableOfRules) {
    struct Case {
        uint8_t type;
        std::size_t len, off;
        uint8_t key;
        uint32_t workers, want;
    };
    const Case cases[] = {
        {1, 152, 8, 7, 4, 3},     {1, 152, 8, 8, 4, 0},     {1, 151, 8, 7, 4, kAnyWorker},
        {1, 153, 8, 7, 4, kAnyWorker},
        {2, 96, 11, 5, 3, 2},     {2, 95, 11, 5, 3, kAnyWorker}, {2, 96, 11, 255, 2, 1},
        {3, 64, 7, 9, 4, 1},      {3, 65, 7, 9, 4, kAnyWorker},
        {4, 32, 7, 6, 4, 2},      {4, 1280, 7, 13, 5, 3},   {4, 31, 7, 6, 4, kAnyWorker},
        {5, 1280, 7, 6, 4, kAnyWorker}, {0, 1280, 7, 6, 4, kAnyWorker},
        {4, 1280, 7, 6, 1, 0},    {9, 3, 7, 6, 1, 0},       // one worker: everything is worker 0
    };
    for (const Case& c : cases) {
        const auto d = packet(c.type, c.len, c.off, c.key);
        EXPECT_EQ(steer_worker(d.data(), d.size(), c.workers), c.want)
            << "type " << int(c.type) << " len " << c.len << " key " << int(c.key) << " workers " << c.workers;
    }
    EXPECT_EQ(steer_worker(nullptr, 0, 3), kAnyWorker);
    // The byte that decides is the documented one, not a neighbour.
    auto d = packet(4, 100, 7, 1);
    d[6] = 0;
    d[8] = 0;
    EXPECT_EQ(steer_worker(d.data(), d.size(), 2), 1u);
}

TEST(Steering, ProgramIsWellFormed) {
    for (uint32_t workers : {1u, 2u, 7u, 64u}) {
        const auto p = steering_program(workers);
        ASSERT_LE(p.size(), 64u);
        for (std::size_t i = 0; i < p.size(); ++i) {
            const uint16_t cls = BPF_CLASS(p[i].code);
            if (cls == BPF_JMP) {   // every jump lands inside the program
                if (BPF_OP(p[i].code) == BPF_JA) {
                    EXPECT_LT(i + 1 + p[i].k, p.size());
                } else {
                    EXPECT_LT(i + 1 + p[i].jt, p.size());
                    EXPECT_LT(i + 1 + p[i].jf, p.size());
                }
            }
        }
        EXPECT_EQ(BPF_CLASS(p.back().code), BPF_RET);
    }
}

// Receives on whichever of `fds` has a datagram within a second; returns its index or -1.
int receive_on(const std::vector<int>& fds, std::vector<uint8_t>* got) {
    std::vector<pollfd> pfds;
    for (int fd : fds) pfds.push_back(pollfd{fd, POLLIN, 0});
    if (::poll(pfds.data(), pfds.size(), 1000) <= 0) return -1;
    for (std::size_t i = 0; i < pfds.size(); ++i) {
        if (pfds[i].revents & POLLIN) {
            got->resize(2048);
            const ssize_t n = recv(fds[i], got->data(), got->size(), 0);
            got->resize(n < 0 ? 0 : std::size_t(n));
            return int(i);
        }
    }
    return -1;
}

void send_to(int fd, const std::vector<uint8_t>& d, uint16_t port) {
    sockaddr_in6 sa{};
    Endpoint to;
    ASSERT_TRUE(parse_endpoint("127.0.0.1:" + std::to_string(port), &to));
    const socklen_t len = to_sockaddr(to, AF_INET, &sa);
    ASSERT_EQ(sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&sa), len), ssize_t(d.size()));
}

// The kernel runs the program on the UDP payload and picks socket number (return value) of the group, which is
// the bind order; this proves both, and that our program matches steer_worker() on every rule.
TEST(Steering, KernelProgramSteersLikeTheReference) {
    constexpr uint32_t kWorkers = 3;
    UdpSocketOptions o;
    ASSERT_TRUE(parse_endpoint("127.0.0.1:0", &o.bind));
    o.nonblocking = true;
    std::string err;
    std::vector<int> fds;
    for (uint32_t w = 0; w < kWorkers; ++w) {
        const UdpSocketResult r = open_udp_socket(o, &err);
        ASSERT_GE(r.fd, 0) << err;
        fds.push_back(r.fd);
        o.bind.port = socket_port(r.fd);
    }
    ASSERT_TRUE(attach_steering(fds.back(), kWorkers, &err)) << err;
    UdpSocketOptions co;
    ASSERT_TRUE(parse_endpoint("127.0.0.1:0", &co.bind));
    co.reuseport = false;
    const UdpSocketResult client = open_udp_socket(co, &err);
    ASSERT_GE(client.fd, 0) << err;

    struct Rule {
        uint8_t type;
        std::size_t len, off;
    };
    const Rule rules[] = {{1, 152, 8}, {2, 96, 11}, {3, 64, 7}, {4, 32, 7}, {4, 1280, 7}};
    int checked = 0;
    for (const Rule& r : rules) {
        for (uint8_t key = 0; key < 6; ++key) {
            const auto d = packet(r.type, r.len, r.off, uint8_t(key + 3 * 40));   // 120..125: mod 3 = 0,1,2,..
            const uint32_t want = steer_worker(d.data(), d.size(), kWorkers);
            ASSERT_LT(want, kWorkers);
            send_to(client.fd, d, o.bind.port);
            std::vector<uint8_t> got;
            const int at = receive_on(fds, &got);
            ASSERT_EQ(at, int(want)) << "type " << int(r.type) << " len " << r.len << " key " << int(key);
            EXPECT_EQ(got, d);
            ++checked;
        }
    }
    EXPECT_EQ(checked, 30);
    // Unmatched datagrams still arrive (on whichever socket the kernel's hash picks).
    for (const auto& d : {packet(9, 100, 7, 1), packet(1, 100, 8, 1), packet(4, 10, 7, 1)}) {
        send_to(client.fd, d, o.bind.port);
        std::vector<uint8_t> got;
        EXPECT_GE(receive_on(fds, &got), 0);
        EXPECT_EQ(got, d);
    }
    close(client.fd);
    for (int fd : fds) close(fd);
}

}  // namespace
}  // namespace voxa::io
