#include "plugin_host.h"

#include <dlfcn.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "store.h"

namespace voxa::cp {

using nlohmann::json;

namespace {

uint64_t steady_ns() {
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count());
}

std::string errno_text(int rc) {
    return std::to_string(rc) + " (" + std::strerror(rc < 0 ? -rc : rc) + ")";
}

// Copies text into a malloc'ed NUL-terminated buffer (what free_buffer releases); nullptr when out of memory.
char* to_buffer(std::string_view text) {
    auto* out = static_cast<char*>(std::malloc(text.size() + 1));
    if (out == nullptr) return nullptr;
    std::memcpy(out, text.data(), text.size());
    out[text.size()] = '\0';
    return out;
}

}  // namespace

bool valid_name(std::string_view name) noexcept {
    return !name.empty() && name.size() <= kServiceNameBytesMax &&
           std::all_of(name.begin(), name.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

// ---- the pieces behind the pointers ----

struct PluginHost::Plugin {
    enum class Phase : uint8_t { kLoading, kCreating, kCreated, kStarting, kStarted, kStopped };

    PluginHost* host = nullptr;
    std::string name;
    std::filesystem::path file;
    void* handle = nullptr;                 // dlopen
    const voxa_plugin* descriptor = nullptr;
    void* instance = nullptr;               // from create()
    bool created = false;
    Phase phase = Phase::kLoading;
    voxa_host table{};                      // handed to create(); its address stays fixed (Plugin is on the heap)

    bool setup_phase() const noexcept { return phase == Phase::kCreating || phase == Phase::kStarting; }
};

struct PluginHost::Service {
    Plugin* owner = nullptr;                // nullptr: a host service
    voxa_service_fn fn = nullptr;
    void* instance = nullptr;
    HostServiceFn host_fn;
    bool alive = true;                      // under services_mutex_
    std::atomic<int> in_flight{0};
};

// The C functions of voxa_host. Each catches everything: nothing unwinds into plugin code.
struct HostTrampolines {
    using Plugin = PluginHost::Plugin;
    static Plugin* of(void* ctx) { return static_cast<Plugin*>(ctx); }

    static int call(void* ctx, const char* service, const char* method, const char* json_in, char** json_out) {
        try {
            if (json_out != nullptr) *json_out = nullptr;
            if (ctx == nullptr || service == nullptr || method == nullptr) return -EINVAL;
            std::string out;
            int const rc = of(ctx)->host->call(service, method, json_in == nullptr ? "{}" : json_in, &out);
            if (json_out != nullptr && !out.empty()) {
                *json_out = to_buffer(out);
                if (*json_out == nullptr) return -ENOMEM;
            }
            return rc;
        } catch (...) {
            return -EIO;
        }
    }
    static char* alloc_buffer(void*, size_t bytes) { return static_cast<char*>(std::malloc(bytes == 0 ? 1 : bytes)); }
    static void free_buffer(void*, char* buffer) { std::free(buffer); }

    static int register_service(void* ctx, const char* service, voxa_service_fn fn, void* instance) {
        try {
            if (ctx == nullptr || service == nullptr || fn == nullptr) return -EINVAL;
            Plugin* p = of(ctx);
            if (!p->setup_phase()) return -EPERM;
            auto s = std::make_shared<PluginHost::Service>();
            s->owner = p;
            s->fn = fn;
            s->instance = instance;
            return p->host->register_service(p, service, std::move(s));
        } catch (...) {
            return -EIO;
        }
    }
    static int publish(void* ctx, const char* topic, const char* json_text) {
        try {
            if (ctx == nullptr || topic == nullptr || json_text == nullptr) return -EINVAL;
            return of(ctx)->host->publish(topic, json_text);
        } catch (...) {
            return -EIO;
        }
    }
    static int subscribe(void* ctx, const char* prefix, voxa_event_fn fn, void* subscriber) {
        try {
            if (ctx == nullptr || prefix == nullptr || fn == nullptr) return -EINVAL;
            Plugin* p = of(ctx);
            if (!p->setup_phase()) return -EPERM;
            return p->host->subscribe(p, prefix, fn, subscriber);
        } catch (...) {
            return -EIO;
        }
    }
    static Store* store_of(void* ctx) { return ctx == nullptr ? nullptr : of(ctx)->host->options_.store; }
    static int store_put(void* ctx, const char* key, const char* value_json) {
        try {
            Store* s = store_of(ctx);
            if (s == nullptr) return -EIO;
            if (key == nullptr || value_json == nullptr) return -EINVAL;
            return s->put(of(ctx)->name, key, value_json);
        } catch (...) {
            return -EIO;
        }
    }
    static int store_get(void* ctx, const char* key, char** value_json) {
        try {
            if (value_json != nullptr) *value_json = nullptr;
            Store* s = store_of(ctx);
            if (s == nullptr) return -EIO;
            if (key == nullptr || value_json == nullptr) return -EINVAL;
            std::string value;
            int const rc = s->get(of(ctx)->name, key, &value);
            if (rc != 0) return rc;
            *value_json = to_buffer(value);
            return *value_json == nullptr ? -ENOMEM : 0;
        } catch (...) {
            return -EIO;
        }
    }
    static int store_delete(void* ctx, const char* key) {
        try {
            Store* s = store_of(ctx);
            if (s == nullptr) return -EIO;
            if (key == nullptr) return -EINVAL;
            return s->remove(of(ctx)->name, key);
        } catch (...) {
            return -EIO;
        }
    }
    static int store_list(void* ctx, const char* prefix, char** json_array_out) {
        try {
            if (json_array_out != nullptr) *json_array_out = nullptr;
            Store* s = store_of(ctx);
            if (s == nullptr) return -EIO;
            if (json_array_out == nullptr) return -EINVAL;
            std::string out;
            int const rc = s->list(of(ctx)->name, prefix == nullptr ? "" : prefix, &out);
            if (rc != 0) return rc;
            *json_array_out = to_buffer(out);
            return *json_array_out == nullptr ? -ENOMEM : 0;
        } catch (...) {
            return -EIO;
        }
    }
    static void log(void* ctx, int level, const char* message, const char* fields_json) {
        try {
            if (ctx == nullptr || message == nullptr) return;
            json fields = json::object();
            if (fields_json != nullptr) {
                json parsed = json::parse(fields_json, nullptr, false);
                if (parsed.is_object()) fields = std::move(parsed);
                else fields["fields"] = fields_json;   // keep what the plugin said even when it is not an object
            }
            fields["plugin"] = of(ctx)->name;
            voxa::log(LogLevel(std::clamp(level, int(VOXA_LOG_DEBUG), int(VOXA_LOG_ERROR))), message, fields);
        } catch (...) {
        }
    }
    static int dataplane_command(void* ctx, const char* command_json) {
        try {
            if (ctx == nullptr || command_json == nullptr) return -EINVAL;
            PluginHost* h = of(ctx)->host;
            if (!h->options_.dataplane_command) return -EAGAIN;
            std::string error;
            int const rc = h->options_.dataplane_command(command_json, &error);
            if (rc != 0 && !error.empty())
                voxa::log(LogLevel::kDebug, "dataplane command refused", {{"plugin", of(ctx)->name}, {"error", error}});
            return rc;
        } catch (...) {
            return -EIO;
        }
    }
    static int timer_add(void* ctx, uint32_t interval_ms, voxa_timer_fn fn, void* arg, uint64_t* timer_id) {
        try {
            if (ctx == nullptr || fn == nullptr) return -EINVAL;
            Plugin* p = of(ctx);
            if (!p->setup_phase()) return -EPERM;
            return p->host->timer_add(p, interval_ms, fn, arg, timer_id);
        } catch (...) {
            return -EIO;
        }
    }
    static int timer_cancel(void* ctx, uint64_t timer_id) {
        try {
            if (ctx == nullptr) return -EINVAL;
            return of(ctx)->host->timer_cancel(of(ctx), timer_id);
        } catch (...) {
            return -EIO;
        }
    }

    static voxa_host table_for(Plugin* p) {
        voxa_host t{};
        t.struct_size = sizeof(voxa_host);
        t.abi_minor = VOXA_PLUGIN_ABI_MINOR;
        t.ctx = p;
        t.call = &call;
        t.alloc_buffer = &alloc_buffer;
        t.free_buffer = &free_buffer;
        t.register_service = &register_service;
        t.publish = &publish;
        t.subscribe = &subscribe;
        t.store_put = &store_put;
        t.store_get = &store_get;
        t.store_delete = &store_delete;
        t.store_list = &store_list;
        t.log = &log;
        t.dataplane_command = &dataplane_command;
        t.timer_add = &timer_add;
        t.timer_cancel = &timer_cancel;
        return t;
    }
};

// ---- the host ----

PluginHost::PluginHost(Options options) : options_(std::move(options)), main_thread_(std::this_thread::get_id()) {}

PluginHost::~PluginHost() { stop_all(); }

std::vector<std::filesystem::path> PluginHost::search_dirs(std::string_view env_path,
                                                           const std::filesystem::path& extra_dir,
                                                           const std::filesystem::path& exe_dir) {
    std::vector<std::filesystem::path> dirs;
    std::size_t start = 0;
    while (start <= env_path.size()) {
        std::size_t end = env_path.find(':', start);
        if (end == std::string_view::npos) end = env_path.size();
        if (end > start) dirs.emplace_back(std::string(env_path.substr(start, end - start)));
        start = end + 1;
    }
    if (!extra_dir.empty()) dirs.push_back(extra_dir);
    if (!exe_dir.empty()) {
        dirs.push_back((exe_dir / ".." / ".." / "plugins" / "{name}").lexically_normal());
        dirs.push_back((exe_dir / ".." / "lib" / "voxa" / "plugins").lexically_normal());
    }
    return dirs;
}

std::optional<std::filesystem::path> PluginHost::find_plugin(std::string_view name, std::string* error) const {
    std::string const file = "voxa_" + std::string(name) + ".so";
    std::string searched;
    for (const std::filesystem::path& dir : options_.search_dirs) {
        std::filesystem::path expanded;
        for (const auto& part : dir) expanded /= part == "{name}" ? std::filesystem::path(std::string(name)) : part;
        std::filesystem::path const candidate = expanded / file;
        std::error_code ec;
        if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
        searched += (searched.empty() ? "" : ", ") + expanded.string();
    }
    *error = "plugin \"" + std::string(name) + "\": " + file + " not found; searched: " +
             (searched.empty() ? std::string("(no folders)") : searched) +
             " (set VOXA_PLUGIN_PATH or --plugin-dir, or remove it from settings.json \"plugins\")";
    return std::nullopt;
}

std::string PluginHost::load(std::string_view name, std::string_view config_json) {
    if (!on_main_thread()) return "plugin \"" + std::string(name) + "\": load() off the host's main thread";
    if (!valid_name(name)) return "plugin \"" + std::string(name) + "\": not a plugin name ([a-z0-9_]{1,32})";
    for (const auto& p : plugins_)
        if (p->name == name) return "plugin \"" + std::string(name) + "\": already loaded";
    std::string error;
    std::optional<std::filesystem::path> const file = find_plugin(name, &error);
    if (!file) return error;
    std::string const who = "plugin \"" + std::string(name) + "\" (" + file->string() + "): ";

    void* handle = dlopen(file->c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = dlerror();
        return who + "cannot load: " + (why != nullptr ? why : "dlopen failed");
    }
    dlerror();
    void* symbol = dlsym(handle, VOXA_PLUGIN_ENTRY_SYMBOL);
    if (symbol == nullptr) {
        dlclose(handle);
        return who + "no symbol " VOXA_PLUGIN_ENTRY_SYMBOL " (a plugin exports `const voxa_plugin *" VOXA_PLUGIN_ENTRY_SYMBOL
                     "(void)`)";
    }
    auto const entry = reinterpret_cast<voxa_plugin_entry_fn>(symbol);
    const voxa_plugin* d = entry();
    auto refuse = [&](const std::string& why) {
        dlclose(handle);
        return who + why;
    };
    if (d == nullptr) return refuse(VOXA_PLUGIN_ENTRY_SYMBOL "() returned NULL");
    // The ABI check comes before reading anything else of the descriptor, whose layout it vouches for.
    if (d->abi_major != VOXA_PLUGIN_ABI_MAJOR || d->abi_minor > VOXA_PLUGIN_ABI_MINOR) {
        return refuse("built for plugin ABI " + std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor) +
                      ", this voxa-control has ABI " + std::to_string(VOXA_PLUGIN_ABI_MAJOR) + "." +
                      std::to_string(VOXA_PLUGIN_ABI_MINOR) +
                      " (the major versions must be equal and the plugin's minor not newer); rebuild the plugin");
    }
    if (d->struct_size < sizeof(voxa_plugin)) {
        return refuse("descriptor struct_size " + std::to_string(d->struct_size) + " is smaller than the " +
                      std::to_string(sizeof(voxa_plugin)) + " bytes of ABI " + std::to_string(VOXA_PLUGIN_ABI_MAJOR) +
                      "." + std::to_string(d->abi_minor));
    }
    if (d->name == nullptr || name != d->name) {
        return refuse("the descriptor is named \"" + std::string(d->name == nullptr ? "(null)" : d->name) +
                      "\", but the file voxa_" + std::string(name) + ".so must hold plugin \"" + std::string(name) +
                      "\"");
    }
    if (d->create == nullptr || d->start == nullptr || d->stop == nullptr || d->destroy == nullptr)
        return refuse("the descriptor lacks create, start, stop or destroy");

    auto p = std::make_unique<Plugin>();
    p->host = this;
    p->name = std::string(name);
    p->file = *file;
    p->handle = handle;
    p->descriptor = d;
    p->table = HostTrampolines::table_for(p.get());
    p->phase = Plugin::Phase::kCreating;
    Plugin* raw = p.get();
    plugins_.push_back(std::move(p));

    std::string const config(config_json);
    int const rc = d->create(&raw->table, config.c_str(), &raw->instance);
    if (rc != 0) {
        unload(raw);
        return who + "create() failed: " + errno_text(rc);
    }
    raw->created = true;
    raw->phase = Plugin::Phase::kCreated;
    voxa::log(LogLevel::kInfo, "plugin loaded",
              {{"plugin", raw->name}, {"file", raw->file.string()}, {"version", d->version != nullptr ? d->version : ""}});
    return "";
}

std::string PluginHost::start_all() {
    for (const auto& p : plugins_) {
        if (p->phase != Plugin::Phase::kCreated) continue;
        p->phase = Plugin::Phase::kStarting;
        int const rc = p->descriptor->start(p->instance);
        if (rc != 0) {
            // stop() is still owed: the plugin may have started part of itself.
            p->phase = Plugin::Phase::kStarted;
            return "plugin \"" + p->name + "\" (" + p->file.string() + "): start() failed: " + errno_text(rc);
        }
        p->phase = Plugin::Phase::kStarted;
        voxa::log(LogLevel::kInfo, "plugin started", {{"plugin", p->name}});
    }
    return "";
}

std::string PluginHost::reload_all(const std::function<std::string(std::string_view)>& config_json_for) {
    std::string errors;
    for (const auto& p : plugins_) {
        if (p->phase != Plugin::Phase::kStarted || p->descriptor->reload == nullptr) continue;
        std::string const config = config_json_for(p->name);
        int const rc = p->descriptor->reload(p->instance, config.c_str());
        if (rc != 0) {
            errors += (errors.empty() ? "" : "; ") + std::string("plugin \"") + p->name +
                      "\": reload() failed: " + errno_text(rc) + " (its old configuration stays)";
        }
    }
    return errors;
}

void PluginHost::unload(Plugin* p) {
    if (p->phase == Plugin::Phase::kStarted || p->phase == Plugin::Phase::kStarting) {
        p->descriptor->stop(p->instance);
    }
    p->phase = Plugin::Phase::kStopped;
    unregister_owned_by(p);
    if (p->created) p->descriptor->destroy(p->instance);
    p->created = false;
    if (p->handle != nullptr) dlclose(p->handle);
    p->handle = nullptr;
    std::erase_if(plugins_, [p](const std::unique_ptr<Plugin>& q) { return q.get() == p; });
}

void PluginHost::stop_all() {
    {
        std::lock_guard lock(tasks_mutex_);
        stopping_ = true;
        for (auto& t : tasks_) t->cancelled = true;
        tasks_.clear();
    }
    tasks_cv_.notify_all();
    // stop() of every plugin first, newest first, so no plugin is destroyed while another still calls it.
    for (auto it = plugins_.rbegin(); it != plugins_.rend(); ++it) {
        Plugin* p = it->get();
        if (p->phase == Plugin::Phase::kStarted || p->phase == Plugin::Phase::kStarting) {
            p->descriptor->stop(p->instance);
            voxa::log(LogLevel::kInfo, "plugin stopped", {{"plugin", p->name}});
        }
        p->phase = Plugin::Phase::kStopped;
        unregister_owned_by(p);
    }
    while (!plugins_.empty()) unload(plugins_.back().get());
}

std::vector<PluginInfo> PluginHost::plugins() const {
    std::vector<PluginInfo> out;
    for (const auto& p : plugins_) {
        const voxa_plugin* d = p->descriptor;
        out.push_back({p->name, d->version != nullptr ? d->version : "", d->description != nullptr ? d->description : "",
                       p->file, p->phase == Plugin::Phase::kStarted});
    }
    return out;
}

// ---- services ----

int PluginHost::register_service(Plugin* owner, std::string_view name, std::shared_ptr<Service> service) {
    if (!valid_name(name)) return -EINVAL;
    service->owner = owner;
    std::lock_guard lock(services_mutex_);
    if (services_.find(name) != services_.end()) return -EEXIST;
    services_.emplace(std::string(name), std::move(service));
    return 0;
}

int PluginHost::register_host_service(std::string_view name, HostServiceFn fn) {
    if (!fn) return -EINVAL;
    auto s = std::make_shared<Service>();
    s->host_fn = std::move(fn);
    return register_service(nullptr, name, std::move(s));
}

bool PluginHost::has_service(std::string_view service) const {
    std::lock_guard lock(services_mutex_);
    return services_.find(service) != services_.end();
}

int PluginHost::call(std::string_view service, std::string_view method, std::string_view json_in,
                     std::string* json_out) {
    json_out->clear();
    std::shared_ptr<Service> s;
    {
        std::lock_guard lock(services_mutex_);
        auto it = services_.find(service);
        if (it == services_.end() || !it->second->alive) return -ENOENT;
        s = it->second;
        s->in_flight.fetch_add(1, std::memory_order_acq_rel);
    }
    struct Done {
        Service* s;
        ~Done() { s->in_flight.fetch_sub(1, std::memory_order_acq_rel); }
    } const done{s.get()};
    if (s->host_fn) {
        try {
            return s->host_fn(method, json_in, json_out);
        } catch (const std::exception& e) {
            *json_out = json{{"error", {{"code", "internal"}, {"message", e.what()}}}}.dump();
            return -EIO;
        }
    }
    std::string const m(method), in(json_in);
    char* out = nullptr;
    int const rc = s->fn(s->instance, m.c_str(), in.c_str(), &out);
    if (out != nullptr) {
        *json_out = out;
        std::free(out);
    }
    return rc;
}

void PluginHost::unregister_owned_by(Plugin* owner) {
    std::vector<std::shared_ptr<Service>> removed;
    {
        std::lock_guard lock(services_mutex_);
        for (auto it = services_.begin(); it != services_.end();) {
            if (it->second->owner == owner) {
                it->second->alive = false;
                removed.push_back(it->second);
                it = services_.erase(it);
            } else {
                ++it;
            }
        }
    }
    // A caller that got the service before it was removed finishes first: the provider is about to be destroyed.
    for (const auto& s : removed)
        while (s->in_flight.load(std::memory_order_acquire) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::erase_if(subscriptions_, [owner](const Subscription& s) { return s.owner == owner; });
    std::lock_guard lock(timers_mutex_);
    std::erase_if(timers_, [owner](const Timer& t) { return t.owner == owner; });
}

// ---- publish / subscribe ----

int PluginHost::publish(std::string_view topic, std::string_view json_text) {
    if (topic.empty() || !json::accept(json_text)) return -EINVAL;
    std::lock_guard lock(events_mutex_);
    if (events_.size() >= options_.event_queue_max) {
        events_dropped_.fetch_add(1, std::memory_order_relaxed);
        return -EAGAIN;
    }
    events_.emplace_back(std::string(topic), std::string(json_text));
    return 0;
}

int PluginHost::subscribe(Plugin* owner, std::string_view prefix, voxa_event_fn fn, void* subscriber) {
    Subscription s;
    s.prefix = std::string(prefix);
    s.owner = owner;
    s.fn = fn;
    s.subscriber = subscriber;
    subscriptions_.push_back(std::move(s));
    return 0;
}

void PluginHost::subscribe_host(std::string_view prefix, std::function<void(std::string_view, std::string_view)> fn) {
    Subscription s;
    s.prefix = std::string(prefix);
    s.host_fn = std::move(fn);
    subscriptions_.push_back(std::move(s));
}

std::size_t PluginHost::deliver_events() {
    std::deque<std::pair<std::string, std::string>> batch;
    {
        std::lock_guard lock(events_mutex_);
        batch.swap(events_);
    }
    for (const auto& [topic, text] : batch) {
        // By index: a callback cannot add subscriptions (create/start only), but stays safe if one ever does.
        for (std::size_t i = 0; i < subscriptions_.size(); ++i) {
            const Subscription& s = subscriptions_[i];
            if (topic.compare(0, s.prefix.size(), s.prefix) != 0) continue;
            if (s.host_fn) {
                try {
                    s.host_fn(topic, text);
                } catch (...) {
                }
            } else {
                s.fn(s.subscriber, topic.c_str(), text.c_str());
            }
        }
    }
    events_delivered_ += batch.size();
    return batch.size();
}

// ---- timers ----

int PluginHost::timer_add(Plugin* owner, uint32_t interval_ms, voxa_timer_fn fn, void* arg, uint64_t* id) {
    if (interval_ms < kTimerIntervalMinMs) return -EINVAL;
    std::lock_guard lock(timers_mutex_);
    Timer t;
    t.id = next_timer_id_++;
    t.interval_ns = uint64_t(interval_ms) * 1'000'000;
    t.due_ns = steady_ns() + t.interval_ns;
    t.fn = fn;
    t.arg = arg;
    t.owner = owner;
    timers_.push_back(t);
    if (id != nullptr) *id = t.id;
    return 0;
}

int PluginHost::timer_cancel(Plugin* owner, uint64_t id) {
    std::lock_guard lock(timers_mutex_);
    auto const n = std::erase_if(timers_, [&](const Timer& t) { return t.id == id && t.owner == owner; });
    return n > 0 ? 0 : -ENOENT;
}

std::size_t PluginHost::run_timers(uint64_t now_ns) {
    std::vector<Timer> due;
    {
        std::lock_guard lock(timers_mutex_);
        for (Timer& t : timers_) {
            if (t.due_ns > now_ns) continue;
            due.push_back(t);
            // From now, not from the missed due time: a stalled loop runs a timer once, not in a burst.
            t.due_ns = now_ns + t.interval_ns;
        }
    }
    std::size_t ran = 0;
    for (const Timer& t : due) {
        {
            // Cancelled by an earlier callback of this round: skip it.
            std::lock_guard lock(timers_mutex_);
            if (std::none_of(timers_.begin(), timers_.end(), [&](const Timer& x) { return x.id == t.id; })) continue;
        }
        t.fn(t.arg);
        ++ran;
    }
    return ran;
}

// ---- main-thread tasks ----

std::size_t PluginHost::run_tasks() {
    std::size_t ran = 0;
    for (;;) {
        std::shared_ptr<Task> t;
        {
            std::lock_guard lock(tasks_mutex_);
            if (tasks_.empty()) break;
            t = tasks_.front();
            tasks_.pop_front();
        }
        try {
            t->fn();
        } catch (...) {
        }
        {
            std::lock_guard lock(tasks_mutex_);
            t->done = true;
        }
        tasks_cv_.notify_all();
        ++ran;
    }
    return ran;
}

int PluginHost::run_on_main(const std::function<void()>& fn) {
    if (on_main_thread()) {
        fn();
        return 0;
    }
    auto t = std::make_shared<Task>();
    t->fn = fn;
    std::unique_lock lock(tasks_mutex_);
    if (stopping_) return -EAGAIN;
    tasks_.push_back(t);
    bool const finished = tasks_cv_.wait_for(lock, std::chrono::milliseconds(kMainTaskWaitMs),
                                             [&] { return t->done || t->cancelled; });
    if (finished) return t->done ? 0 : -EAGAIN;
    // Not run in time. Still queued: withdraw it (fn refers to the caller's frame). Being run: wait for the end.
    auto const it = std::find(tasks_.begin(), tasks_.end(), t);
    if (it != tasks_.end()) {
        tasks_.erase(it);
        return -EAGAIN;
    }
    tasks_cv_.wait(lock, [&] { return t->done || t->cancelled; });
    return t->done ? 0 : -EAGAIN;
}

}  // namespace voxa::cp
