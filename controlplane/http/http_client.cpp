// The HTTP client of voxactl and the registry plugin (see http_client.h). Non-blocking socket plus poll(), so that
// every step honours one deadline; the request is written in full, then the response read until its framing says it
// is complete or the server closes.
#include "http/http_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace voxa::http {
namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

int left_ms(Clock::time_point deadline) {
    auto const ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return ms <= 0 ? 0 : int(std::min<int64_t>(ms, 1 << 30));
}

// Closes the descriptor on every path out of perform().
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

// Waits for `events` on fd until the deadline. False with *error on timeout or poll failure.
bool wait_for(int fd, short events, Clock::time_point deadline, const char* what, std::string* error) {
    for (;;) {
        pollfd p{fd, events, 0};
        int const n = ::poll(&p, 1, left_ms(deadline));
        if (n > 0) return true;
        if (n == 0) {
            *error = std::string("timed out ") + what;
            return false;
        }
        if (errno != EINTR) {
            *error = std::string("poll: ") + std::strerror(errno);
            return false;
        }
    }
}

// Connects to one resolved address, non-blocking, within the deadline.
int connect_one(const addrinfo* ai, Clock::time_point deadline, std::string* error) {
    int const fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        *error = std::string("socket: ") + std::strerror(errno);
        return -1;
    }
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            *error = std::strerror(errno);
            ::close(fd);
            return -1;
        }
        if (!wait_for(fd, POLLOUT, deadline, "connecting", error)) {
            ::close(fd);
            return -1;
        }
        int so_error = 0;
        socklen_t len = sizeof(so_error);
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
        if (so_error != 0) {
            *error = std::strerror(so_error);
            ::close(fd);
            return -1;
        }
    }
    int const one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

// Where the body starts and how it is framed, once the head has arrived.
struct Head {
    std::size_t body_at = 0;
    bool chunked = false;
    std::optional<std::size_t> content_length;
};

// Parses status line and headers of `buf[0, end)` into *r. False with *error when malformed.
bool parse_head(std::string_view head, Response* r, Head* h, std::string* error) {
    std::size_t const eol = head.find("\r\n");
    std::string_view const status_line = head.substr(0, eol);
    // "HTTP/1.1 200 OK"
    if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
        *error = "not an HTTP/1.x response: " + std::string(status_line.substr(0, 80));
        return false;
    }
    int status = 0;
    for (std::size_t i = 9; i < 12; ++i) {
        char const c = status_line[i];
        if (c < '0' || c > '9') {
            *error = "bad HTTP status line: " + std::string(status_line.substr(0, 80));
            return false;
        }
        status = status * 10 + (c - '0');
    }
    r->status = status;
    r->reason = std::string(trim(status_line.substr(12)));
    std::size_t at = eol == std::string_view::npos ? head.size() : eol + 2;
    while (at < head.size()) {
        std::size_t const next = head.find("\r\n", at);
        std::string_view const line = head.substr(at, next == std::string_view::npos ? head.npos : next - at);
        at = next == std::string_view::npos ? head.size() : next + 2;
        if (line.empty()) break;
        std::size_t const colon = line.find(':');
        if (colon == std::string_view::npos) continue;   // tolerated: a header we cannot read is ignored
        r->headers[lower(trim(line.substr(0, colon)))] = std::string(trim(line.substr(colon + 1)));
    }
    if (lower(r->header("transfer-encoding")).find("chunked") != std::string::npos) {
        h->chunked = true;
    } else if (auto const cl = r->header("content-length"); !cl.empty()) {
        std::size_t v = 0;
        for (char c : cl) {
            if (c < '0' || c > '9' || v > (std::size_t(1) << 40)) {
                *error = "bad Content-Length: " + cl;
                return false;
            }
            v = v * 10 + std::size_t(c - '0');
        }
        h->content_length = v;
    }
    return true;
}

}  // namespace

std::string Url::text() const {
    std::string const h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return "http://" + h + ":" + std::to_string(port) + base;
}

std::string Response::header(const std::string& lower_name) const {
    auto const it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

std::optional<Url> parse_url(std::string_view text, std::string* error) {
    std::string_view rest = text;
    if (rest.starts_with("https://")) {
        *error = "https is not supported (the API speaks plain HTTP on loopback): " + std::string(text);
        return std::nullopt;
    }
    if (rest.starts_with("http://")) rest.remove_prefix(7);
    Url url;
    std::size_t const slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        url.base = std::string(rest.substr(slash));
        while (!url.base.empty() && url.base.back() == '/') url.base.pop_back();
    }
    std::string_view port_text;
    if (authority.starts_with("[")) {
        std::size_t const close = authority.find(']');
        if (close == std::string_view::npos) {
            *error = "bad URL (unclosed '['): " + std::string(text);
            return std::nullopt;
        }
        url.host = std::string(authority.substr(1, close - 1));
        std::string_view const after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') {
                *error = "bad URL: " + std::string(text);
                return std::nullopt;
            }
            port_text = after.substr(1);
        }
    } else {
        std::size_t const colon = authority.rfind(':');
        url.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (url.host.empty()) {
        *error = "bad URL (no host): " + std::string(text) + " (want http://HOST:PORT)";
        return std::nullopt;
    }
    if (!port_text.empty()) {
        unsigned v = 0;
        for (char c : port_text) {
            if (c < '0' || c > '9' || v > 65535) {
                v = 0;
                break;
            }
            v = v * 10 + unsigned(c - '0');
        }
        if (v == 0 || v > 65535) {
            *error = "bad port in URL " + std::string(text) + " (want 1..65535)";
            return std::nullopt;
        }
        url.port = uint16_t(v);
    }
    return url;
}

