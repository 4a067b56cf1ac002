#include "io/udp_socket.h"

#include <arpa/inet.h>
#include <netinet/udp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace voxa::io {

namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Sets a buffer size: the *FORCE option first (root may exceed net.core.*mem_max), then the capped one.
void set_buffer(int fd, int force_opt, int opt, std::size_t bytes) noexcept {
    const int v = bytes > std::size_t(1 << 30) ? (1 << 30) : int(bytes);
    if (setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof v) == 0) return;
    (void)setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v);
}

std::size_t get_buffer(int fd, int opt) noexcept {
    int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) != 0) return 0;
    return std::size_t(v);
}

}  // namespace

UdpSocketResult open_udp_socket(const UdpSocketOptions& options, std::string* error) {
    UdpSocketResult r;
    const bool v6 = options.bind.family == Endpoint::Family::kIpv6;
    if (!v6 && options.bind.family != Endpoint::Family::kIpv4) {
        if (error) *error = "bind address must be IPv4 or IPv6";
        return r;
    }
    int type = SOCK_DGRAM | SOCK_CLOEXEC;
    if (options.nonblocking) type |= SOCK_NONBLOCK;
    const int fd = socket(v6 ? AF_INET6 : AF_INET, type, 0);
    if (fd < 0) {
        if (error) *error = errno_text("socket");
        return r;
    }
    const int one = 1, zero = 0;
    if (options.reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        if (error) *error = errno_text("setsockopt(SO_REUSEPORT)");
        close(fd);
        return r;
    }
    if (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0) {
        if (error) *error = errno_text("setsockopt(IPV6_V6ONLY=0)");
        close(fd);
        return r;
    }
    if (options.buffer_bytes > 0) {
        set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, options.buffer_bytes);
        set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, options.buffer_bytes);
    }
    r.rcvbuf_bytes = get_buffer(fd, SO_RCVBUF);
    r.sndbuf_bytes = get_buffer(fd, SO_SNDBUF);
    if (options.gro) {
        if (setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof one) == 0) {
            r.gro = true;
        } else {
            r.gro_error = errno_text("setsockopt(UDP_GRO)");
        }
    }
    sockaddr_in6 sa{};
    const socklen_t sa_len = to_sockaddr(options.bind, v6 ? AF_INET6 : AF_INET, &sa);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&sa), sa_len) != 0) {
        if (error) *error = errno_text(("bind " + options.bind.to_string()).c_str());
        close(fd);
        return r;
    }
    r.fd = fd;
    return r;
}

socklen_t to_sockaddr(const Endpoint& to, int socket_family, sockaddr_in6* out) noexcept {
    std::memset(out, 0, sizeof *out);
    if (socket_family == AF_INET) {
        if (to.family != Endpoint::Family::kIpv4) return 0;
        auto* sin = reinterpret_cast<sockaddr_in*>(out);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(to.port);
        std::memcpy(&sin->sin_addr, to.addr.data(), 4);
        return sizeof(sockaddr_in);
    }
    out->sin6_family = AF_INET6;
    out->sin6_port = htons(to.port);
    if (to.family == Endpoint::Family::kIpv6) {
        std::memcpy(&out->sin6_addr, to.addr.data(), 16);
    } else if (to.family == Endpoint::Family::kIpv4) {
        out->sin6_addr.s6_addr[10] = 0xff;   // ::ffff:a.b.c.d
        out->sin6_addr.s6_addr[11] = 0xff;
        std::memcpy(&out->sin6_addr.s6_addr[12], to.addr.data(), 4);
    } else {
        return 0;
    }
    return sizeof(sockaddr_in6);
}

Endpoint from_sockaddr(const sockaddr* sa, socklen_t len) noexcept {
    Endpoint e;
    if (sa == nullptr) return e;
    if (sa->sa_family == AF_INET && len >= socklen_t(sizeof(sockaddr_in))) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
        e.family = Endpoint::Family::kIpv4;
        e.port = ntohs(sin->sin_port);
        std::memcpy(e.addr.data(), &sin->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6 && len >= socklen_t(sizeof(sockaddr_in6))) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
        e.port = ntohs(sin6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            e.family = Endpoint::Family::kIpv4;
            std::memcpy(e.addr.data(), &sin6->sin6_addr.s6_addr[12], 4);
        } else {
            e.family = Endpoint::Family::kIpv6;
            std::memcpy(e.addr.data(), &sin6->sin6_addr, 16);
        }
    }
    return e;
}

bool parse_endpoint(std::string_view text, Endpoint* out) noexcept {
    std::string_view host, port;
    if (!text.empty() && text.front() == '[') {
        const auto close_at = text.find(']');
        if (close_at == std::string_view::npos || close_at + 1 >= text.size() || text[close_at + 1] != ':')
            return false;
        host = text.substr(1, close_at - 1);
        port = text.substr(close_at + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return false;
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    if (port.empty() || port.size() > 5 || host.empty() || host.size() >= INET6_ADDRSTRLEN) return false;
    uint32_t p = 0;
    for (const char c : port) {
        if (c < '0' || c > '9') return false;
        p = p * 10 + uint32_t(c - '0');
    }
    if (p > 65535) return false;
    char buf[INET6_ADDRSTRLEN] = {};
    std::memcpy(buf, host.data(), host.size());
    Endpoint e;
    e.port = uint16_t(p);
    if (inet_pton(AF_INET, buf, e.addr.data()) == 1) {
        e.family = Endpoint::Family::kIpv4;
    } else if (inet_pton(AF_INET6, buf, e.addr.data()) == 1) {
        e.family = Endpoint::Family::kIpv6;
    } else {
        return false;
    }
    *out = e;
    return true;
}

uint16_t socket_port(int fd) noexcept {
    sockaddr_in6 sa{};
    socklen_t len = sizeof sa;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return 0;
    return from_sockaddr(reinterpret_cast<const sockaddr*>(&sa), len).port;
}

}  // namespace voxa::io
