// The plugin host of voxa-control: loads plugins (include/voxa/plugin_abi.h is the contract), gives each its own
// voxa_host table, and runs what they share: the service registry (the host's own "node" service included),
// publish/subscribe, timers, the per-plugin SQLite store, logging and data-plane commands.
//
// Loading checks everything it can before running plugin code: the file is found in the search path, dlopen'ed
// RTLD_NOW|RTLD_LOCAL, the one entry symbol resolved, and the descriptor's abi_major, abi_minor, struct_size,
// functions and name checked; only then create() runs. Every failure is one message naming the plugin, the file
// and the reason.
//
// Threads. The host's main thread (the one that constructs the host) runs the life cycle (load/create, start,
// reload, stop, destroy), delivers events (deliver_events), runs timers (run_timers) and tasks posted with
// run_on_main(). call(), publish(), store, log and dataplane_command may come from any thread. A service is never
// called after its provider's stop() has returned: unregistering waits for calls in flight.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "voxa/plugin_abi.h"

namespace voxa::cp {

class Store;

inline constexpr std::size_t kEventQueueMax = 4096;     // pending events; publish() beyond this is -EAGAIN
inline constexpr uint32_t kTimerIntervalMinMs = 10;
inline constexpr std::size_t kServiceNameBytesMax = 32;
inline constexpr int kMainTaskWaitMs = 30'000;           // run_on_main() gives up after this

// [a-z0-9_]{1,32}: names of plugins and services.
bool valid_name(std::string_view name) noexcept;

// A service implemented in C++ inside voxa-control (the "node" service). Thread-safe; returns 0 or -errno and
// sets *json_out (may stay empty: "no body").
using HostServiceFn = std::function<int(std::string_view method, std::string_view json_in, std::string* json_out)>;

// Sends one data-plane command given as JSON (plugin_abi.h); 0, -EINVAL or -EAGAIN. Any thread.
using DataplaneCommandFn = std::function<int(std::string_view command_json, std::string* error)>;

struct PluginInfo {
    std::string name, version, description;
    std::filesystem::path file;
    bool started = false;
};

class PluginHost {
public:
    struct Options {
        std::vector<std::filesystem::path> search_dirs;   // in order; see search_dirs() for voxa-control's
        Store* store = nullptr;                           // plugin KV tables; store_* return -EIO without one
        DataplaneCommandFn dataplane_command;             // -EAGAIN when unset
        std::size_t event_queue_max = kEventQueueMax;
    };

    explicit PluginHost(Options options);
    // Stops (reverse order) and destroys every plugin still loaded.
    ~PluginHost();
    PluginHost(const PluginHost&) = delete;
    PluginHost& operator=(const PluginHost&) = delete;

    // voxa-control's search path (api_contract.md): $VOXA_PLUGIN_PATH (colon-separated; `env_path`), then
    // extra_dir (--plugin-dir) if non-empty, then <exe_dir>/../../plugins/<name>/ (the meson build tree), then
    // <exe_dir>/../lib/voxa/plugins/. The per-name build-tree folder is expanded by find_plugin().
    static std::vector<std::filesystem::path> search_dirs(std::string_view env_path,
                                                          const std::filesystem::path& extra_dir,
                                                          const std::filesystem::path& exe_dir);
    // The first <dir>/voxa_<name>.so (a "{name}" path element in a dir is replaced by the name); nullopt with
    // *error listing every folder searched.
    std::optional<std::filesystem::path> find_plugin(std::string_view name, std::string* error) const;

    // Main thread. Loads plugin `name` and calls its create() with config_json (plugin_abi.h shape). "" on
    // success, else the message (the plugin is unloaded again).
    std::string load(std::string_view name, std::string_view config_json);
    // Main thread. start() of every loaded plugin not yet started, in load order; on the first failure returns
    // its message (the caller then stops everything with stop_all()).
    std::string start_all();
    // Main thread. Calls reload(config_json_for(name)) of every started plugin that has one; returns the errors
    // ("" when all succeeded). A plugin's failure keeps its old configuration.
    std::string reload_all(const std::function<std::string(std::string_view name)>& config_json_for);
    // Main thread. stop() then destroy() of every plugin, in reverse load order; then dlclose. Posted main-thread
    // tasks fail with -EAGAIN from here on. Idempotent.
    void stop_all();
    std::vector<PluginInfo> plugins() const;