std::optional<std::string> decode_chunked(std::string_view raw) {
    std::string out;
    std::size_t at = 0;
    for (;;) {
        std::size_t const eol = raw.find("\r\n", at);
        if (eol == std::string_view::npos) return std::nullopt;
        std::string_view size_line = raw.substr(at, eol - at);
        if (std::size_t const semi = size_line.find(';'); semi != std::string_view::npos)
            size_line = size_line.substr(0, semi);   // chunk extensions: ignored
        size_line = trim(size_line);
        if (size_line.empty() || size_line.size() > 15) return std::nullopt;
        std::size_t size = 0;
        for (char c : size_line) {
            int d;
            if (c >= '0' && c <= '9') d = c - '0';
            else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
            else return std::nullopt;
            size = size * 16 + std::size_t(d);
        }
        at = eol + 2;
        if (size == 0) {
            // Trailers until an empty line; ignored.
            for (;;) {
                std::size_t const end = raw.find("\r\n", at);
                if (end == std::string_view::npos) return std::nullopt;
                if (end == at) return out;
                at = end + 2;
            }
        }
        if (raw.size() - at < size + 2) return std::nullopt;
        out.append(raw.substr(at, size));
        if (raw.substr(at + size, 2) != "\r\n") return std::nullopt;
        at += size + 2;
    }
}

std::optional<Response> perform(const Url& url, const Request& request, std::string* error) {
    std::string scratch;
    if (error == nullptr) error = &scratch;
    auto const deadline = Clock::now() + std::chrono::milliseconds(std::max(request.timeout_ms, 1));

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    std::string const port = std::to_string(url.port);
    if (int const rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        *error = "cannot resolve " + url.host + ": " + ::gai_strerror(rc);
        return std::nullopt;
    }
    Fd sock;
    std::string why = "no address";
    for (const addrinfo* ai = found; ai != nullptr && sock.fd < 0; ai = ai->ai_next)
        sock.fd = connect_one(ai, deadline, &why);
    ::freeaddrinfo(found);
    if (sock.fd < 0) {
        *error = "cannot connect: " + why;
        return std::nullopt;
    }

    std::string const host_header = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    std::string out = request.method + " " + url.base + request.path + " HTTP/1.1\r\nHost: " + host_header + ":" +
                      port + "\r\nUser-Agent: voxactl\r\nAccept: */*\r\nConnection: close\r\n";
    if (!request.bearer_token.empty()) out += "Authorization: Bearer " + request.bearer_token + "\r\n";
    if (request.method != "GET" || !request.body.empty())
        out += "Content-Type: application/json\r\nContent-Length: " + std::to_string(request.body.size()) + "\r\n";
    out += "\r\n";
    out += request.body;
    std::size_t sent = 0;
    while (sent < out.size()) {
        ssize_t const n = ::send(sock.fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += std::size_t(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_for(sock.fd, POLLOUT, deadline, "sending the request", error)) return std::nullopt;
        } else {
            *error = "sending the request: " + std::string(std::strerror(errno));
            return std::nullopt;
        }
    }

    Response r;
    std::string in;
    std::optional<Head> head;
    char buf[16384];
    for (;;) {
        // Complete already? (A server may keep the connection open despite Connection: close.)
        if (head) {
            std::string_view const body = std::string_view(in).substr(head->body_at);
            if (head->content_length && body.size() >= *head->content_length) {
                r.body = std::string(body.substr(0, *head->content_length));
                return r;
            }
            if (head->chunked && body.ends_with("\r\n")) {
                if (auto decoded = decode_chunked(body)) {
                    r.body = std::move(*decoded);
                    return r;
                }
            }
            if (request.method == "HEAD" || r.status == 204 || r.status == 304) return r;
        }
        if (!wait_for(sock.fd, POLLIN, deadline, "waiting for the response", error))
            return std::nullopt;
        ssize_t const n = ::recv(sock.fd, buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            *error = "reading the response: " + std::string(std::strerror(errno));
            return std::nullopt;
        }
        if (n == 0) break;   // closed by the server
        in.append(buf, std::size_t(n));
        if (in.size() > request.body_max_bytes + 65536) {
            *error = "the response is larger than " + std::to_string(request.body_max_bytes) +
                     " bytes";
            return std::nullopt;
        }
        if (!head) {
            std::size_t const end = in.find("\r\n\r\n");
            if (end == std::string::npos) {
                if (in.size() > 65536) {
                    *error = "the response head exceeds 64 KiB";
                    return std::nullopt;
                }
                continue;
            }
            Head h;
            h.body_at = end + 4;
            if (!parse_head(std::string_view(in).substr(0, end + 2), &r, &h, error)) {
                                return std::nullopt;
            }
            head = h;
        }
    }
    // The server closed the connection.
    if (!head) {
        *error = in.empty() ? "the server closed the connection without answering"
                            : "the server sent an incomplete response head";
        return std::nullopt;
    }
    std::string_view const body = std::string_view(in).substr(head->body_at);
    if (head->chunked) {
        auto decoded = decode_chunked(body);
        if (!decoded) {
            *error = "the server closed the connection in the middle of a chunked body";
            return std::nullopt;
        }
        r.body = std::move(*decoded);
    } else if (head->content_length) {
        if (body.size() < *head->content_length) {
            *error = "the server closed the connection after " + std::to_string(body.size()) + " of " +
                     std::to_string(*head->content_length) + " body bytes";
            return std::nullopt;
        }
        r.body = std::string(body.substr(0, *head->content_length));
    } else {
        r.body = std::string(body);
    }
    return r;
}

}  // namespace voxa::http
