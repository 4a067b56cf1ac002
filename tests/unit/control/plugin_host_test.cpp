// The plugin host with the test plugins of tests/plugins: every broken plugin is refused with its exact reason and
// the host keeps working; the echo plugin exercises services, pub/sub, timers, the store and logging.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "control_test_util.h"
#include "plugin_host.h"
#include "store.h"

namespace voxa::cp {
namespace {

using nlohmann::json;
using test::TempDir;

std::filesystem::path plugin_dir() { return test::env_or_empty("VOXA_TEST_PLUGIN_DIR"); }

uint64_t steady_now() {
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count());
}

class PluginHostTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (plugin_dir().empty()) GTEST_SKIP() << "VOXA_TEST_PLUGIN_DIR is not set (run through meson test)";
        std::string error;
        store_ = Store::open(dir_.path() / "voxa.db", &error);
        ASSERT_TRUE(store_) << error;
        host_ = make_host();
    }
    std::unique_ptr<PluginHost> make_host(std::size_t queue_max = kEventQueueMax) {
        PluginHost::Options o;
        o.search_dirs = {dir_.path() / "empty", plugin_dir()};
        o.store = store_.get();
        o.event_queue_max = queue_max;
        return std::make_unique<PluginHost>(std::move(o));
    }
    std::string config_for(const std::string& name) const {
        return json{{"name", name}, {"config_dir", "config"}, {"data_dir", dir_.path().string()},
                    {"settings", json::object()}, {"plugin", {{"greeting", "hi"}}}}
            .dump();
    }
    json call(const std::string& service, const std::string& method, const json& in, int* rc) {
        std::string out;
        *rc = host_->call(service, method, in.dump(), &out);
        return out.empty() ? json() : json::parse(out);
    }

    TempDir dir_;
    std::unique_ptr<Store> store_;
    std::unique_ptr<PluginHost> host_;
};

TEST(PluginSearch, OrderIsEnvThenPluginDirThenBuildTreeThenInstallTree) {
    auto const dirs = PluginHost::search_dirs("/a::/b", "/extra", "/x/build/controlplane/control");
    ASSERT_EQ(dirs.size(), 5u);
    EXPECT_EQ(dirs[0], "/a");
    EXPECT_EQ(dirs[1], "/b");
    EXPECT_EQ(dirs[2], "/extra");
    EXPECT_EQ(dirs[3], "/x/build/plugins/{name}");
    EXPECT_EQ(dirs[4], "/x/build/controlplane/lib/voxa/plugins");
    EXPECT_TRUE(valid_name("api"));
    EXPECT_TRUE(valid_name("dns_store2"));
    EXPECT_FALSE(valid_name(""));
    EXPECT_FALSE(valid_name("Api"));
    EXPECT_FALSE(valid_name("a-b"));
    EXPECT_FALSE(valid_name("../x"));
    EXPECT_FALSE(valid_name(std::string(33, 'a')));
}

TEST_F(PluginHostTest, MissingFileListsEveryFolderSearched) {
    std::string const why = host_->load("nope", config_for("nope"));
    EXPECT_NE(why.find("plugin \"nope\": voxa_nope.so not found; searched: "), std::string::npos) << why;
    EXPECT_NE(why.find((dir_.path() / "empty").string()), std::string::npos) << why;
    EXPECT_NE(why.find(plugin_dir().string()), std::string::npos) << why;
    EXPECT_TRUE(host_->plugins().empty());
}

TEST_F(PluginHostTest, BrokenPluginsAreRefusedWithTheirReasonAndTheHostKeepsWorking) {
    struct Case {
        const char* name;
        const char* reason;
    };
    for (const Case& c : {
             Case{"broken_nosym", "no symbol voxa_plugin_entry"},
             Case{"broken_abi", "built for plugin ABI 99.0, this voxa-control has ABI 1.0"},
             Case{"broken_create", "create() failed: -22 (Invalid argument)"},
             Case{"broken_name", "the descriptor is named \"someone_else\", but the file voxa_broken_name.so must "
                                 "hold plugin \"broken_name\""},
         }) {
        std::string const why = host_->load(c.name, config_for(c.name));
        std::string const file = (plugin_dir() / (std::string("voxa_") + c.name + ".so")).string();
        EXPECT_EQ(why.find(std::string("plugin \"") + c.name + "\" (" + file + "): "), 0u) << why;
        EXPECT_NE(why.find(c.reason), std::string::npos) << c.name << ": " << why;
        EXPECT_TRUE(host_->plugins().empty()) << c.name;
    }
    // Still a working host.
    ASSERT_EQ(host_->load("echo", config_for("echo")), "");
    ASSERT_EQ(host_->start_all(), "");
    int rc = 0;
    EXPECT_EQ(call("echo", "echo", {{"x", 1}}, &rc), json({{"x", 1}}));
    EXPECT_EQ(rc, 0);
}

