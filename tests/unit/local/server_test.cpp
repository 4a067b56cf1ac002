// A real Server on a temporary socket, driven by its own thread, with a loopback Handler (a SEND to the node's own
// id is delivered back through Server::deliver) and real blocking Clients: the request/reply flows, pushed
// messages, the queue before the first subscriber, a 20 MiB message, slow readers, and the socket file's life.
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "common/bytes.h"
#include "local/client.h"
#include "local/server.h"
#include "local_fixture.h"
#include "support/test_support.h"
#include "voxa/assert.h"

namespace voxa::local {
namespace {

using namespace voxa::local::fixture;
namespace fs = std::filesystem;

// A raw socket for hand-made frames.
int raw_connect(const fs::path& path) {
    int const fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    VOXA_CHECK(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0);
    return fd;
}

// Reads until EOF (or 5 s); returns everything read.
std::vector<uint8_t> read_to_eof(int fd) {
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::vector<uint8_t> all;
    uint8_t buf[4096];
    for (;;) {
        ssize_t const n = ::read(fd, buf, sizeof(buf));
        if (n <= 0) break;
        all.insert(all.end(), buf, buf + n);
    }
    return all;
}

TEST_F(LocalServer, SendIsAcceptedAndReportedOnce) {
    start();
    auto c = connect();
    std::string error;
    auto const msg = test::random_bytes(100);
    auto const id = c->send(handler_.unreachable, msg, true, &error);
    ASSERT_TRUE(id) << error;
    auto const quiet = c->send(handler_.unreachable, msg, false, &error);
    ASSERT_TRUE(quiet) << error;
    EXPECT_NE(*id, *quiet);
    auto const r = c->next(2000, &error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->type, FrameType::kResult);
    EXPECT_EQ(r->id, *id);
    EXPECT_EQ(r->state, 4);
    EXPECT_EQ(r->error, "no route");
    EXPECT_FALSE(c->next(100, &error));   // exactly one RESULT, none for the unreported message
    EXPECT_TRUE(error.empty()) << error;  // a timeout, not a failure
    EXPECT_EQ(c->status(*id, &error), 4);
    MessageId unknown{};
    EXPECT_EQ(c->status(unknown, &error), 0);
}

TEST_F(LocalServer, SubscriberGetsPushedMessagesAndReplies) {
    start();
    auto rx = connect();
    auto tx = connect();
    std::string error;
    ASSERT_TRUE(rx->subscribe(&error)) << error;
    auto const msg = test::random_bytes(5000);
    auto const id = tx->send(handler_.self, msg, true, &error);
    ASSERT_TRUE(id) << error;
    auto const m = rx->next(2000, &error);
    ASSERT_TRUE(m) << error;
    EXPECT_EQ(m->type, FrameType::kMessage);
    EXPECT_EQ(m->id, *id);
    EXPECT_FALSE(m->is_reply);
    EXPECT_EQ(m->in_reply_to, MessageId{});
    EXPECT_EQ(m->bytes, msg);
    auto const done = tx->next(2000, &error);
    ASSERT_TRUE(done) << error;
    EXPECT_EQ(done->type, FrameType::kResult);
    EXPECT_EQ(done->state, 3);

    // The receiver answers; the answer arrives (here, looped back) flagged as a reply to the request.
    auto const answer = test::random_bytes(10);
    auto const rid = rx->reply(m->id, answer, false, &error);
    ASSERT_TRUE(rid) << error;
    auto const back = rx->next(2000, &error);
    ASSERT_TRUE(back) << error;
    EXPECT_TRUE(back->is_reply);
    EXPECT_EQ(back->in_reply_to, *id);
    EXPECT_EQ(back->id, *rid);
    EXPECT_EQ(back->bytes, answer);

    MessageId unknown{};
    EXPECT_FALSE(rx->reply(unknown, answer, false, &error));
    EXPECT_NE(error.find("404"), std::string::npos) << error;
}

TEST_F(LocalServer, MessagesWaitForTheFirstSubscriberAndOverflowDropsOldest) {
    ServerConfig config;
    config.pending_messages_max = 3;
    start(config);
    std::vector<MessageId> ids(5);
    std::vector<std::vector<uint8_t>> bodies;
    run([&] {
        for (std::size_t i = 0; i < ids.size(); ++i) {
            randombytes_buf(ids[i].data(), ids[i].size());
            bodies.push_back(test::random_bytes(100 + i));
            EXPECT_EQ(server_->deliver(ids[i], {}, false, bodies.back()), 0u);
        }
        EXPECT_EQ(server_->pending_messages(), 3u);
        EXPECT_EQ(server_->stats().drops[std::size_t(Drop::kPendingOverflow)], 2u);
    });
    auto rx = connect();
    std::string error;
    ASSERT_TRUE(rx->subscribe(&error)) << error;
    for (std::size_t i = 2; i < 5; ++i) {   // the two oldest were dropped; the rest arrive in order
        auto const m = rx->next(2000, &error);
        ASSERT_TRUE(m) << error;
        EXPECT_EQ(m->id, ids[i]);
        EXPECT_EQ(m->bytes, bodies[i]);
    }
    EXPECT_FALSE(rx->next(100, &error));
    run([&] { EXPECT_EQ(server_->pending_messages(), 0u); });

    // With a subscriber, nothing queues.
    run([&] { EXPECT_EQ(server_->deliver(ids[0], {}, false, bodies[0]), 1u); });
    auto const m = rx->next(2000, &error);
    ASSERT_TRUE(m) << error;
    EXPECT_EQ(m->id, ids[0]);
}

TEST_F(LocalServer, TwentyMiBMessageArrivesIntact) {
    start();
    auto rx = connect();
    auto tx = connect();
    std::string error;
    ASSERT_TRUE(rx->subscribe(&error)) << error;
    auto const msg = test::random_bytes(20u << 20);
    auto const id = tx->send(handler_.self, msg, true, &error);
    ASSERT_TRUE(id) << error;
    auto const m = rx->next(20000, &error);
    ASSERT_TRUE(m) << error;
    EXPECT_EQ(m->id, *id);
    ASSERT_EQ(m->bytes.size(), msg.size());
    EXPECT_TRUE(m->bytes == msg);
    auto const r = tx->next(5000, &error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->state, 3);
}

TEST_F(LocalServer, SlowReaderDoesNotBlockOthersAndIsCutOffPastItsLimit) {
    ServerConfig config;
    config.client_output_max = 8u << 20;
    start(config);
    auto slow = connect();
    std::string error;
    ASSERT_TRUE(slow->subscribe(&error)) << error;   // and then never reads again
    auto other = connect();
    auto const chunk = test::random_bytes(1u << 20);
    MessageId id{};
    // 4 MiB: well past the socket buffers, inside the limit: queued, and others are served meanwhile.
    run([&] {
        for (int i = 0; i < 4; ++i) server_->deliver(id, {}, false, chunk);
    });
    auto const t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(other->stats_json(&error)) << error;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    run([&] { EXPECT_EQ(server_->subscribers(), 1u); });
    // Past 8 MiB queued the slow reader is cut off, counted, and reported to the handler.
    run([&] {
        for (int i = 0; i < 8; ++i) server_->deliver(id, {}, false, chunk);
    });
    EXPECT_TRUE(eventually([&] { return handler_.disconnected.size() == 1; }));
    run([&] {
        EXPECT_EQ(server_->stats().drops[std::size_t(Drop::kOutputFull)], 1u);
        EXPECT_EQ(server_->subscribers(), 0u);
        EXPECT_EQ(server_->clients(), 1u);
    });
    ASSERT_TRUE(other->stats_json(&error)) << error;
}

TEST_F(LocalServer, OversizeUnknownAndBadFramesGetErrorThenClose) {
    ServerConfig config;
    config.frame_body_max = 1000;
    start(config);
    struct Case {
        std::vector<uint8_t> bytes;
        uint16_t code;
        Drop drop;
    };
    std::vector<Case> cases;
    {
        std::vector<uint8_t> h(12, 0);
        store_u32(h.data(), 8 + 1001);
        h[4] = 1;
        store_u32(h.data() + 8, 42);
        cases.push_back({h, 413, Drop::kTooLong});
        h = encode_frame(FrameType::kAccepted, 42, {});   // a daemon -> client type
        cases.push_back({h, 400, Drop::kUnknownType});
        h = encode_frame(FrameType::kStats, 42, {});
        h[6] = 1;
        cases.push_back({h, 400, Drop::kBadReserved});
        h.assign(12, 0);
        store_u32(h.data(), 3);
        cases.push_back({h, 400, Drop::kBadLength});
    }
    for (const auto& c : cases) {
        int const fd = raw_connect(config_.socket_path);
        ASSERT_EQ(::write(fd, c.bytes.data(), c.bytes.size()), ssize_t(c.bytes.size()));
        auto const got = read_to_eof(fd);   // ERROR, then the server closes
        ::close(fd);
        FrameDecoder d(Direction::kToClient, 4096);
        d.feed(got);
        FrameView v;
        ASSERT_EQ(d.next(&v), FrameDecoder::Result::kFrame);
        EXPECT_EQ(v.type, FrameType::kError);
        auto const e = parse_error(v.body);
        ASSERT_TRUE(e);
        EXPECT_EQ(e->code, c.code);
        EXPECT_EQ(d.next(&v), FrameDecoder::Result::kNeedMore);   // nothing after the ERROR
        if (c.drop != Drop::kBadLength) {
            EXPECT_EQ(v.request_id, 42u);
        }
    }
    run([&] {
        for (const auto& c : cases) EXPECT_EQ(server_->stats().drops[std::size_t(c.drop)], 1u);
        EXPECT_EQ(handler_.frames.load(), 0);
    });
    EXPECT_TRUE(eventually([&] { return handler_.disconnected.size() == cases.size(); }));

    // Through the client: a message too big for one frame is refused with the server's reason.
    auto c = connect();
    std::string error;
    EXPECT_FALSE(c->send(handler_.self, test::random_bytes(4000), false, &error));
    EXPECT_NE(error.find("413"), std::string::npos) << error;
}

TEST_F(LocalServer, ClientsBeyondTheLimitAreToldBusy) {
    ServerConfig config;
    config.clients_max = 1;
    start(config);
    auto first = connect();
    std::string error;
    ASSERT_TRUE(first->stats_json(&error)) << error;
    auto second = connect();
    EXPECT_FALSE(second->stats_json(&error));
    EXPECT_NE(error.find("429"), std::string::npos) << error;
    run([&] { EXPECT_EQ(server_->stats().drops[std::size_t(Drop::kClientsFull)], 1u); });
    ASSERT_TRUE(first->stats_json(&error)) << error;
}

TEST_F(LocalServer, HandlerCloseAndPeerCloseEachReportOneDisconnect) {
    start();
    handler_.close_on_stats = true;
    auto a = connect();
    auto b = connect();
    std::string error;
    EXPECT_FALSE(a->stats_json(&error));
    EXPECT_NE(error.find("closed"), std::string::npos) << error;
    b.reset();
    EXPECT_TRUE(eventually([&] { return handler_.disconnected.size() == 2; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    run([&] {
        EXPECT_EQ(handler_.disconnected.size(), 2u);
        EXPECT_NE(handler_.disconnected[0], handler_.disconnected[1]);
        EXPECT_EQ(server_->clients(), 0u);
    });
}

TEST_F(LocalServer, PipelinedResultsInterleaveWithReplies) {
    start();
    auto c = connect();
    std::string error;
    std::vector<MessageId> ids;
    for (int i = 0; i < 8; ++i) {
        auto const id = c->send(handler_.unreachable, test::random_bytes(64), true, &error);
        ASSERT_TRUE(id) << error;
        ids.push_back(*id);
    }
    auto const stats = c->stats_json(&error);   // RESULTs arrived before this reply; they are kept
    ASSERT_TRUE(stats) << error;
    EXPECT_NE(stats->find("frames_in"), std::string::npos);
    for (int i = 0; i < 8; ++i) {
        auto const r = c->next(2000, &error);
        ASSERT_TRUE(r) << error;
        EXPECT_EQ(r->type, FrameType::kResult);
        EXPECT_EQ(r->id, ids[std::size_t(i)]);
    }
}

TEST_F(LocalServer, SocketIsPrivateAndRemovedOnShutdown) {
    start();
    struct stat st;
    ASSERT_EQ(::stat(config_.socket_path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat(config_.socket_path.parent_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);   // created by the server
    stop_server();
    EXPECT_FALSE(fs::exists(config_.socket_path));
}

TEST_F(LocalServer, SecondServerOnThePathFailsAlreadyRunning) {
    start();
    LoopbackHandler other;
    std::string error;
    ServerConfig config = config_;
    auto second = Server::listen(config, other, &error);
    EXPECT_FALSE(second);
    EXPECT_NE(error.find("already running"), std::string::npos) << error;
    // The first is untouched.
    auto c = connect();
    ASSERT_TRUE(c->stats_json(&error)) << error;
}

TEST(LocalServerFile, StaleSocketFileIsReplacedOtherFilesAreNot) {
    TempDir dir;
    fs::path const path = dir.path() / "voxa.sock";
    // A socket file nobody listens on: what a crashed daemon leaves.
    {
        int const fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
        ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
        ::close(fd);
    }
    ASSERT_TRUE(fs::exists(path));
    LoopbackHandler handler;
    ServerConfig config;
    config.socket_path = path;
    std::string error;
    auto server = Server::listen(config, handler, &error);
    ASSERT_TRUE(server) << error;
    handler.server = server.get();
    auto c = Client::connect(path, &error);
    ASSERT_TRUE(c) << error;
    server->poll(100);
    EXPECT_EQ(server->clients(), 1u);
    server.reset();
    c.reset();

    // A regular file in the way is an operator's problem, not ours to delete.
    { std::ofstream(path) << "precious"; }
    EXPECT_FALSE(Server::listen(config, handler, &error));
    EXPECT_NE(error.find("not a socket"), std::string::npos) << error;
    EXPECT_TRUE(fs::exists(path));

    config.socket_path = dir.path() / std::string(120, 'x');
    EXPECT_FALSE(Server::listen(config, handler, &error));
    EXPECT_NE(error.find("longer than"), std::string::npos) << error;
}

TEST(LocalClient, ConnectFailsWithAReason) {
    TempDir dir;
    std::string error;
    EXPECT_FALSE(Client::connect(dir.path() / "none.sock", &error));
    EXPECT_NE(error.find("voxa-dataplane running"), std::string::npos) << error;
}

}  // namespace
}  // namespace voxa::local
