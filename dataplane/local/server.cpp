#include "local/server.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "voxa/assert.h"

namespace voxa::local {

namespace {

constexpr uint64_t kListenerId = 0;           // epoll tag of the listening socket; client ids start at 1
constexpr int kEventsMax = 64;
constexpr std::size_t kReadBytes = 256u << 10;
// Reads per client per poll(): one busy client cannot starve the others or the daemon's control loop.
constexpr int kReadsPerPoll = 16;
constexpr std::size_t kWriteIovMax = 16;
constexpr int kAcceptsPerPoll = 64;
// A client closed for a protocol error keeps its socket this long at most to receive the ERROR frame.
constexpr uint64_t kClosingLingerMs = 1000;

uint64_t now_ms() {
    return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count());
}

void set_error(std::string* error, std::string text) {
    if (error != nullptr) *error = std::move(text);
}

std::string errno_text(int e) { return std::strerror(e); }

bool fill_address(const std::filesystem::path& path, sockaddr_un* addr) {
    std::string const s = path.string();
    if (s.empty() || s.size() >= sizeof(addr->sun_path)) return false;
    std::memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    std::memcpy(addr->sun_path, s.data(), s.size());
    return true;
}

// mkdir -p with mode 0700 for every directory it creates; existing ones are left as they are.
bool make_parents(const std::filesystem::path& dir, std::string* error) {
    if (dir.empty()) return true;
    std::error_code ec;
    if (std::filesystem::is_directory(dir, ec)) return true;
    if (!make_parents(dir.parent_path(), error)) return false;
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        set_error(error, "cannot create directory " + dir.string() + ": " + errno_text(errno));
        return false;
    }
    return true;
}

// True if something accepts connections on the socket file at `addr`.
bool socket_answers(const sockaddr_un& addr) {
    int const fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    bool const live = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return live;
}

}  // namespace

std::string_view drop_name(Drop d) noexcept {
    switch (d) {
        case Drop::kNone: return "none";
        case Drop::kBadLength: return "bad_length";
        case Drop::kTooLong: return "too_long";
        case Drop::kUnknownType: return "unknown_type";
        case Drop::kBadReserved: return "bad_reserved";
        case Drop::kClientsFull: return "clients_full";
        case Drop::kOutputFull: return "output_full";
        case Drop::kSocketError: return "socket_error";
        case Drop::kPendingOverflow: return "pending_overflow";
        case Drop::kCount: break;
    }
    return "invalid";
}

struct Server::Conn {
    Conn(ClientId client, int socket, std::size_t frame_body_max)
        : id(client), fd(socket), decoder(Direction::kToDaemon, frame_body_max) {}
    ClientId id;
    int fd;
    FrameDecoder decoder;
    std::deque<std::vector<uint8_t>> out;   // whole or partial frames, in order
    std::size_t out_offset = 0;             // bytes of out.front() already written
    std::size_t out_bytes = 0;              // unwritten bytes in `out`
    bool subscribed = false;
    bool closing = false;                   // no more reading; closed once `out` drains or the linger passes
    bool dead = false;                      // fd closed; on_disconnect pending in reap()
    bool want_write = false;                // EPOLLOUT registered
    bool want_read = true;
    uint64_t closing_since_ms = 0;
};

