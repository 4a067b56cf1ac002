// voxa-dataplane's shm wiring, end to end in one process: real Daemon objects (real workers, sockets, local socket)
// in temporary config/data folders, and the test playing voxa-control: it opens the same segment as Side::kControl,
// pushes commands into the command rings, reads the event rings and the stats blocks.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "config/config.h"
#include "crypto/identity.h"
#include "daemon/daemon.h"
#include "directory/descriptor.h"
#include "local/client.h"
#include "shm/messages.h"
#include "shm/node_segment.h"
#include "shm/segment.h"
#include "shm/stats.h"
#include "support/test_support.h"

namespace voxa::daemon {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

using voxa::test::eventually;

uint16_t free_udp_port() {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

struct Peer {
    NodeId raw{};
    std::string id, key;
    uint16_t port = 0;
};

// One node's folders: config/ (written here) and data/ (identity, run/voxa.sock, run/voxa.shm).
class NodeDirs {
public:
    NodeDirs() {
        char tmpl[] = "/tmp/voxa-daemon-test-XXXXXX";
        root_ = ::mkdtemp(tmpl);
        fs::create_directories(root_ / "config");
        fs::create_directories(root_ / "data");
        fs::permissions(root_ / "data", fs::perms::owner_all, fs::perm_options::replace);
        std::string error;
        auto id = crypto::Identity::load_or_create(root_ / "data" / "local", &error);
        EXPECT_TRUE(id) << error;
        self_.raw = id->id();
        self_.id = to_hex(id->id());
        self_.key = to_hex(id->peer().ed25519);
    }
    ~NodeDirs() {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }
    // port 0: a free one (the configuration refuses 0). cores: worker count (not pinned).
    std::optional<config::Config> write(uint16_t port, const std::vector<Peer>& bootstrap = {}, int cores = 1,
                                        json p2p_extra = json::object()) {
        if (port == 0) port = free_udp_port();
        self_.port = port;
        json boot = json::array();
        for (const Peer& p : bootstrap) {
            boot.push_back({{"id", p.id}, {"public_key", p.key}, {"host", "127.0.0.1"}, {"port", p.port}});
        }
        json p2p = {{"host", "127.0.0.1"}, {"port", port}, {"advertise_host", "127.0.0.1"},
                    {"bootstrap_nodes", boot}, {"hops", 1}, {"n", 1}, {"k", 1}, {"gossip_interval_s", 1},
                    {"max_message_bytes", 1 << 20}};
        p2p.update(p2p_extra);
        json cores_list = json::array();
        for (int i = 0; i < cores; ++i) cores_list.push_back(i);
        json dp = {{"cores", cores_list}, {"pin", false}, {"rx_buffers", 64}, {"tx_slots", 256},
                   {"bpf_steering", false}, {"reassembly_bytes_max", 1 << 24}};
        std::ofstream(root_ / "config" / "p2p.json") << p2p.dump();
        std::ofstream(root_ / "config" / "dataplane.json") << dp.dump();
        std::ofstream(root_ / "config" / "settings.json") << json::object().dump();
        std::string error;
        auto c = config::load(root_ / "config", root_ / "data", [](std::string_view) { return std::nullopt; },
                              &error);
        EXPECT_TRUE(c) << error;
        return c;
    }
    const fs::path& root() const { return root_; }
    fs::path data() const { return root_ / "data"; }
    const Peer& self() const { return self_; }

private:
    fs::path root_;
    Peer self_;
};

// A Daemon running on its own thread until stopped or until run() returns by itself (Shutdown).
class Running {
public:
    explicit Running(std::unique_ptr<Daemon> d) : daemon_(std::move(d)) {
        thread_ = std::thread([this] {
            rc_ = daemon_->run(stop_);
            done_.store(true);
        });
    }
    ~Running() { stop(); }
    void stop() {
        stop_.store(true);
        daemon_->wake();
        if (thread_.joinable()) thread_.join();
    }
    bool done() const { return done_.load(); }
    Daemon& daemon() { return *daemon_; }
    int rc() const { return rc_; }

private:
    std::unique_ptr<Daemon> daemon_;
    std::atomic<bool> stop_{false}, done_{false};
    int rc_ = -1;
    std::thread thread_;
};

std::unique_ptr<Daemon> make_daemon(const config::Config& c) {
    std::string error;
    auto d = Daemon::create(c, &error);
    EXPECT_TRUE(d) << error;
    return d;
}

// The test as voxa-control.
std::unique_ptr<shm::Segment> open_control(const fs::path& data, uint32_t workers = 1) {
    std::string error;
    auto s = shm::Segment::open(shm::segment_path(data).string(), shm::segment_config_for(workers),
                                shm::Side::kControl, &error);
    EXPECT_TRUE(s) << error;
    return s;
}

json stats_of(const fs::path& data) {
    std::string error;
    auto client = local::Client::connect(data / "run" / "voxa.sock", &error);
    if (!client) return json();
    auto text = client->stats_json(&error);
    return text ? json::parse(*text) : json();
}

struct SeenEvent {
    shm::MsgType type = shm::MsgType::kNone;
    shm::Event event;
    std::string text;   // ErrorEvent's text, copied out of the slot
};

// Drains event ring `w` into `out`.
void read_events(shm::RingConsumer& ring, std::vector<SeenEvent>* out) {
    shm::SlotView v;
    while (ring.peek(&v)) {
        SeenEvent e;
        e.type = shm::MsgType(v.type);
        EXPECT_EQ(shm::decode_event(v.type, v.body, &e.event), shm::DecodeError::kNone);
        if (const auto* err = std::get_if<shm::ErrorEvent>(&e.event)) e.text = std::string(err->text);
        out->push_back(std::move(e));
        ring.release();
    }
}

bool has_error_event(shm::RingConsumer& ring, std::vector<SeenEvent>* seen, const std::string& needle) {
    read_events(ring, seen);
    for (const auto& e : *seen) {
        if (e.type == shm::MsgType::kError && e.text.find(needle) != std::string::npos) return true;
    }
    return false;
}

uint64_t counter(const shm::StatsBlock* block, shm::Stat s, uint64_t* epoch = nullptr) {
    shm::StatsSnapshot snap;
    if (shm::read_stats(*block, &snap) != shm::StatsRead::kOk) return 0;
    if (epoch != nullptr) *epoch = snap.epoch;
    return snap.counters[std::size_t(s)];
}

void send_garbage(uint16_t port, int count) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const char junk[64] = {1, 2, 3};
    for (int i = 0; i < count; ++i) {
        ::sendto(fd, junk, sizeof junk, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    ::close(fd);
}

TEST(DaemonShm, StatsBlocksArePublishedAndGrow) {
    NodeDirs dirs;
    auto c = dirs.write(0);
    ASSERT_TRUE(c);
    Running run(make_daemon(*c));
    auto ctl = open_control(dirs.data());
    ASSERT_TRUE(ctl);
    const uint64_t data_epoch = ctl->status(shm::Side::kData).epoch;
    EXPECT_EQ(data_epoch, 1u);
    send_garbage(run.daemon().port(), 20);
    uint64_t epoch = 0;
    ASSERT_TRUE(eventually([&] { return counter(ctl->stats_block(0), shm::Stat::kRxPackets, &epoch) >= 20; }));
    EXPECT_EQ(epoch, data_epoch);
    const uint64_t before = counter(ctl->stats_block(0), shm::Stat::kRxPackets);
    send_garbage(run.daemon().port(), 10);
    EXPECT_TRUE(eventually([&] { return counter(ctl->stats_block(0), shm::Stat::kRxPackets) >= before + 10; }));
    EXPECT_GE(counter(ctl->stats_block(0), shm::Stat::kLinkDrops), 1u);   // garbage is dropped by the link layer
    // The heartbeat is fresh: the data side is alive as seen by the control side.
    EXPECT_TRUE(eventually([&] { return ctl->peer_alive(shm::monotonic_ns(), 500'000'000); }));
}

TEST(DaemonShm, CountersSurviveAControlRestartAndRestartWithTheDataPlane) {
    NodeDirs dirs;
    auto c = dirs.write(0);
    ASSERT_TRUE(c);
    uint64_t seen = 0;
    {
        Running run(make_daemon(*c));
        auto ctl = open_control(dirs.data());
        send_garbage(run.daemon().port(), 15);
        ASSERT_TRUE(eventually([&] { return counter(ctl->stats_block(0), shm::Stat::kRxPackets) >= 15; }));
        ctl.reset();   // voxa-control restarts: the counters live in the segment
        ctl = open_control(dirs.data());
        EXPECT_EQ(ctl->epoch(), 2u);
        seen = counter(ctl->stats_block(0), shm::Stat::kRxPackets);
        EXPECT_GE(seen, 15u);
        send_garbage(run.daemon().port(), 5);
        EXPECT_TRUE(eventually([&] { return counter(ctl->stats_block(0), shm::Stat::kRxPackets) >= seen + 5; }));
    }
    // voxa-dataplane restarts: new epoch, counters from 0. (The kernel frees an io_uring's fixed files, hence the
    // port, a moment after the ring is closed: retry.)
    std::unique_ptr<Daemon> again;
    ASSERT_TRUE(eventually([&] {
        std::string error;
        again = Daemon::create(*c, &error);
        return again != nullptr;
    }));
    Running run(std::move(again));
    auto ctl = open_control(dirs.data());
    EXPECT_EQ(ctl->status(shm::Side::kData).epoch, 2u);
    uint64_t epoch = 0;
    ASSERT_TRUE(eventually([&] {
        counter(ctl->stats_block(0), shm::Stat::kRxPackets, &epoch);
        return epoch == 2;
    }));
    EXPECT_LT(counter(ctl->stats_block(0), shm::Stat::kRxPackets), seen);
}

TEST(DaemonShm, PeerUpdateMergesVerifiedDescriptorsAndRefusesForgedOnes) {
    NodeDirs dirs;
    auto c = dirs.write(0);
    ASSERT_TRUE(c);
    Running run(make_daemon(*c));
    auto ctl = open_control(dirs.data());
    auto producer = ctl->command_producer(0);
    auto events = ctl->event_consumer(0);

    const fs::path keys = dirs.root() / "other";
    std::string error;
    auto other = crypto::Identity::load_or_create(keys / "a", &error);
    auto forger = crypto::Identity::load_or_create(keys / "b", &error);
    ASSERT_TRUE(other && forger) << error;
    const Endpoint ep = *config::parse_numeric_endpoint("127.0.0.1", 9555);
    const uint64_t now = uint64_t(::time(nullptr));
    auto good = directory::sign_descriptor(*other, ep, 7, true, now);
    auto forged = directory::sign_descriptor(*forger, ep, 7, true, now);
    forged[directory::kOffSignature + 3] ^= 0x40;

    ASSERT_TRUE(shm::push_command(producer, shm::PeerUpdate{1, good}));
    ASSERT_TRUE(shm::push_command(producer, shm::PeerUpdate{1, forged}));
    auto in_directory = [&](const std::string& id) {
        json s = stats_of(dirs.data());
        for (const auto& e : s["directory"]["entries"]["entries"]) {
            if (e.value("id", "") == id) return true;
        }
        return false;
    };
    EXPECT_TRUE(eventually([&] { return in_directory(to_hex(other->id())); }));
    std::vector<SeenEvent> seen;
    EXPECT_TRUE(eventually([&] { return has_error_event(events, &seen, "bad_signature"); }));
    EXPECT_FALSE(in_directory(to_hex(forger->id())));

    // PeerRemove: gone from the directory.
    ASSERT_TRUE(shm::push_command(producer, shm::PeerRemove{other->id()}));
    EXPECT_TRUE(eventually([&] { return !in_directory(to_hex(other->id())); }));
}

TEST(DaemonShm, CircuitPolicyShowsInStatsAndABadOneIsRefusedWithAnErrorEvent) {
    NodeDirs dirs;
    auto c = dirs.write(0, {}, 1, {{"parts_per_relay_max", 2}, {"n", 5}, {"k", 3}});
    ASSERT_TRUE(c);
    Running run(make_daemon(*c));
    auto ctl = open_control(dirs.data());
    auto producer = ctl->command_producer(0);
    auto events = ctl->event_consumer(0);
    json s = stats_of(dirs.data());
    EXPECT_EQ(s["policy"]["n"], 5);
    EXPECT_EQ(s["policy"]["parts_per_relay_max"], 2);

    ASSERT_TRUE(shm::push_command(producer, shm::CircuitPolicy{2, 6, 4, 120}));
    ASSERT_TRUE(eventually([&] { return stats_of(dirs.data())["policy"]["n"] == 6; }));
    s = stats_of(dirs.data());
    EXPECT_EQ(s["policy"]["hops"], 2);
    EXPECT_EQ(s["policy"]["k"], 4);
    EXPECT_EQ(s["policy"]["rotation_s"], 120);

    // Decodable but against this node's rules (k must exceed parts_per_relay_max 2): refused, policy unchanged.
    ASSERT_TRUE(shm::push_command(producer, shm::CircuitPolicy{3, 4, 2, 60}));
    std::vector<SeenEvent> seen;
    EXPECT_TRUE(eventually([&] { return has_error_event(events, &seen, "circuit policy refused"); }));
    // Not even decodable (k > n): refused as a malformed command.
    ASSERT_TRUE(shm::push_command(producer, shm::CircuitPolicy{3, 2, 4, 60}));
    EXPECT_TRUE(eventually([&] { return has_error_event(events, &seen, "bad_value"); }));
    s = stats_of(dirs.data());
    EXPECT_EQ(s["policy"]["n"], 6);
    EXPECT_EQ(s["policy"]["hops"], 2);
    EXPECT_GE(s["shm"]["command_errors"].get<uint64_t>(), 2u);
}

TEST(DaemonShm, SetLogLevelChangesTheProcessLogLevel) {
    NodeDirs dirs;
    auto c = dirs.write(0);
    ASSERT_TRUE(c);
    Running run(make_daemon(*c));
    auto ctl = open_control(dirs.data());
    auto producer = ctl->command_producer(0);
    set_log_level(LogLevel::kInfo);
    auto debug_visible = [] {
        testing::internal::CaptureStderr();
        log(LogLevel::kDebug, "probe-debug-line");
        return testing::internal::GetCapturedStderr().find("probe-debug-line") != std::string::npos;
    };
    EXPECT_FALSE(debug_visible());
    ASSERT_TRUE(shm::push_command(producer, shm::SetLogLevel{0}));
    EXPECT_TRUE(eventually(debug_visible));
    ASSERT_TRUE(shm::push_command(producer, shm::SetLogLevel{1}));
    EXPECT_TRUE(eventually([&] { return !debug_visible(); }));
}

TEST(DaemonShm, DrainRefusesNewSendsWithDraining) {
    NodeDirs dirs;
    auto c = dirs.write(0);
    ASSERT_TRUE(c);
    Running run(make_daemon(*c));
    auto ctl = open_control(dirs.data());
    auto producer = ctl->command_producer(0);
    EXPECT_EQ(stats_of(dirs.data())["draining"], false);
    ASSERT_TRUE(shm::push_command(producer, shm::Drain{60000}));
    ASSERT_TRUE(eventually([&] { return stats_of(dirs.data())["draining"] == true; }));
    std::string error;
    auto client = local::Client::connect(dirs.data() / "run" / "voxa.sock", &error);
    ASSERT_TRUE(client) << error;
    NodeId dest{};
    dest[0] = 1;
    const uint8_t msg[4] = {1, 2, 3, 4};
    EXPECT_FALSE(client->send(dest, msg, false, &error));
    EXPECT_NE(error.find("draining"), std::string::npos) << error;
    EXPECT_FALSE(run.done());   // drained, still up
}

// Names pushed by the control side (NameSet / NameRemove) are answered over a real local socket (RESOLVE), until
// they expire or are removed; a bad name is 400, an unknown one 404.
TEST(DaemonShm, NamesAreResolvedOverTheLocalSocketUntilExpiryOrRemoval) {
    NodeDirs dirs;
    auto c = dirs.write(0);
    ASSERT_TRUE(c);
    Running run(make_daemon(*c));
    auto ctl = open_control(dirs.data());
    auto producer = ctl->command_producer(0);
    std::string error;
    auto client = local::Client::connect(dirs.data() / "run" / "voxa.sock", &error);
    ASSERT_TRUE(client) << error;

    EXPECT_FALSE(client->resolve("alice.voxa", &error));
    EXPECT_NE(error.find("404 unknown name"), std::string::npos) << error;
    EXPECT_FALSE(client->resolve("Not_A_Name", &error));   // refused by the client before sending
    EXPECT_NE(error.find("bad name"), std::string::npos) << error;
    // The daemon refuses a bad name by itself too (a client that skips the check): 400.
    const auto bad = local::encode_frame(local::FrameType::kResolve, 7, {local::as_bytes("UPPER")});
    {
        auto raw = local::Client::connect(dirs.data() / "run" / "voxa.sock", &error);
        ASSERT_TRUE(raw) << error;
        ASSERT_EQ(::write(raw->fd(), bad.data(), bad.size()), ssize_t(bad.size()));
        uint8_t buf[256];
        std::size_t got = 0;
        ASSERT_TRUE(eventually([&] {
            const ssize_t n = ::recv(raw->fd(), buf + got, sizeof buf - got, MSG_DONTWAIT);
            if (n > 0) got += std::size_t(n);
            return got >= local::kFrameHeaderBytes + local::kErrorHeadBytes;
        }));
        EXPECT_EQ(buf[4], uint8_t(local::FrameType::kError));
        auto const e = local::parse_error(std::span<const uint8_t>(buf + local::kFrameHeaderBytes,
                                                                   got - local::kFrameHeaderBytes));
        ASSERT_TRUE(e);
        EXPECT_EQ(e->code, 400);
    }

    NodeId alice{}, bob{};
    alice.fill(0xa1);
    bob.fill(0xb0);
    const uint64_t now = uint64_t(::time(nullptr));
    ASSERT_TRUE(shm::push_command(producer, shm::NameSet{alice, now + 3600, "alice.voxa"}));
    ASSERT_TRUE(shm::push_command(producer, shm::NameSet{bob, now + 5, "bob"}));
    ASSERT_TRUE(eventually([&] { return client->resolve("alice.voxa", &error).has_value(); }));
    auto r = client->resolve("alice.voxa", &error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->node, alice);
    EXPECT_EQ(r->expires_s, now + 3600);
    auto b = client->resolve("bob", &error);   // both commands were applied in order: bob is there, unexpired
    ASSERT_TRUE(b) << error;
    EXPECT_EQ(b->node, bob);
    EXPECT_TRUE(eventually([&] { return stats_of(dirs.data())["names"]["entries"] == 2; }));

    // A set replaces: alice now points at bob's node.
    ASSERT_TRUE(shm::push_command(producer, shm::NameSet{bob, now + 7200, "alice.voxa"}));
    ASSERT_TRUE(eventually([&] {
        auto x = client->resolve("alice.voxa", &error);
        return x && x->node == bob && x->expires_s == now + 7200;
    }));
    // Expiry: "bob" (answered above) is not any more (404), then swept from the table.
    ASSERT_TRUE(eventually([&] { return !client->resolve("bob", &error).has_value(); }, 10s));
    EXPECT_NE(error.find("404"), std::string::npos) << error;
    ASSERT_TRUE(eventually([&] { return stats_of(dirs.data())["names"]["entries"] == 1; }, 5s));
    // Remove.
    ASSERT_TRUE(shm::push_command(producer, shm::NameRemove{"alice.voxa"}));
    ASSERT_TRUE(eventually([&] { return !client->resolve("alice.voxa", &error).has_value(); }));
    EXPECT_NE(error.find("404 unknown name"), std::string::npos) << error;
    const json s = stats_of(dirs.data());
    EXPECT_EQ(s["names"]["entries"], 0);
    EXPECT_EQ(s["names"]["refused"], 0);
    EXPECT_EQ(s["shm"]["command_errors"], 0);
}

TEST(DaemonShm, ShutdownMakesRunReturn) {
    NodeDirs dirs;
    auto c = dirs.write(0);
    ASSERT_TRUE(c);
    Running run(make_daemon(*c));
    auto ctl = open_control(dirs.data());
    auto producer = ctl->command_producer(0);
    std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(run.done());
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(shm::push_command(producer, shm::Shutdown{10000}));
    // Nothing is in flight: it ends well before the 10 s deadline.
    EXPECT_TRUE(eventually([&] { return run.done(); }, 5s));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    EXPECT_EQ(run.rc(), 0);
}

TEST(DaemonShm, GarbageCommandSlotIsSkippedCountedAndLaterCommandsStillApply) {
    NodeDirs dirs;
    auto c = dirs.write(0);
    ASSERT_TRUE(c);
    Running run(make_daemon(*c));
    auto ctl = open_control(dirs.data());
    auto producer = ctl->command_producer(0);
    auto events = ctl->event_consumer(0);
    // An unknown type, then a known type with a body of the wrong length.
    const uint8_t junk[5] = {9, 9, 9, 9, 9};
    ASSERT_TRUE(producer.try_push(0x0777, junk));
    ASSERT_TRUE(producer.try_push(uint16_t(shm::MsgType::kDrain), junk));
    ASSERT_TRUE(shm::push_command(producer, shm::Drain{1000}));
    ASSERT_TRUE(eventually([&] { return stats_of(dirs.data())["draining"] == true; }));
    json s = stats_of(dirs.data());
    EXPECT_EQ(s["shm"]["command_errors"], 2);
    EXPECT_EQ(s["shm"]["commands"], 1);
    std::vector<SeenEvent> seen;
    EXPECT_TRUE(eventually([&] { return has_error_event(events, &seen, "unknown_type"); }));
    EXPECT_TRUE(has_error_event(events, &seen, "bad_length"));
}

TEST(DaemonShm, TwoDaemonsThatBootstrapToEachOtherReportSessionUp) {
    NodeDirs a_dirs, b_dirs;
    const uint16_t a_port = free_udp_port(), b_port = free_udp_port();
    Peer a = a_dirs.self(), b = b_dirs.self();
    a.port = a_port;
    b.port = b_port;
    auto ac = a_dirs.write(a_port, {b});
    auto bc = b_dirs.write(b_port, {a});
    ASSERT_TRUE(ac && bc);
    Running ra(make_daemon(*ac));
    Running rb(make_daemon(*bc));
    auto a_ctl = open_control(a_dirs.data());
    auto b_ctl = open_control(b_dirs.data());
    auto a_events = a_ctl->event_consumer(0);
    auto b_events = b_ctl->event_consumer(0);
    auto session_up_with = [](shm::RingConsumer& ring, std::vector<SeenEvent>* seen, const std::string& peer) {
        read_events(ring, seen);
        for (const auto& e : *seen) {
            const auto* up = std::get_if<shm::SessionUp>(&e.event);
            if (up != nullptr && to_hex(up->peer) == peer) return true;
        }
        return false;
    };
    std::vector<SeenEvent> a_seen, b_seen;
    EXPECT_TRUE(eventually([&] { return session_up_with(a_events, &a_seen, b.id); }, 10s));
    EXPECT_TRUE(eventually([&] { return session_up_with(b_events, &b_seen, a.id); }, 10s));
    a_ctl->heartbeat(shm::monotonic_ns());
    json s = stats_of(a_dirs.data());
    ASSERT_FALSE(s["sessions"].empty());
    EXPECT_EQ(s["sessions"][0]["node_id"], b.id);
    EXPECT_EQ(s["identity"]["node_id"], a.id);
    EXPECT_EQ(s["control"]["attached"], true);
    EXPECT_EQ(s["control"]["alive"], true);
    EXPECT_EQ(s["control"]["pid"], ::getpid());
}

// p2p "discovery": "registry": a sends no DIRECTORY gossip, and the gossip b sends it is ignored and counted
// (directory drop "gossip_off"): a's entry for b stays the unsigned bootstrap one, b never learns a's descriptor.
TEST(DaemonShm, RegistryDiscoverySendsNoGossipAndIgnoresReceivedGossip) {
    NodeDirs a_dirs, b_dirs;
    const uint16_t a_port = free_udp_port(), b_port = free_udp_port();
    Peer a = a_dirs.self(), b = b_dirs.self();
    a.port = a_port;
    b.port = b_port;
    auto ac = a_dirs.write(a_port, {b}, 1, {{"discovery", "registry"}});
    auto bc = b_dirs.write(b_port, {a});
    ASSERT_TRUE(ac && bc);
    Running ra(make_daemon(*ac));
    Running rb(make_daemon(*bc));
    auto entry = [](const json& s, const std::string& id) {
        for (const auto& e : s["directory"]["entries"]["entries"])
            if (e["id"] == id) return e;
        return json();
    };
    // b (gossip on) sends its bodies every second once the session is up; a counts each as gossip_off.
    EXPECT_TRUE(eventually([&] {
        json const s = stats_of(a_dirs.data());
        return s.is_object() && s["directory"]["entries"]["drops"]["gossip_off"].get<uint64_t>() >= 2;
    }, 10s));
    json const sa = stats_of(a_dirs.data()), sb = stats_of(b_dirs.data());
    EXPECT_EQ(sa["directory"]["discovery"], "registry");
    EXPECT_EQ(sb["directory"]["discovery"], "gossip");
    EXPECT_EQ(sb["directory"]["entries"]["drops"]["gossip_off"], 0);
    EXPECT_EQ(sa["node"]["gossip_sent"], 0);
    EXPECT_GT(sb["node"]["gossip_sent"].get<uint64_t>(), 0u);
    EXPECT_EQ(entry(sa, b.id)["signed"], false);   // only the bootstrap entry: b's gossip was not merged
    EXPECT_EQ(entry(sb, a.id)["signed"], false);   // a never sent its descriptor
}

TEST(DaemonShm, OriginCircuitsProduceCircuitUpAndShowInStats) {
    // Three nodes that all know one another: A sends to B over one circuit through C (hops 1, n = k = 1).
    NodeDirs a_dirs, b_dirs, c_dirs;
    Peer a = a_dirs.self(), b = b_dirs.self(), c = c_dirs.self();
    a.port = free_udp_port();
    b.port = free_udp_port();
    c.port = free_udp_port();
    auto ac = a_dirs.write(a.port, {b, c});
    auto bc = b_dirs.write(b.port, {a, c});
    auto cc = c_dirs.write(c.port, {a, b});
    ASSERT_TRUE(ac && bc && cc);
    Running ra(make_daemon(*ac)), rb(make_daemon(*bc)), rc(make_daemon(*cc));
    auto a_ctl = open_control(a_dirs.data());
    auto a_events = a_ctl->event_consumer(0);
    std::string error;
    auto client = local::Client::connect(a_dirs.data() / "run" / "voxa.sock", &error);
    ASSERT_TRUE(client) << error;
    const NodeId dest = b.raw;
    const std::vector<uint8_t> msg(3000, 7);
    ASSERT_TRUE(client->send(dest, msg, false, &error)) << error;
    std::vector<SeenEvent> seen;
    uint64_t circuit = 0;
    EXPECT_TRUE(eventually(
        [&] {
            read_events(a_events, &seen);
            for (const auto& e : seen) {
                if (const auto* up = std::get_if<shm::CircuitUp>(&e.event)) {
                    circuit = up->circuit;
                    EXPECT_EQ(up->hops, 1);
                    return true;
                }
            }
            return false;
        },
        10s));
    EXPECT_TRUE(eventually([&] {
        json s = stats_of(a_dirs.data());
        for (const auto& ci : s["circuits"]) {
            if (ci["id"] == circuit && ci["state"] == "ready") {
                EXPECT_EQ(ci["destination"], b.id);
                EXPECT_EQ(ci["path"], json::array({c.id, b.id}));
                return ci["cells_sent"].get<uint64_t>() > 0;
            }
        }
        return false;
    }));
}

TEST(DaemonShm, GeometryMismatchRecreatesUnlessALiveControlPlaneIsAttached) {
    NodeDirs dirs;
    auto c = dirs.write(0);
    ASSERT_TRUE(c);
    fs::create_directories(dirs.data() / "run");
    {
        auto ctl = open_control(dirs.data(), 2);   // a live control plane that thinks there are 2 workers
        ASSERT_TRUE(ctl);
        ctl->heartbeat(shm::monotonic_ns());
        std::string error;
        EXPECT_FALSE(Daemon::create(*c, &error));
        EXPECT_NE(error.find("voxa-control"), std::string::npos) << error;
        EXPECT_NE(error.find("2 workers"), std::string::npos) << error;
    }
    // The control plane detached: the stale segment is replaced by one with this configuration's geometry.
    auto d = make_daemon(*c);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->segment().header().worker_count, 1u);
    EXPECT_TRUE(d->segment().created());
}

}  // namespace
}  // namespace voxa::daemon