TEST_F(PluginHostTest, AThrowingServiceReturnsEioAndTheHostStaysUp) {
    ASSERT_EQ(host_->load("broken_throw", config_for("broken_throw")), "");
    ASSERT_EQ(host_->start_all(), "");
    int rc = 0;
    json const err = call("thrower", "boom", json::object(), &rc);
    EXPECT_EQ(rc, -EIO);
    EXPECT_EQ(err["error"]["message"], "thrower: boom always throws");
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(call("thrower", "ok", json::object(), &rc), json({{"ok", true}}));
        EXPECT_EQ(rc, 0);
    }
}

TEST_F(PluginHostTest, EchoRoundTripStorePubSubTimersAndHostCalls) {
    std::vector<std::pair<std::string, std::string>> seen;
    host_->subscribe_host("echo.", [&](std::string_view topic, std::string_view text) {
        seen.emplace_back(std::string(topic), std::string(text));
    });
    ASSERT_EQ(host_->register_host_service("node", [](std::string_view method, std::string_view, std::string* out) {
        *out = json{{"method", method}}.dump();
        return method == "health" ? 0 : -ENOENT;
    }), 0);
    EXPECT_EQ(host_->register_host_service("node", [](std::string_view, std::string_view, std::string*) { return 0; }),
              -EEXIST);
    ASSERT_EQ(host_->load("echo", config_for("echo")), "");
    ASSERT_EQ(host_->plugins().size(), 1u);
    EXPECT_EQ(host_->plugins()[0].version, "1.2.3");
    EXPECT_FALSE(host_->plugins()[0].started);
    ASSERT_EQ(host_->start_all(), "");
    EXPECT_TRUE(host_->plugins()[0].started);
    int rc = 0;

    // create() got the configuration the host passed.
    EXPECT_EQ(call("echo", "config", json::object(), &rc)["plugin"]["greeting"], "hi");

    // Store: through the host into the plugin's own table.
    EXPECT_EQ(call("echo", "put", {{"key", "a/1"}, {"value", {{"v", 1}}}}, &rc)["rc"], 0);
    EXPECT_EQ(call("echo", "put", {{"key", "a/2"}, {"value", 2}}, &rc)["rc"], 0);
    EXPECT_EQ(call("echo", "get", {{"key", "a/1"}}, &rc)["value"], json({{"v", 1}}));
    EXPECT_EQ(call("echo", "get", {{"key", "zz"}}, &rc)["rc"], -ENOENT);
    json const list = call("echo", "list", {{"prefix", "a/"}}, &rc);
    EXPECT_EQ(list["items"], json::parse(R"([{"key":"a/1","value":{"v":1}},{"key":"a/2","value":2}])"));
    EXPECT_EQ(call("echo", "del", {{"key", "a/2"}}, &rc)["rc"], 0);
    std::string v;
    EXPECT_EQ(store_->get("echo", "a/1", &v), 0);      // namespaced by the plugin's name
    EXPECT_EQ(store_->get("other", "a/1", &v), -ENOENT);
    EXPECT_EQ(store_->get("echo", "starts", &v), 0);
    EXPECT_EQ(v, "1");

    // Pub/sub both ways: the host's event reaches the plugin; the plugin's reaches a host subscriber.
    EXPECT_EQ(host_->publish("test.ping", R"({"n":7})"), 0);
    EXPECT_EQ(host_->publish("unrelated.topic", R"({})"), 0);
    EXPECT_EQ(call("echo", "publish", {{"topic", "echo.pong"}, {"json", {{"m", 8}}}}, &rc)["rc"], 0);
    EXPECT_EQ(host_->publish("test.bad", "{not json"), -EINVAL);
    host_->deliver_events();
    json const events = call("echo", "events", json::object(), &rc)["events"];
    ASSERT_EQ(events.size(), 2u) << events;
    EXPECT_EQ(events[0]["topic"], "test.started");   // published by start()
    EXPECT_EQ(events[1]["topic"], "test.ping");
    EXPECT_EQ(events[1]["json"]["n"], 7);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].first, "echo.pong");
    EXPECT_EQ(json::parse(seen[0].second)["m"], 8);

    // Timers: 20 ms interval (armed in create(), before t0), driven by run_timers' clock.
    uint64_t const t0 = steady_now();
    EXPECT_EQ(host_->run_timers(t0 + 30'000'000), 1u);
    EXPECT_EQ(host_->run_timers(t0 + 35'000'000), 0u);   // re-armed from the last run
    EXPECT_EQ(host_->run_timers(t0 + 60'000'000), 1u);
    EXPECT_EQ(call("echo", "ticks", json::object(), &rc)["ticks"], 2);

    // The plugin calls a host service; unknown services are -ENOENT; data-plane commands without a data plane.
    json const r = call("echo", "call", {{"service", "node"}, {"method", "health"}}, &rc);
    EXPECT_EQ(r["rc"], 0);
    EXPECT_EQ(r["result"]["method"], "health");
    EXPECT_EQ(call("echo", "call", {{"service", "nobody"}, {"method", "x"}}, &rc)["rc"], -ENOENT);
    EXPECT_EQ(call("echo", "command", {{"command", {{"type", "drain"}, {"deadline_ms", 5}}}}, &rc)["rc"], -EAGAIN);
    EXPECT_EQ(call("echo", "nosuch", json::object(), &rc)["error"]["code"], "not_found");
    EXPECT_EQ(rc, -ENOENT);

    // After stop: its services are gone, no timers run, no events arrive.
    host_->stop_all();
    EXPECT_EQ(call("echo", "echo", json::object(), &rc), json());
    EXPECT_EQ(rc, -ENOENT);
    EXPECT_FALSE(host_->has_service("echo"));
    EXPECT_EQ(host_->run_timers(t0 + 10'000'000'000), 0u);
    EXPECT_TRUE(host_->plugins().empty());

    // The store outlives the host: a second run sees the first run's keys.
    host_ = make_host();
    ASSERT_EQ(host_->load("echo", config_for("echo")), "");
    ASSERT_EQ(host_->start_all(), "");
    EXPECT_EQ(call("echo", "get", {{"key", "a/1"}}, &rc)["value"], json({{"v", 1}}));
    EXPECT_EQ(store_->get("echo", "starts", &v), 0);
    EXPECT_EQ(v, "2");
}

TEST_F(PluginHostTest, ReloadPassesTheNewConfiguration) {
    ASSERT_EQ(host_->load("echo", config_for("echo")), "");
    ASSERT_EQ(host_->start_all(), "");
    std::string const errors = host_->reload_all([](std::string_view name) {
        return json{{"name", name}, {"plugin", {{"greeting", "bye"}}}}.dump();
    });
    EXPECT_EQ(errors, "");
    int rc = 0;
    EXPECT_EQ(call("echo", "config", json::object(), &rc)["plugin"]["greeting"], "bye");
}

TEST_F(PluginHostTest, EventQueueIsBoundedAndCountsDrops) {
    host_ = make_host(4);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(host_->publish("t", "{}"), 0);
    EXPECT_EQ(host_->publish("t", "{}"), -EAGAIN);
    EXPECT_EQ(host_->events_dropped(), 1u);
    EXPECT_EQ(host_->deliver_events(), 4u);
    EXPECT_EQ(host_->publish("t", "{}"), 0);
}

TEST_F(PluginHostTest, RunOnMainRunsOnTheMainThreadAndFailsWhenStopping) {
    std::thread::id ran_on;
    int result = 1;
    std::thread other([&] { result = host_->run_on_main([&] { ran_on = std::this_thread::get_id(); }); });
    auto const until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (ran_on == std::thread::id() && std::chrono::steady_clock::now() < until) {
        host_->run_tasks();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    other.join();
    EXPECT_EQ(result, 0);
    EXPECT_EQ(ran_on, std::this_thread::get_id());
    host_->stop_all();
    std::thread late([&] { result = host_->run_on_main([] {}); });
    late.join();
    EXPECT_EQ(result, -EAGAIN);
}

}  // namespace
}  // namespace voxa::cp