std::unique_ptr<Server> Server::listen(const ServerConfig& config, Handler& handler, std::string* error) {
    VOXA_CHECK(config.frame_body_max <= UINT32_MAX - kFrameLengthMin);
    sockaddr_un addr;
    if (!fill_address(config.socket_path, &addr)) {
        set_error(error, "socket path " + config.socket_path.string() + " is empty or longer than " +
                             std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
        return nullptr;
    }
    if (!make_parents(config.socket_path.parent_path(), error)) return nullptr;

    struct stat st;
    if (::lstat(addr.sun_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            set_error(error, config.socket_path.string() + " exists and is not a socket; remove it");
            return nullptr;
        }
        if (socket_answers(addr)) {
            set_error(error, "already running: a daemon answers on " + config.socket_path.string());
            return nullptr;
        }
        ::unlink(addr.sun_path);   // stale: left by a daemon that died
    }

    int const fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_error(error, "socket: " + errno_text(errno));
        return nullptr;
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        int const e = errno;
        ::close(fd);
        // Two daemons racing past the check above: the loser lands here.
        set_error(error, e == EADDRINUSE ? "already running: " + config.socket_path.string() + " is in use"
                                         : "bind " + config.socket_path.string() + ": " + errno_text(e));
        return nullptr;
    }
    // The parent directory is 0700 when we created it; chmod closes the window for an existing, wider one.
    if (::chmod(addr.sun_path, 0600) != 0 || ::lstat(addr.sun_path, &st) != 0 || ::listen(fd, 128) != 0) {
        int const e = errno;
        ::close(fd);
        ::unlink(addr.sun_path);
        set_error(error, "listen " + config.socket_path.string() + ": " + errno_text(e));
        return nullptr;
    }
    int const ep = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenerId;
    if (ep < 0 || ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        int const e = errno;
        if (ep >= 0) ::close(ep);
        ::close(fd);
        ::unlink(addr.sun_path);
        set_error(error, "epoll: " + errno_text(e));
        return nullptr;
    }
    return std::unique_ptr<Server>(new Server(config, handler, fd, ep, st.st_dev, st.st_ino));
}

Server::Server(const ServerConfig& config, Handler& handler, int listen_fd, int epoll_fd, dev_t dev, ino_t ino)
    : config_(config), handler_(handler), listen_fd_(listen_fd), epoll_fd_(epoll_fd), socket_dev_(dev),
      socket_ino_(ino) {}

Server::~Server() {
    for (auto& [id, c] : conns_)
        if (!c->dead) ::close(c->fd);
    ::close(listen_fd_);
    ::close(epoll_fd_);
    struct stat st;
    if (::lstat(config_.socket_path.c_str(), &st) == 0 && st.st_dev == socket_dev_ && st.st_ino == socket_ino_)
        ::unlink(config_.socket_path.c_str());
}

Server::Conn* Server::find(ClientId client) const noexcept {
    auto it = conns_.find(client);
    return it == conns_.end() ? nullptr : it->second.get();
}

std::size_t Server::clients() const noexcept {
    std::size_t n = 0;
    for (const auto& [id, c] : conns_) n += (!c->dead && !c->closing) ? 1 : 0;
    return n;
}

std::size_t Server::subscribers() const noexcept {
    std::size_t n = 0;
    for (const auto& [id, c] : conns_) n += (c->subscribed && !c->dead && !c->closing) ? 1 : 0;
    return n;
}

void Server::poll(int timeout_ms) {
    reap();
    // Closing clients have a deadline: do not sleep past it.
    bool lingering = false;
    for (const auto& [id, c] : conns_) lingering = lingering || (c->closing && !c->dead);
    if (lingering && (timeout_ms < 0 || timeout_ms > 100)) timeout_ms = 100;

    epoll_event events[kEventsMax];
    int const n = ::epoll_wait(epoll_fd_, events, kEventsMax, timeout_ms);
    for (int i = 0; i < n; ++i) {
        uint64_t const tag = events[i].data.u64;
        if (tag == kListenerId) {
            accept_all();
            continue;
        }
        Conn* const c = find(tag);
        if (c == nullptr || c->dead) continue;
        uint32_t const ev = events[i].events;
        if ((ev & EPOLLOUT) != 0) flush(*c);
        if (c->dead) continue;
        if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
            if (!c->closing) read_client(*c);
            else if ((ev & (EPOLLHUP | EPOLLERR)) != 0) kill(*c, Drop::kNone);   // gone before reading its ERROR
        }
    }
    uint64_t const now = now_ms();
    for (auto& [id, c] : conns_)
        if (c->closing && !c->dead && (c->out_bytes == 0 || now - c->closing_since_ms >= kClosingLingerMs))
            kill(*c, Drop::kNone);
    reap();
}

