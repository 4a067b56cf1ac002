// A blocking client of the local delivery socket (docs/API.md), used by voxactl, voxa-bench and tests.
//
// Each request waits for its reply (ACCEPTED, STATE, JSON, RESOLVED or ERROR with the same request_id). Frames the
// daemon pushes meanwhile (MESSAGE, and RESULT for earlier messages sent with report=true) are kept, in arrival order,
// in an internal queue that next() drains first; so a caller can pipeline: send() returns after ACCEPTED and the
// RESULTs are collected later with next(). One thread uses a Client at a time; it is not for the daemon's loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "local/frame.h"
#include "voxa/types.h"

namespace voxa::local {

class Client {
public:
    // Connects to the daemon's socket. nullptr and *error (if non-null) set on failure.
    // `frame_body_max` bounds what the client accepts from the daemon (MESSAGE frames carry whole messages).
    static std::unique_ptr<Client> connect(const std::filesystem::path& socket_path, std::string* error,
                                           std::size_t frame_body_max = (1u << 30));
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // SEND / REPLY: returns the message id from ACCEPTED, or nullopt with *error (the daemon's ERROR code and text,
    // or the socket error). With `report`, exactly one RESULT for this id later comes out of next().
    std::optional<MessageId> send(const NodeId& dest, std::span<const uint8_t> bytes, bool report,
                                  std::string* error);
    std::optional<MessageId> reply(const MessageId& request, std::span<const uint8_t> bytes, bool report,
                                   std::string* error);
    // SUBSCRIBE: true once the daemon confirmed; messages (queued ones first) then come out of next().
    bool subscribe(std::string* error);

    struct Incoming {
        FrameType type = FrameType::kMessage;   // kMessage or kResult
        MessageId id{};
        MessageId in_reply_to{};     // MESSAGE: the request it answers (zero if not a reply)
        bool is_reply = false;
        uint8_t state = 0;           // RESULT: 3 delivered, 4 failed
        std::string error;           // RESULT: why it failed
        std::vector<uint8_t> bytes;  // MESSAGE: the message
    };
    // Next pushed frame (MESSAGE or RESULT), waiting up to timeout_ms (-1 forever). nullopt on timeout (*error
    // is then empty) or on error (*error says why; the connection is then unusable).
    std::optional<Incoming> next(int timeout_ms, std::string* error);
    // STATUS: the message's state (MessageState values), or nullopt with *error.
    std::optional<uint8_t> status(const MessageId& id, std::string* error);
    // STATS: the daemon's JSON text, or nullopt with *error.
    std::optional<std::string> stats_json(std::string* error);
    // RESOLVE: the node a name points to and until when, or nullopt with *error (the daemon's "404 unknown name"
    // for a name it does not hold; a name that is not 1..253 bytes of [a-z0-9.-] is refused here, unsent).
    std::optional<ResolvedBody> resolve(std::string_view name, std::string* error);

    // How long a request waits for its reply (default 60 s; -1 forever).
    void set_reply_timeout_ms(int timeout_ms) noexcept { reply_timeout_ms_ = timeout_ms; }
    // Pushed frames already received and not yet returned by next().
    std::size_t queued() const noexcept { return pushed_.size(); }
    int fd() const noexcept { return fd_; }

private:
    struct Reply {
        FrameType type;
        uint32_t request_id;
        std::vector<uint8_t> body;
    };

    Client(int fd, std::size_t frame_body_max);
    // Writes one request frame and waits for the frame that answers it (ERROR becomes nullopt with *error).
    std::optional<Reply> request(FrameType type, std::span<const uint8_t> head, std::span<const uint8_t> tail,
                                 FrameType expect, std::string* error);
    // SEND or REPLY: the id from ACCEPTED.
    std::optional<MessageId> submit(FrameType type, std::span<const uint8_t> head, std::span<const uint8_t> bytes,
                                    std::string* error);
    bool write_all(FrameType type, uint32_t request_id, std::span<const uint8_t> head,
                   std::span<const uint8_t> tail, std::string* error);
    // Waits up to timeout_ms for bytes, reads them and sorts complete frames into pushed_ and replies_.
    // Returns false on timeout (*error empty) or failure (*error set, broken_).
    bool read_some(int timeout_ms, std::string* error);
    bool fail(std::string text, std::string* error);

    int fd_;
    FrameDecoder decoder_;
    uint32_t next_request_id_ = 1;
    int reply_timeout_ms_ = 60'000;
    std::deque<Incoming> pushed_;
    std::deque<Reply> replies_;
    bool broken_ = false;
    std::string broken_reason_;
};

}  // namespace voxa::local
