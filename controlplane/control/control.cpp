#include "control.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "config/config.h"
#include "crypto/identity.h"
#include "crypto/provider.h"
#include "dataplane_link.h"
#include "node_service.h"
#include "plugin_host.h"
#include "shm/node_segment.h"
#include "store.h"

namespace voxa::cp {

using nlohmann::json;

namespace {

constexpr int kLoopPollMs = 10;   // the loop's tick: event latency and timer resolution

int fail(const std::string& message) {
    voxa::log(LogLevel::kError, "voxa-control cannot start", {{"error", message}});
    return 1;
}

// Creates dir with mode 0700 when missing (state and keys live below it); an existing folder is left as it is.
bool make_private_dir(const std::filesystem::path& dir, std::string* error) {
    if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) {
        std::error_code ec;
        if (std::filesystem::is_directory(dir, ec)) return true;
        *error = dir.string() + ": exists but is not a folder";
        return false;
    }
    *error = dir.string() + ": cannot create the folder: " + std::strerror(errno);
    return false;
}

// Ends the process when stopping the plugins overruns the drain deadline: a plugin that ignores its deadline
// must not keep the node from restarting.
class StopWatchdog {
public:
    explicit StopWatchdog(uint32_t deadline_s)
        : thread_([this, deadline_s] {
              std::unique_lock lock(mutex_);
              if (!cv_.wait_for(lock, std::chrono::seconds(deadline_s), [this] { return done_; })) {
                  voxa::log(LogLevel::kError, "plugins did not stop within the drain deadline; exiting",
                            {{"drain_deadline_s", deadline_s}});
                  std::_Exit(1);
              }
          }) {}
    ~StopWatchdog() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    StopWatchdog(const StopWatchdog&) = delete;
    StopWatchdog& operator=(const StopWatchdog&) = delete;

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread thread_;
};

}  // namespace

