// The voxa-control process (the built binary, fork/exec): refuses to start with a broken plugin and says which;
// runs with no plugins; SIGHUP reloads; SIGTERM exits 0 within the drain deadline; after kill -9 a restart
// re-attaches to the same segment with the next epoch.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "control_test_util.h"
#include "shm/node_segment.h"
#include "store.h"

namespace voxa::cp {
namespace {

using nlohmann::json;
using test::TempDir;
using Clock = std::chrono::steady_clock;

class Process {
public:
    Process(const TempDir& dir, const std::string& log_name) : log_(dir.path() / log_name) {
        std::string const bin = test::env_or_empty("VOXA_CONTROL_BIN");
        std::string const plugins = test::env_or_empty("VOXA_TEST_PLUGIN_DIR");
        std::string const config = (dir.path() / "config").string(), data = (dir.path() / "data").string();
        pid_ = fork();
        if (pid_ == 0) {
            FILE* err = std::freopen(log_.c_str(), "w", stderr);
            if (err == nullptr) _exit(120);
            setenv("VOXA_PLUGIN_PATH", plugins.c_str(), 1);
            execl(bin.c_str(), bin.c_str(), "--config", config.c_str(), "--data", data.c_str(), nullptr);
            _exit(121);
        }
    }
    ~Process() {
        if (pid_ > 0 && !exited_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    pid_t pid() const { return pid_; }
    std::string log() const { return test::read_file(log_); }
    // Waits until the log holds `text`; false on timeout.
    bool wait_log(const std::string& text, int timeout_ms = 10'000) const {
        auto const until = Clock::now() + std::chrono::milliseconds(timeout_ms);
        while (Clock::now() < until) {
            if (log().find(text) != std::string::npos) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }
    // The exit status (or -1 on timeout).
    int wait_exit(int timeout_ms) {
        auto const until = Clock::now() + std::chrono::milliseconds(timeout_ms);
        while (Clock::now() < until) {
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                exited_ = true;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return -1;
    }
    void killed() {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        exited_ = true;
    }

private:
    std::filesystem::path log_;
    pid_t pid_ = -1;
    bool exited_ = false;
};

class ControlProcess : public ::testing::Test {
protected:
    void SetUp() override {
        if (test::env_or_empty("VOXA_CONTROL_BIN").empty() || test::env_or_empty("VOXA_TEST_PLUGIN_DIR").empty())
            GTEST_SKIP() << "VOXA_CONTROL_BIN / VOXA_TEST_PLUGIN_DIR not set (run through meson test)";
        dir_.write("config/dataplane.json", R"({"cores": [0]})");
    }
    void settings(const std::string& plugins) {
        dir_.write("config/settings.json",
                   R"({"plugins": )" + plugins + R"(, "drain-deadline-s": 3, "server-settings": {"port": 0}})");
    }
    TempDir dir_;
};

TEST_F(ControlProcess, ABrokenPluginStopsStartUpNamingIt) {
    for (const char* name : {"broken_create", "broken_abi", "broken_name", "broken_nosym", "not_there"}) {
        settings(std::string("[\"") + name + "\"]");
        Process p(dir_, std::string("broken-") + name + ".log");
        EXPECT_EQ(p.wait_exit(15'000), 1) << name;
        std::string const log = p.log();
        EXPECT_NE(log.find("voxa-control cannot start"), std::string::npos) << log;
        EXPECT_NE(log.find(std::string("plugin \\\"") + name + "\\\""), std::string::npos) << name << ": " << log;
    }
}

TEST_F(ControlProcess, RunsReloadsOnSighupAndStopsOnSigterm) {
    settings("[]");
    Process p(dir_, "run.log");
    ASSERT_TRUE(p.wait_log("voxa-control running")) << p.log();
    EXPECT_TRUE(std::filesystem::exists(dir_.path() / "data" / "voxa.db"));
    EXPECT_TRUE(std::filesystem::exists(shm::segment_path(dir_.path() / "data")));
    EXPECT_TRUE(std::filesystem::exists(dir_.path() / "data" / "local" / "node.key"));

    settings(R"([], "log-level": "warn")");   // a change the reload applies
    kill(p.pid(), SIGHUP);
    ASSERT_TRUE(p.wait_log("configuration reloaded")) << p.log();
    EXPECT_NE(p.log().find("settings.log-level"), std::string::npos) << p.log();

    // An invalid file: the reload is refused with the file and key, and the process keeps running.
    dir_.write("config/p2p.json", R"({"hops": 42})");
    kill(p.pid(), SIGHUP);
    ASSERT_TRUE(p.wait_log("reload refused")) << p.log();
    EXPECT_NE(p.log().find("p2p.json: \\\"hops\\\""), std::string::npos) << p.log();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(p.wait_exit(0), -1);

    auto const t0 = Clock::now();
    kill(p.pid(), SIGTERM);
    EXPECT_EQ(p.wait_exit(5'000), 0) << p.log();
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
}

TEST_F(ControlProcess, AKilledControlPlaneReattachesWithTheNextEpoch) {
    settings(R"(["echo"])");
    {
        Process p(dir_, "first.log");
        ASSERT_TRUE(p.wait_log("voxa-control running")) << p.log();
        p.killed();
    }
    Process p(dir_, "second.log");
    ASSERT_TRUE(p.wait_log("voxa-control running")) << p.log();
    EXPECT_NE(p.log().find("\"epoch\":2"), std::string::npos) << p.log();
    EXPECT_NE(p.log().find("\"segment_created\":false"), std::string::npos) << p.log();
    kill(p.pid(), SIGTERM);
    EXPECT_EQ(p.wait_exit(5'000), 0) << p.log();

    std::string error;
    auto store = Store::open(dir_.path() / "data" / "voxa.db", &error);
    ASSERT_TRUE(store) << error;
    std::string starts;
    ASSERT_EQ(store->get("echo", "starts", &starts), 0);   // the echo plugin's own count, one per run
    EXPECT_EQ(starts, "2");
    json const actions = store->recent_actions(10);
    ASSERT_GE(actions.size(), 3u);
    EXPECT_EQ(actions[0]["action"], "stop");
    EXPECT_EQ(actions[1]["action"], "start");
    EXPECT_EQ(actions[1]["detail"]["epoch"], 2);
}

}  // namespace
}  // namespace voxa::cp