void Server::accept_all() {
    for (int i = 0; i < kAcceptsPerPoll; ++i) {
        int const fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;   // EAGAIN, or a transient error (EMFILE, ECONNABORTED): try again next poll
        if (clients() >= config_.clients_max) {
            stats_.drops[std::size_t(Drop::kClientsFull)] += 1;
            // A fresh socket's buffer is empty, so this small frame goes out whole without blocking.
            std::string_view const text = "busy: too many local clients";
            auto const head = error_head(uint16_t(ErrorCode::kBusy));
            auto const frame = encode_frame(FrameType::kError, 0, {head, as_bytes(text)});
            (void)!::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            ::close(fd);
            continue;
        }
        ClientId const id = next_id_++;
        auto conn = std::make_unique<Conn>(id, fd, config_.frame_body_max);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = id;
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            ::close(fd);
            continue;
        }
        stats_.connections += 1;
        conns_.emplace(id, std::move(conn));
    }
}

void Server::read_client(Conn& c) {
    for (int r = 0; r < kReadsPerPoll && !c.dead && !c.closing; ++r) {
        auto const space = c.decoder.prepare(kReadBytes);
        ssize_t const got = ::read(c.fd, space.data(), space.size());
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) kill(c, Drop::kSocketError);
            return;
        }
        if (got == 0) {
            kill(c, Drop::kNone);   // the peer closed; a partial frame it left is simply discarded
            return;
        }
        c.decoder.commit(std::size_t(got));
        stats_.bytes_in += uint64_t(got);
        FrameView frame;
        for (;;) {
            auto const result = c.decoder.next(&frame);
            if (result == FrameDecoder::Result::kNeedMore) break;
            if (result == FrameDecoder::Result::kError) {
                protocol_error(c, c.decoder.error());
                return;
            }
            stats_.frames_in += 1;
            if (frame.type == FrameType::kSubscribe) on_subscribe(c, frame.request_id);
            else handler_.on_frame(c.id, frame);
            if (c.dead || c.closing) return;   // the handler closed it
        }
        if (std::size_t(got) < space.size()) return;   // drained the socket for now
    }
}

void Server::protocol_error(Conn& c, FrameError e) {
    Drop why = Drop::kBadLength;
    ErrorCode code = ErrorCode::kBadRequest;
    std::string text;
    switch (e) {
        case FrameError::kTooLong:
            why = Drop::kTooLong;
            code = ErrorCode::kTooLarge;
            text = "frame too long: body max is " + std::to_string(config_.frame_body_max) + " bytes";
            break;
        case FrameError::kUnknownType:
            why = Drop::kUnknownType;
            text = "unknown frame type";
            break;
        case FrameError::kBadReserved:
            why = Drop::kBadReserved;
            text = "reserved header bytes must be zero";
            break;
        default:
            text = "bad frame length (must be >= 8)";
            break;
    }
    stats_.drops[std::size_t(why)] += 1;
    send_error(c.id, c.decoder.pending_request_id(), code, text);
    if (c.dead) return;
    c.closing = true;
    c.closing_since_ms = now_ms();
    ::shutdown(c.fd, SHUT_RD);
    set_events(c, false, c.out_bytes > 0);
}

void Server::on_subscribe(Conn& c, uint32_t request_id) {
    c.subscribed = true;
    std::string const reply =
        nlohmann::json{{"subscribed", true}, {"queued", pending_.size()}}.dump();
    if (!send(c.id, FrameType::kJson, request_id, as_bytes(reply))) return;
    // Flush the queue in arrival order; a failed send cut the client off, and the rest waits for the next one.
    while (!pending_.empty() && !c.dead) {
        Pending& p = pending_.front();
        if (!deliver_to(c, p.id, p.in_reply_to, p.is_reply, p.bytes)) break;
        stats_.messages_delivered += 1;
        pending_bytes_ -= p.bytes.size();
        pending_.pop_front();
    }
}

