// Shared by the local tests: a loopback Handler standing in for the daemon, a temporary directory, and a
// fixture that runs a real Server on its own thread.
#pragma once

#include <gtest/gtest.h>
#include <sodium.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "local/client.h"
#include "local/server.h"
#include "voxa/assert.h"

namespace voxa::local::fixture {

namespace fs = std::filesystem;

// The test's stand-in for the daemon: accepts everything, delivers messages to `self` locally, and reports
// delivery (or failure for `unreachable`) at once.
class LoopbackHandler final : public Handler {
public:
    Server* server = nullptr;
    NodeId self{};
    NodeId unreachable{};
    std::map<MessageId, uint8_t> states;
    std::vector<ClientId> disconnected;
    std::atomic<int> frames{0};
    bool close_on_stats = false;
    std::map<std::string, ResolvedBody, std::less<>> names;   // answered by RESOLVE (set before start)

    void on_frame(ClientId client, const FrameView& f) override {
        frames += 1;
        switch (f.type) {
            case FrameType::kSend: {
                auto const s = parse_send(f.body);
                if (!s) {
                    server->send_error(client, f.request_id, ErrorCode::kBadRequest, "bad SEND body");
                    return;
                }
                accept(client, f.request_id, s->destination, MessageId{}, false, s->flags, s->bytes);
                return;
            }
            case FrameType::kReply: {
                auto const r = parse_reply(f.body);
                if (!r) {
                    server->send_error(client, f.request_id, ErrorCode::kBadRequest, "bad REPLY body");
                    return;
                }
                if (!states.contains(r->request)) {
                    server->send_error(client, f.request_id, ErrorCode::kUnknown, "unknown message");
                    return;
                }
                accept(client, f.request_id, self, r->request, true, r->flags, r->bytes);
                return;
            }
            case FrameType::kStatus: {
                auto const id = parse_status(f.body);
                if (!id) {
                    server->send_error(client, f.request_id, ErrorCode::kBadRequest, "bad STATUS body");
                    return;
                }
                auto const it = states.find(*id);
                server->send(client, FrameType::kState, f.request_id,
                             state_body(*id, it == states.end() ? 0 : it->second));
                return;
            }
            case FrameType::kStats: {
                if (close_on_stats) {
                    server->close_client(client);
                    return;
                }
                std::string const j = server->stats_json();
                server->send(client, FrameType::kJson, f.request_id, as_bytes(j));
                return;
            }
            case FrameType::kResolve: {
                auto const name = parse_resolve(f.body);
                if (!name) {
                    server->send_error(client, f.request_id, ErrorCode::kBadRequest, "bad name");
                    return;
                }
                auto const it = names.find(*name);
                if (it == names.end()) {
                    server->send_error(client, f.request_id, ErrorCode::kUnknown, "unknown name");
                    return;
                }
                server->send(client, FrameType::kResolved, f.request_id,
                             resolved_body(it->second.node, it->second.expires_s));
                return;
            }
            default: ADD_FAILURE() << "the server passed a " << int(f.type);
        }
    }
    void on_disconnect(ClientId client) override { disconnected.push_back(client); }

private:
    void accept(ClientId client, uint32_t request_id, const NodeId& dest, const MessageId& in_reply_to,
                bool is_reply, uint8_t flags, std::span<const uint8_t> bytes) {
        MessageId id;
        randombytes_buf(id.data(), id.size());
        server->send(client, FrameType::kAccepted, request_id, id);
        bool const ok = dest != unreachable;
        states[id] = ok ? 3 : 4;
        if (ok && dest == self) server->deliver(id, in_reply_to, is_reply, bytes);
        if ((flags & kFlagReport) != 0) {
            auto const head = result_head(id, ok ? 3 : 4);
            server->send(client, FrameType::kResult, request_id, head, as_bytes(ok ? "" : "no route"));
        }
    }
};

// A temporary directory, removed at the end.
class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/voxa-local-XXXXXX";
        VOXA_CHECK(::mkdtemp(tmpl) != nullptr);
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

// Runs a Server on its own thread; run() executes work on that thread (the Server is single-threaded).
class LocalServer : public testing::Test {
protected:
    void start(ServerConfig config = {}) {
        if (config.socket_path.empty()) config.socket_path = dir_.path() / "run" / "voxa.sock";
        config_ = config;
        randombytes_buf(handler_.self.data(), handler_.self.size());
        randombytes_buf(handler_.unreachable.data(), handler_.unreachable.size());
        std::string error;
        server_ = Server::listen(config, handler_, &error);
        ASSERT_TRUE(server_) << error;
        handler_.server = server_.get();
        thread_ = std::thread([this] {
            while (!stop_) {
                server_->poll(5);
                std::vector<std::function<void()>> work;
                {
                    std::lock_guard lock(mutex_);
                    work.swap(work_);
                }
                for (auto& w : work) w();
            }
        });
    }
    void TearDown() override { stop_server(); }
    void stop_server() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        server_.reset();
    }
    // Runs `fn` on the server thread and waits for it.
    void run(std::function<void()> fn) {
        bool done = false;
        std::unique_lock lock(mutex_);
        work_.push_back([&] {
            fn();
            {
                std::lock_guard inner(mutex_);
                done = true;
            }
            cv_.notify_all();
        });
        cv_.wait(lock, [&] { return done; });
    }
    // Polls `pred` on the server thread until it holds or ~5 s pass.
    bool eventually(std::function<bool()> pred) {
        for (int i = 0; i < 500; ++i) {
            bool ok = false;
            run([&] { ok = pred(); });
            if (ok) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }
    std::unique_ptr<Client> connect() {
        std::string error;
        auto c = Client::connect(config_.socket_path, &error);
        EXPECT_TRUE(c) << error;
        return c;
    }

    TempDir dir_;
    ServerConfig config_;
    LoopbackHandler handler_;
    std::unique_ptr<Server> server_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::function<void()>> work_;
};

}  // namespace voxa::local::fixture
