#include "local/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace voxa::local {

namespace {

constexpr std::size_t kReadBytes = 256u << 10;

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Milliseconds left until `deadline_ms` (-1: none) for poll(2).
int remaining_ms(int64_t deadline_ms) {
    if (deadline_ms < 0) return -1;
    int64_t const left = deadline_ms - now_ms();
    return left <= 0 ? 0 : int(std::min<int64_t>(left, INT32_MAX));
}

int64_t deadline_after(int timeout_ms) { return timeout_ms < 0 ? -1 : now_ms() + timeout_ms; }

void set_error(std::string* error, std::string text) {
    if (error != nullptr) *error = std::move(text);
}

std::string error_text(std::span<const uint8_t> body) {
    auto const e = parse_error(body);
    if (!e) return "daemon sent a malformed ERROR";
    return "daemon: " + std::to_string(e->code) + " " + std::string(e->text);
}

}  // namespace

std::unique_ptr<Client> Client::connect(const std::filesystem::path& socket_path, std::string* error,
                                        std::size_t frame_body_max) {
    sockaddr_un addr{};
    std::string const s = socket_path.string();
    if (s.empty() || s.size() >= sizeof(addr.sun_path)) {
        set_error(error, "socket path " + s + " is empty or too long");
        return nullptr;
    }
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, s.data(), s.size());
    int const fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_error(error, std::string("socket: ") + std::strerror(errno));
        return nullptr;
    }
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        int const e = errno;
        ::close(fd);
        set_error(error, "cannot connect to " + s + ": " + std::strerror(e) +
                             (e == ENOENT || e == ECONNREFUSED ? " (is voxa-dataplane running?)" : ""));
        return nullptr;
    }
    return std::unique_ptr<Client>(new Client(fd, frame_body_max));
}

Client::Client(int fd, std::size_t frame_body_max) : fd_(fd), decoder_(Direction::kToClient, frame_body_max) {}

Client::~Client() { ::close(fd_); }

bool Client::fail(std::string text, std::string* error) {
    if (!broken_) {
        broken_ = true;
        broken_reason_ = std::move(text);
    }
    set_error(error, broken_reason_);
    return false;
}

bool Client::write_all(FrameType type, uint32_t request_id, std::span<const uint8_t> head,
                       std::span<const uint8_t> tail, std::string* error) {
    std::size_t const body = head.size() + tail.size();
    if (body > UINT32_MAX - kFrameLengthMin) {
        set_error(error, "message too large for one frame");
        return false;
    }
    uint8_t header[kFrameHeaderBytes];
    encode_header(type, request_id, body, header);
    iovec iov[3] = {{header, sizeof(header)},
                    {const_cast<uint8_t*>(head.data()), head.size()},
                    {const_cast<uint8_t*>(tail.data()), tail.size()}};
    std::size_t first = 0;
    while (first < 3) {
        msghdr msg{};
        msg.msg_iov = iov + first;
        msg.msg_iovlen = 3 - first;
        ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            set_error(error, std::string("write to daemon: ") + std::strerror(errno));
            return false;
        }
        while (first < 3 && std::size_t(n) >= iov[first].iov_len) {
            n -= ssize_t(iov[first].iov_len);
            ++first;
        }
        if (first < 3) {
            iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + n;
            iov[first].iov_len -= std::size_t(n);
        }
    }
    return true;
}

bool Client::read_some(int timeout_ms, std::string* error) {
    if (broken_) return fail(broken_reason_, error);
    pollfd p{fd_, POLLIN, 0};
    int const ready = ::poll(&p, 1, timeout_ms);
    if (ready < 0) {
        if (errno == EINTR) {
            set_error(error, "");
            return false;
        }
        return fail(std::string("poll: ") + std::strerror(errno), error);
    }
    if (ready == 0) {
        set_error(error, "");
        return false;
    }
    auto const space = decoder_.prepare(kReadBytes);
    ssize_t const got = ::read(fd_, space.data(), space.size());
    if (got < 0) {
        if (errno == EINTR || errno == EAGAIN) return true;
        return fail(std::string("read from daemon: ") + std::strerror(errno), error);
    }
    if (got == 0) return fail("the daemon closed the connection", error);
    decoder_.commit(std::size_t(got));
    FrameView f;
    for (;;) {
        auto const result = decoder_.next(&f);
        if (result == FrameDecoder::Result::kNeedMore) break;
        if (result == FrameDecoder::Result::kError)
            return fail("bad frame from daemon: " + std::string(frame_error_name(decoder_.error())), error);
        if (f.type == FrameType::kMessage) {
            auto const m = parse_message(f.body);
            if (!m) return fail("malformed MESSAGE from daemon", error);
            Incoming in;
            in.type = FrameType::kMessage;
            in.id = m->id;
            in.in_reply_to = m->in_reply_to;
            in.is_reply = (m->flags & kFlagIsReply) != 0;
            in.bytes.assign(m->bytes.begin(), m->bytes.end());
            pushed_.push_back(std::move(in));
        } else if (f.type == FrameType::kResult) {
            auto const r = parse_result(f.body);
            if (!r) return fail("malformed RESULT from daemon", error);
            Incoming in;
            in.type = FrameType::kResult;
            in.id = r->id;
            in.state = r->state;
            in.error = std::string(r->error);
            pushed_.push_back(std::move(in));
        } else if (f.type == FrameType::kError && f.request_id == 0) {
            // Not an answer to a request: the daemon is refusing the connection (busy, not ready).
            return fail(error_text(f.body), error);
        } else {
            replies_.push_back(Reply{f.type, f.request_id, std::vector<uint8_t>(f.body.begin(), f.body.end())});
        }
    }
    return true;
}