bool Server::send(ClientId client, FrameType type, uint32_t request_id, std::span<const uint8_t> body) {
    return send(client, type, request_id, body, {});
}

bool Server::send(ClientId client, FrameType type, uint32_t request_id, std::span<const uint8_t> head,
                  std::span<const uint8_t> tail) {
    Conn* const c = find(client);
    if (c == nullptr || c->dead || c->closing) return false;
    std::size_t const body = head.size() + tail.size();
    VOXA_CHECK(body <= UINT32_MAX - kFrameLengthMin);
    std::size_t const total = kFrameHeaderBytes + body;
    if (c->out_bytes + total > config_.client_output_max) {
        kill(*c, Drop::kOutputFull);
        return false;
    }
    uint8_t header[kFrameHeaderBytes];
    encode_header(type, request_id, body, header);
    stats_.frames_out += 1;

    std::size_t written = 0;
    if (c->out_bytes == 0) {
        // Nothing queued: try the socket first, so small replies cost no copy and no extra wake-up.
        iovec iov[3] = {{header, sizeof(header)},
                        {const_cast<uint8_t*>(head.data()), head.size()},
                        {const_cast<uint8_t*>(tail.data()), tail.size()}};
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = 3;
        for (;;) {
            ssize_t const n = ::sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n >= 0) {
                written = std::size_t(n);
                break;
            }
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                kill(*c, Drop::kSocketError);
                return false;
            }
            break;
        }
        stats_.bytes_out += written;
        if (written == total) return true;
    }
    // Queue the unwritten rest as one buffer.
    std::vector<uint8_t> rest(total - written);
    std::size_t at = 0;
    auto append = [&](std::span<const uint8_t> part, std::size_t part_start) {
        // part covers stream bytes [part_start, part_start + size)
        if (written >= part_start + part.size()) return;
        std::size_t const skip = written > part_start ? written - part_start : 0;
        std::memcpy(rest.data() + at, part.data() + skip, part.size() - skip);
        at += part.size() - skip;
    };
    append(std::span<const uint8_t>(header, sizeof(header)), 0);
    if (!head.empty()) append(head, kFrameHeaderBytes);
    if (!tail.empty()) append(tail, kFrameHeaderBytes + head.size());
    VOXA_ASSERT(at == rest.size());
    c->out_bytes += rest.size();
    c->out.push_back(std::move(rest));
    set_events(*c, c->want_read, true);
    return true;
}

bool Server::send_error(ClientId client, uint32_t request_id, ErrorCode code, std::string_view text) {
    auto const head = error_head(uint16_t(code));
    return send(client, FrameType::kError, request_id, head, as_bytes(text));
}

void Server::flush(Conn& c) {
    while (c.out_bytes > 0) {
        iovec iov[kWriteIovMax];
        std::size_t count = 0;
        for (auto it = c.out.begin(); it != c.out.end() && count < kWriteIovMax; ++it, ++count) {
            std::size_t const skip = count == 0 ? c.out_offset : 0;
            iov[count] = {it->data() + skip, it->size() - skip};
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = count;
        ssize_t const n = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) kill(c, Drop::kSocketError);
            return;   // EPOLLOUT stays armed
        }
        std::size_t left = std::size_t(n);
        stats_.bytes_out += left;
        c.out_bytes -= left;
        while (left > 0) {
            std::size_t const in_front = c.out.front().size() - c.out_offset;
            if (left < in_front) {
                c.out_offset += left;
                break;
            }
            left -= in_front;
            c.out.pop_front();
            c.out_offset = 0;
        }
    }
    if (c.closing) {
        kill(c, Drop::kNone);
        return;
    }
    set_events(c, c.want_read, false);
}

