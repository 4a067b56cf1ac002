// UDP socket set-up and address conversion shared by the io_uring backend and the plain-UDP tools.
//
// A backend's socket is blocking on purpose: io_uring arms a poll for a blocking socket (multishot receive
// waits for data, a send waits for buffer room), while on an O_NONBLOCK socket every EAGAIN would surface as a
// failed completion. The plain tools ask for O_NONBLOCK themselves.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/endpoint.h"

namespace voxa::io {

struct UdpSocketOptions {
    Endpoint bind;                   // v4 or v6 address and port (port 0: the kernel picks one)
    bool reuseport = true;           // SO_REUSEPORT: every worker binds the same address and port
    bool nonblocking = false;
    bool gro = false;                // ask for UDP_GRO (coalesced receive + a UDP_GRO cmsg with the segment size)
    std::size_t buffer_bytes = 0;    // SO_RCVBUF/SO_SNDBUF (the *FORCE variants first); 0 leaves the defaults
};

// What open_udp_socket() managed; the caller logs what it asked for and did not get.
struct UdpSocketResult {
    int fd = -1;
    bool gro = false;                // UDP_GRO is on
    std::string gro_error;           // why not, when asked for
    std::size_t rcvbuf_bytes = 0, sndbuf_bytes = 0;   // as the kernel reports them (doubled bookkeeping)
};

// Opens, configures and binds a UDP socket. A v6 bind to :: is dual-stack (IPV6_V6ONLY off). Returns a result
// whose fd (owned by the caller, close() it) is -1 on failure with *error saying what failed and why.
UdpSocketResult open_udp_socket(const UdpSocketOptions& options, std::string* error);

// sockaddr for `to` on a socket of `socket_family` (AF_INET or AF_INET6): a v4 endpoint becomes v4-mapped on a
// v6 socket. Returns the length to pass to sendmsg, 0 when `to` cannot be reached from that family.
socklen_t to_sockaddr(const Endpoint& to, int socket_family, sockaddr_in6* out) noexcept;
// Endpoint of a received sockaddr; a v4-mapped v6 address is reported as v4. Family kNone when unknown.
Endpoint from_sockaddr(const sockaddr* sa, socklen_t len) noexcept;
// Parses "1.2.3.4:5", "[::1]:5", "host:5" (numeric addresses only). false on anything else.
bool parse_endpoint(std::string_view text, Endpoint* out) noexcept;
// The port a bound socket has (host order); 0 on failure.
uint16_t socket_port(int fd) noexcept;

}  // namespace voxa::io