    // The host's own services (e.g. "node"); -EEXIST when taken, -EINVAL for a bad name.
    int register_host_service(std::string_view name, HostServiceFn fn);

    // Any thread. Calls service.method; -ENOENT when no such service. *json_out receives the provider's JSON
    // (empty when it returned none).
    int call(std::string_view service, std::string_view method, std::string_view json_in, std::string* json_out);
    bool has_service(std::string_view service) const;

    // Any thread. Queues an event for the main thread; -EAGAIN (counted) when the queue is full, -EINVAL for an
    // empty topic or a text that is not JSON.
    int publish(std::string_view topic, std::string_view json);
    // Main thread. Subscribes a host-side callback to topics starting with prefix (for tests and the host).
    void subscribe_host(std::string_view prefix, std::function<void(std::string_view topic, std::string_view json)> fn);
    // Main thread. Delivers every queued event (at most the queue's length when called); returns how many.
    std::size_t deliver_events();
    // Main thread. Runs due timers; returns how many ran.
    std::size_t run_timers(uint64_t now_ns);
    // Main thread. Runs posted tasks; returns how many ran.
    std::size_t run_tasks();
    // Any thread. Runs fn on the main thread (inline when called there) and waits for it: 0, or -EAGAIN when the
    // host is stopping or the main thread did not run it within kMainTaskWaitMs.
    int run_on_main(const std::function<void()>& fn);
    bool on_main_thread() const noexcept { return std::this_thread::get_id() == main_thread_; }

    uint64_t events_dropped() const noexcept { return events_dropped_.load(std::memory_order_relaxed); }
    uint64_t events_delivered() const noexcept { return events_delivered_; }

    struct Plugin;   // one loaded plugin (defined in the .cpp; the C trampolines reach it through voxa_host.ctx)

private:
    struct Service;
    struct Subscription {
        std::string prefix;
        Plugin* owner = nullptr;                                    // nullptr: the host's own
        voxa_event_fn fn = nullptr;
        void* subscriber = nullptr;
        std::function<void(std::string_view, std::string_view)> host_fn;
    };
    struct Timer {
        uint64_t id = 0;
        uint64_t interval_ns = 0, due_ns = 0;
        voxa_timer_fn fn = nullptr;
        void* arg = nullptr;
        Plugin* owner = nullptr;
    };
    struct Task {
        std::function<void()> fn;
        bool done = false, cancelled = false;
    };

    int register_service(Plugin* owner, std::string_view name, std::shared_ptr<Service> service);
    void unregister_owned_by(Plugin* owner);
    void unload(Plugin* p);   // stop if started, destroy if created, dlclose; removes it from plugins_
    int subscribe(Plugin* owner, std::string_view prefix, voxa_event_fn fn, void* subscriber);
    int timer_add(Plugin* owner, uint32_t interval_ms, voxa_timer_fn fn, void* arg, uint64_t* id);
    int timer_cancel(Plugin* owner, uint64_t id);

    friend struct HostTrampolines;

    Options options_;
    std::thread::id main_thread_;

    std::vector<std::unique_ptr<Plugin>> plugins_;   // load order; main thread only

    mutable std::mutex services_mutex_;
    std::map<std::string, std::shared_ptr<Service>, std::less<>> services_;

    std::mutex events_mutex_;
    std::deque<std::pair<std::string, std::string>> events_;
    std::atomic<uint64_t> events_dropped_{0};
    uint64_t events_delivered_ = 0;
    std::vector<Subscription> subscriptions_;        // main thread only

    std::mutex timers_mutex_;
    std::vector<Timer> timers_;
    uint64_t next_timer_id_ = 1;

    std::mutex tasks_mutex_;
    std::condition_variable tasks_cv_;
    std::deque<std::shared_ptr<Task>> tasks_;
    bool stopping_ = false;
};

}  // namespace voxa::cp