int run_control(const ControlOptions& options) {
    uint64_t const started_ns = shm::monotonic_ns();
    if (!crypto::init()) return fail("libsodium cannot start");

    std::string error;
    std::optional<config::Config> loaded = config::load_from_environment(options.config_dir, options.data_dir, &error);
    if (!loaded) return fail(error);
    config::Config config = std::move(*loaded);
    for (const std::string& w : config.warnings) voxa::log(LogLevel::kWarn, "configuration", {{"warning", w}});
    if (options.check_config) {
        std::printf("%s\n", config::to_json(config).dump(2).c_str());
        return 0;
    }
    LogLevel level{};
    if (parse_log_level(config.settings.log_level, &level)) set_log_level(level);

    // Signals: blocked here, before any thread exists, so every thread (plugins' included) inherits the mask and
    // only the main loop sees them, through a signalfd.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);   // a plugin's socket peer going away must not end the process
    int const sfd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) return fail(std::string("signalfd: ") + std::strerror(errno));
    struct FdCloser {
        int fd;
        ~FdCloser() { ::close(fd); }
    } const sfd_closer{sfd};

    const std::filesystem::path& data = config.data_dir;
    for (const auto& dir : {data, data / "run", data / "local"})
        if (!make_private_dir(dir, &error)) return fail(error);

    std::unique_ptr<Store> store = Store::open(data / "voxa.db", &error);
    if (!store) return fail(error);

    // The same identity files as the data plane: whichever process starts first creates them.
    std::optional<crypto::Identity> identity = crypto::Identity::load_or_create(data / "local", &error);
    if (!identity) return fail(error);
    std::string const node_id = to_hex(identity->id());
    std::string const public_key = to_hex(identity->peer().ed25519);

    auto const workers = uint32_t(config.dataplane.cores.size());
    std::unique_ptr<DataplaneLink> link =
        DataplaneLink::open(shm::segment_path(data).string(), shm::segment_config_for(workers), &error);
    if (!link) return fail(error);

    PluginHost::Options host_options;
    const char* plugin_path = std::getenv("VOXA_PLUGIN_PATH");
    host_options.search_dirs =
        PluginHost::search_dirs(plugin_path != nullptr ? plugin_path : "", options.plugin_dir, options.exe_dir);
    host_options.store = store.get();
    host_options.dataplane_command = [&link](std::string_view command, std::string* why) {
        return link->command(command, why);
    };
    PluginHost host(std::move(host_options));

    NodeContext context;
    context.host = &host;
    context.link = link.get();
    context.store = store.get();
    context.node_id_hex = node_id;
    context.public_key_hex = public_key;
    context.socket_path = data / "run" / "voxa.sock";
    context.started_ns = started_ns;
    context.env = config::process_environment();
    NodeService node(context, config);
    host.register_host_service("node", [&node](std::string_view method, std::string_view in, std::string* out) {
        return node.handle(method, in, out);
    });

    voxa::log(LogLevel::kInfo, "voxa-control starting",
              {{"node_id", node_id},
               {"pid", getpid()},
               {"epoch", link->segment().epoch()},
               {"segment", link->segment().path()},
               {"segment_created", link->segment().created()},
               {"plugins", config.settings.plugins}});
    store->record_action("start", {{"pid", getpid()}, {"epoch", link->segment().epoch()}});

    for (const std::string& name : config.settings.plugins) {
        std::string const why = host.load(name, plugin_config_json(config, name));
        if (!why.empty()) {
            host.stop_all();
            return fail(why);
        }
    }
    if (std::string const why = host.start_all(); !why.empty()) {
        host.stop_all();
        return fail(why);
    }
    node.set_plugins_started(true);
    voxa::log(LogLevel::kInfo, "voxa-control running", {{"plugins", config.settings.plugins}});

    uint64_t last_heartbeat_ns = 0;
    bool stop = false;
    int stop_signal = 0;
    while (!stop) {
        pollfd p{sfd, POLLIN, 0};
        ::poll(&p, 1, kLoopPollMs);
        signalfd_siginfo info{};
        while (::read(sfd, &info, sizeof(info)) == ssize_t(sizeof(info))) {
            if (info.ssi_signo == SIGHUP) {
                voxa::log(LogLevel::kInfo, "SIGHUP: reloading the configuration");
                std::string out;
                int const rc = node.handle("reload", "{}", &out);
                if (rc != 0) voxa::log(LogLevel::kError, "reload failed", {{"result", json::parse(out, nullptr, false)}});
            } else {
                stop = true;
                stop_signal = int(info.ssi_signo);
            }
        }
        uint64_t const now = shm::monotonic_ns();
        if (now - last_heartbeat_ns >= kHeartbeatIntervalNs) {
            link->heartbeat(now);
            last_heartbeat_ns = now;
        }
        link->poll_events([&host](std::string_view topic, const json& j) { host.publish(topic, j.dump()); });
        for (const DataplaneLink::Transition& t : link->watch(now)) {
            json const detail = {{"epoch", t.epoch}, {"pid", t.pid}};
            voxa::log(t.up ? LogLevel::kInfo : LogLevel::kWarn, t.up ? "data plane up" : "data plane down", detail);
            host.publish(t.up ? "dataplane.up" : "dataplane.down", detail.dump());
            store->record_action(t.up ? "dataplane_up" : "dataplane_down", detail);
        }
        host.run_tasks();
        host.deliver_events();
        host.run_timers(now);
        node.tick(now);
    }

    voxa::log(LogLevel::kInfo, "voxa-control stopping",
              {{"signal", strsignal(stop_signal)}, {"drain_deadline_s", node.config().settings.drain_deadline_s}});
    node.set_draining(true);
    {
        StopWatchdog const watchdog(node.config().settings.drain_deadline_s);
        host.stop_all();
    }
    store->record_action("stop", {{"signal", stop_signal}, {"bad_slots", link->bad_slots()},
                                  {"events_dropped", host.events_dropped()}});
    link.reset();   // a clean detach: pid 0 in the header
    voxa::log(LogLevel::kInfo, "voxa-control stopped");
    return 0;
}

}  // namespace voxa::cp
