// The local delivery server: the daemon's end of `<data>/run/voxa.sock` (docs/API.md, "Local delivery socket").
//
// It runs on the daemon's control thread, never on a data plane worker, so it may allocate; it never blocks:
// nonblocking sockets, one epoll set, and bounded buffers per client (input: one frame of at most frame_body_max;
// output: client_output_max, past which the client is disconnected as too slow rather than stalling the daemon).
// The server owns the framing and the subscriptions; the daemon's Handler owns the meaning of SEND, REPLY, STATUS
// and STATS and answers them with send(). SUBSCRIBE is handled here: subscribed clients get every message the
// daemon hands to deliver(); messages that arrive while nobody is subscribed wait in a bounded queue (count and
// bytes, oldest dropped first and counted) and go to the first subscriber.
//
// Threading: one thread owns a Server and calls every member; Handler callbacks run inside poll() on that thread.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "local/frame.h"

namespace voxa::local {

using ClientId = uint64_t;   // never 0, never reused within one Server

// The daemon's side. Callbacks run inside Server::poll(); they may call any Server member (send, close_client,
// deliver) for any client.
class Handler {
public:
    virtual ~Handler() = default;
    // A whole request frame (SEND, REPLY, STATUS or STATS) whose length, type and reserved bytes the server already
    // checked; the body is not parsed (use parse_send etc.). `frame.body` is valid only during the call.
    virtual void on_frame(ClientId client, const FrameView& frame) = 0;
    // Called exactly once for every client that goes away (peer closed, protocol error, too slow, close_client),
    // after which `client` is unknown to send(). Not called from ~Server.
    virtual void on_disconnect(ClientId client) = 0;
};

struct ServerConfig {
    std::filesystem::path socket_path;
    std::size_t frame_body_max = (64u << 20) + kFrameBodyOverheadBytes;   // the daemon: max_message_bytes + 64
    std::size_t client_output_max = 1u << 30;    // queued output bytes per client before it is cut off
    std::size_t clients_max = 64;                // further connections get ERROR 429 and are closed
    std::size_t pending_messages_max = 1024;     // messages kept while nobody is subscribed
    std::size_t pending_bytes_max = 256u << 20;  // and their bytes
};

// Why the server dropped a frame, a connection or a message; one counter each in ServerStats::drops.
enum class Drop : uint8_t {
    kNone,
    kBadLength,        // frame length < 8
    kTooLong,          // frame body > frame_body_max
    kUnknownType,      // not a request type
    kBadReserved,      // non-zero reserved header bytes
    kClientsFull,      // connection refused: clients_max reached
    kOutputFull,       // client cut off: its queued output would pass client_output_max
    kSocketError,      // read or write failed with an error other than EAGAIN
    kPendingOverflow,  // a queued message (no subscriber) dropped, oldest first
    kCount
};
std::string_view drop_name(Drop d) noexcept;

struct ServerStats {
    uint64_t connections = 0;          // accepted and admitted
    uint64_t disconnections = 0;
    uint64_t frames_in = 0;
    uint64_t frames_out = 0;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;            // written to sockets
    uint64_t messages_delivered = 0;   // deliver() calls that reached a subscriber (now or from the queue)
    uint64_t messages_queued = 0;      // deliver() calls that found no subscriber
    std::array<uint64_t, std::size_t(Drop::kCount)> drops{};
};

class Server {
public:
    // Creates the parent directory (0700) if missing, removes a stale socket file (only if nothing answers on it;
    // if a live daemon answers, fails with "already running"), binds, chmod 0600, listens. Returns nullptr and
    // sets *error (if non-null) on failure. `handler` must outlive the Server.
    static std::unique_ptr<Server> listen(const ServerConfig& config, Handler& handler, std::string* error);
    ~Server();   // closes everything and unlinks the socket file (if it is still ours); no Handler callbacks
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // An epoll descriptor that is readable when poll() has work: the daemon may poll(2)/epoll_wait on it.
    int epoll_fd() const noexcept { return epoll_fd_; }
    // Waits up to timeout_ms (0: do not wait, -1: forever) for socket events, then accepts, reads (dispatching whole
    // frames to the Handler), writes queued output and reaps closed clients.
    void poll(int timeout_ms);

    // Queues one frame to `client`: written at once as far as the socket takes it, the rest copied and written by
    // later poll() calls. Returns false if the client is unknown or closing, or if the frame would pass
    // client_output_max (the client is then cut off: a reader that slow must not hold the daemon's memory).
    bool send(ClientId client, FrameType type, uint32_t request_id, std::span<const uint8_t> body);
    // head + tail as one body, without the caller concatenating big messages.
    bool send(ClientId client, FrameType type, uint32_t request_id, std::span<const uint8_t> head,
              std::span<const uint8_t> tail);
    // Sends ERROR (code, text) with request_id.
    bool send_error(ClientId client, uint32_t request_id, ErrorCode code, std::string_view text);
    // Closes the connection now (the peer sees EOF); on_disconnect follows from the next poll(). Unknown: no-op.
    void close_client(ClientId client);
    // Live clients (closing ones excluded).
    std::size_t clients() const noexcept;

    // Hands a message addressed to this node to local programs: a MESSAGE frame (request_id 0) to every
    // subscriber, or, with none, a copy into the pending queue. Returns the number of subscribers it reached now.
    std::size_t deliver(const MessageId& id, const MessageId& in_reply_to, bool is_reply,
                        std::span<const uint8_t> bytes);
    std::size_t subscribers() const noexcept;
    std::size_t pending_messages() const noexcept { return pending_.size(); }
    std::size_t pending_bytes() const noexcept { return pending_bytes_; }

    const ServerStats& stats() const noexcept { return stats_; }
    // The stats above as a JSON object (for the daemon's STATS reply).
    std::string stats_json() const;
    const ServerConfig& config() const noexcept { return config_; }

private:
    struct Conn;
    struct Pending {
        MessageId id{};
        MessageId in_reply_to{};
        bool is_reply = false;
        std::vector<uint8_t> bytes;
    };

    Server(const ServerConfig& config, Handler& handler, int listen_fd, int epoll_fd, dev_t dev, ino_t ino);
    Conn* find(ClientId client) const noexcept;
    void accept_all();
    void read_client(Conn& c);
    void protocol_error(Conn& c, FrameError e);
    void on_subscribe(Conn& c, uint32_t request_id);
    void flush(Conn& c);
    void set_events(Conn& c, bool want_read, bool want_write);
    void kill(Conn& c, Drop why);
    void reap();
    bool deliver_to(Conn& c, const MessageId& id, const MessageId& in_reply_to, bool is_reply,
                    std::span<const uint8_t> bytes);

    ServerConfig config_;
    Handler& handler_;
    int listen_fd_;
    int epoll_fd_;
    dev_t socket_dev_;   // identity of the socket file we bound, so ~Server never unlinks a successor's
    ino_t socket_ino_;
    ClientId next_id_ = 1;
    std::unordered_map<ClientId, std::unique_ptr<Conn>> conns_;
    std::vector<ClientId> dead_;   // closed, awaiting on_disconnect in reap()
    std::deque<Pending> pending_;
    std::size_t pending_bytes_ = 0;
    ServerStats stats_;
};

}  // namespace voxa::local