void Server::set_events(Conn& c, bool want_read, bool want_write) {
    if (c.dead || (c.want_read == want_read && c.want_write == want_write)) return;
    epoll_event ev{};
    ev.events = (want_read ? EPOLLIN : 0u) | (want_write ? EPOLLOUT : 0u);
    ev.data.u64 = c.id;
    VOXA_CHECK(::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev) == 0);
    c.want_read = want_read;
    c.want_write = want_write;
}

void Server::kill(Conn& c, Drop why) {
    if (c.dead) return;
    if (why != Drop::kNone) stats_.drops[std::size_t(why)] += 1;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.dead = true;
    c.subscribed = false;
    c.out.clear();
    c.out_bytes = 0;
    dead_.push_back(c.id);
}

void Server::close_client(ClientId client) {
    Conn* const c = find(client);
    if (c != nullptr) kill(*c, Drop::kNone);
}

void Server::reap() {
    // on_disconnect may close further clients; those land in dead_ again and are reaped in the same loop.
    while (!dead_.empty()) {
        std::vector<ClientId> batch;
        batch.swap(dead_);
        for (ClientId id : batch) {
            conns_.erase(id);
            stats_.disconnections += 1;
            handler_.on_disconnect(id);
        }
    }
}

bool Server::deliver_to(Conn& c, const MessageId& id, const MessageId& in_reply_to, bool is_reply,
                        std::span<const uint8_t> bytes) {
    auto const head = message_head(id, in_reply_to, is_reply ? kFlagIsReply : 0);
    return send(c.id, FrameType::kMessage, 0, head, bytes);
}

std::size_t Server::deliver(const MessageId& id, const MessageId& in_reply_to, bool is_reply,
                            std::span<const uint8_t> bytes) {
    VOXA_CHECK(bytes.size() + kMessageHeadBytes <= UINT32_MAX - kFrameLengthMin);
    std::size_t reached = 0;
    for (auto& [cid, c] : conns_)
        if (c->subscribed && !c->dead && !c->closing && deliver_to(*c, id, in_reply_to, is_reply, bytes))
            reached += 1;
    if (reached > 0) {
        stats_.messages_delivered += 1;
        return reached;
    }
    stats_.messages_queued += 1;
    if (bytes.size() > config_.pending_bytes_max || config_.pending_messages_max == 0) {
        stats_.drops[std::size_t(Drop::kPendingOverflow)] += 1;
        return 0;
    }
    while (!pending_.empty() && (pending_.size() + 1 > config_.pending_messages_max ||
                                 pending_bytes_ + bytes.size() > config_.pending_bytes_max)) {
        pending_bytes_ -= pending_.front().bytes.size();
        pending_.pop_front();
        stats_.drops[std::size_t(Drop::kPendingOverflow)] += 1;
    }
    Pending p;
    p.id = id;
    p.in_reply_to = in_reply_to;
    p.is_reply = is_reply;
    p.bytes.assign(bytes.begin(), bytes.end());
    pending_bytes_ += p.bytes.size();
    pending_.push_back(std::move(p));
    return 0;
}

std::string Server::stats_json() const {
    nlohmann::json drops = nlohmann::json::object();
    for (std::size_t i = 1; i < std::size_t(Drop::kCount); ++i) drops[std::string(drop_name(Drop(i)))] = stats_.drops[i];
    nlohmann::json j = {
        {"clients", clients()},
        {"subscribers", subscribers()},
        {"pending_messages", pending_.size()},
        {"pending_bytes", pending_bytes_},
        {"connections", stats_.connections},
        {"disconnections", stats_.disconnections},
        {"frames_in", stats_.frames_in},
        {"frames_out", stats_.frames_out},
        {"bytes_in", stats_.bytes_in},
        {"bytes_out", stats_.bytes_out},
        {"messages_delivered", stats_.messages_delivered},
        {"messages_queued", stats_.messages_queued},
        {"drops", drops},
    };
    return j.dump();
}

}  // namespace voxa::local