std::optional<Client::Reply> Client::request(FrameType type, std::span<const uint8_t> head,
                                             std::span<const uint8_t> tail, FrameType expect, std::string* error) {
    if (broken_) {
        fail(broken_reason_, error);
        return std::nullopt;
    }
    uint32_t const id = next_request_id_++;
    if (next_request_id_ == 0) next_request_id_ = 1;   // 0 marks pushed frames
    std::string write_error;
    bool const written = write_all(type, id, head, tail, &write_error);
    // After a failed write the daemon has usually said why (413 for a frame too long) before closing: read that.
    int64_t const deadline = deadline_after(written ? reply_timeout_ms_ : 1000);

    auto take = [&]() -> std::optional<Reply> {
        for (auto it = replies_.begin(); it != replies_.end(); ++it) {
            if (it->request_id != id) continue;
            Reply r = std::move(*it);
            replies_.erase(it);
            return r;
        }
        return std::nullopt;
    };
    for (;;) {
        std::string why;
        std::optional<Reply> r = take();
        if (!r) {
            // Replies to requests that gave up waiting are stale: drop them so they cannot pile up.
            replies_.clear();
            if (read_some(remaining_ms(deadline), &why)) continue;
            r = take();
        }
        if (!written) fail(write_error, nullptr);   // a partial frame leaves the stream unusable
        if (r) {
            if (r->type == FrameType::kError) {
                set_error(error, error_text(r->body));
                return std::nullopt;
            }
            if (r->type != expect) {
                set_error(error, "unexpected " + std::string(type_name(r->type)) + " reply from daemon");
                return std::nullopt;
            }
            return r;
        }
        if (!why.empty()) set_error(error, why);   // the daemon's own reason beats our EPIPE
        else if (!written) set_error(error, write_error);
        else set_error(error, "no reply from the daemon within " + std::to_string(reply_timeout_ms_) + " ms");
        return std::nullopt;
    }
}

std::optional<MessageId> Client::submit(FrameType type, std::span<const uint8_t> head,
                                        std::span<const uint8_t> bytes, std::string* error) {
    auto r = request(type, head, bytes, FrameType::kAccepted, error);
    if (!r) return std::nullopt;
    auto const id = parse_accepted(r->body);
    if (!id) set_error(error, "malformed ACCEPTED from daemon");
    return id;
}

std::optional<MessageId> Client::send(const NodeId& dest, std::span<const uint8_t> bytes, bool report,
                                      std::string* error) {
    return submit(FrameType::kSend, send_head(dest, report ? kFlagReport : 0), bytes, error);
}

std::optional<MessageId> Client::reply(const MessageId& request_id, std::span<const uint8_t> bytes, bool report,
                                       std::string* error) {
    return submit(FrameType::kReply, reply_head(request_id, report ? kFlagReport : 0), bytes, error);
}

bool Client::subscribe(std::string* error) {
    return request(FrameType::kSubscribe, {}, {}, FrameType::kJson, error).has_value();
}

std::optional<Client::Incoming> Client::next(int timeout_ms, std::string* error) {
    int64_t const deadline = deadline_after(timeout_ms);
    while (pushed_.empty()) {
        if (!read_some(remaining_ms(deadline), error)) {
            if (!pushed_.empty()) break;   // frames that arrived just before the connection ended
            if (!broken_ && remaining_ms(deadline) != 0) continue;   // EINTR
            return std::nullopt;
        }
    }
    Incoming in = std::move(pushed_.front());
    pushed_.pop_front();
    return in;
}

std::optional<uint8_t> Client::status(const MessageId& id, std::string* error) {
    auto r = request(FrameType::kStatus, id, {}, FrameType::kState, error);
    if (!r) return std::nullopt;
    auto const s = parse_state(r->body);
    if (!s) {
        set_error(error, "malformed STATE from daemon");
        return std::nullopt;
    }
    return s->state;
}

std::optional<std::string> Client::stats_json(std::string* error) {
    auto r = request(FrameType::kStats, {}, {}, FrameType::kJson, error);
    if (!r) return std::nullopt;
    return std::string(as_text(r->body));
}

std::optional<ResolvedBody> Client::resolve(std::string_view name, std::string* error) {
    if (!parse_resolve(as_bytes(name))) {
        set_error(error, "bad name \"" + std::string(name.substr(0, 300)) +
                             "\" (want 1..253 bytes of lowercase a-z, 0-9, '.', '-')");
        return std::nullopt;
    }
    auto r = request(FrameType::kResolve, as_bytes(name), {}, FrameType::kResolved, error);
    if (!r) return std::nullopt;
    auto const body = parse_resolved(r->body);
    if (!body) set_error(error, "malformed RESOLVED from daemon");
    return body;
}

}  // namespace voxa::local
