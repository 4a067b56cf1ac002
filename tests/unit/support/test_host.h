// A voxa_host (include/voxa/plugin_abi.h) for tests that load plugins into themselves, as voxa-control does.
// It routes call() to the services the plugins registered with it, else to fixed answers the test sets, and
// records what the plugins did: each call and its input, data-plane commands, published events, log lines.
// Header-only: the api test links no voxa library.
//
// Threads: every member may be called from any thread (plugins call their host from their own threads). A
// registered service is called without the host's lock, as the real host calls it, so it may call back in.
// Timers and subscriptions are accepted and never fire: the tests drive time themselves.
#pragma once

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "voxa/plugin_abi.h"

namespace voxa::test {

class TestHost {
public:
    TestHost() {
        table_.struct_size = sizeof(voxa_host);
        table_.abi_minor = VOXA_PLUGIN_ABI_MINOR;
        table_.ctx = this;
        table_.call = &TestHost::call;
        table_.alloc_buffer = [](void*, size_t n) { return static_cast<char*>(std::malloc(n)); };
        table_.free_buffer = [](void*, char* b) { std::free(b); };
        table_.register_service = [](void* ctx, const char* name, voxa_service_fn fn, void* instance) {
            auto* self = static_cast<TestHost*>(ctx);
            std::lock_guard lock(self->mutex_);
            self->services_[name] = {fn, instance};
            return 0;
        };
        table_.publish = [](void* ctx, const char* topic, const char* json) {
            auto* self = static_cast<TestHost*>(ctx);
            std::lock_guard lock(self->mutex_);
            self->events_.emplace_back(topic, json != nullptr ? json : "");
            return 0;
        };
        table_.subscribe = [](void*, const char*, voxa_event_fn, void*) { return 0; };
        table_.store_put = [](void*, const char*, const char*) { return -ENOSYS; };
        table_.store_get = [](void*, const char*, char**) { return -ENOSYS; };
        table_.store_delete = [](void*, const char*) { return -ENOSYS; };
        table_.store_list = [](void*, const char*, char**) { return -ENOSYS; };
        table_.log = [](void* ctx, int level, const char* message, const char* fields) {
            auto* self = static_cast<TestHost*>(ctx);
            std::lock_guard lock(self->mutex_);
            self->logs_.push_back(std::to_string(level) + " " + message +
                                  (fields != nullptr ? std::string(" ") + fields : ""));
        };
        table_.dataplane_command = [](void* ctx, const char* command) {
            auto* self = static_cast<TestHost*>(ctx);
            std::lock_guard lock(self->mutex_);
            if (self->dataplane_rc_ != 0)
                return self->dataplane_rc_;
            self->commands_.push_back(nlohmann::json::parse(command, nullptr, false));
            return 0;
        };
        table_.timer_add = [](void*, uint32_t, voxa_timer_fn, void*, uint64_t* id) {
            *id = 1;
            return 0;
        };
        table_.timer_cancel = [](void*, uint64_t) { return 0; };
    }
    TestHost(const TestHost&) = delete;
    TestHost& operator=(const TestHost&) = delete;

    // The table to give a plugin's create(); valid while this object lives.
    const voxa_host* host() const { return &table_; }

    // What call("service", "method") answers ("service.method" = key) when no plugin registered `service`:
    // rc, and body as *json_out ("" for none). Without an answer: -ENOENT without a body, the host's "no such
    // service".
    void set(const std::string& key, int rc, const std::string& body) {
        std::lock_guard lock(mutex_);
        answers_[key] = {rc, body};
    }
    void remove(const std::string& key) {
        std::lock_guard lock(mutex_);
        answers_.erase(key);
    }
    // The last input "service.method" received ("" when never called), and how many calls it got.
    std::string last_input(const std::string& key) {
        std::lock_guard lock(mutex_);
        auto it = inputs_.find(key);
        return it == inputs_.end() ? "" : it->second;
    }
    int calls(const std::string& key) {
        std::lock_guard lock(mutex_);
        return calls_[key];
    }
    // Every log line so far, "<level> <message> <fields>", one a line.
    std::string logs() {
        std::lock_guard lock(mutex_);
        std::string all;
        for (const std::string& l : logs_) all += l + "\n";
        return all;
    }
    // The data-plane commands accepted since the last look (a command that is not JSON is a discarded value).
    std::vector<nlohmann::json> take_commands() {
        std::lock_guard lock(mutex_);
        return std::exchange(commands_, {});
    }
    // What dataplane_command returns from now on; anything but 0 refuses (and does not record) the command.
    void set_dataplane_rc(int rc) {
        std::lock_guard lock(mutex_);
        dataplane_rc_ = rc;
    }
    std::size_t count_events(const std::string& topic) {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& e : events_) n += e.first == topic ? 1 : 0;
        return n;
    }

private:
    struct Answer {
        int rc = 0;
        std::string body;
    };

    static int call(void* ctx, const char* service, const char* method, const char* json_in,
                    char** json_out) {
        auto* self = static_cast<TestHost*>(ctx);
        *json_out = nullptr;
        std::string const key = std::string(service) + "." + method;
        std::pair<voxa_service_fn, void*> provider{};
        {
            std::lock_guard lock(self->mutex_);
            self->inputs_[key] = json_in != nullptr ? json_in : "{}";
            self->calls_[key] += 1;
            if (auto s = self->services_.find(service); s != self->services_.end()) {
                provider = s->second;
            } else {
                auto it = self->answers_.find(key);
                if (it == self->answers_.end())
                    return -ENOENT;
                if (!it->second.body.empty()) {
                    *json_out = static_cast<char*>(std::malloc(it->second.body.size() + 1));
                    if (*json_out == nullptr)
                        return -ENOMEM;
                    std::memcpy(*json_out, it->second.body.c_str(), it->second.body.size() + 1);
                }
                return it->second.rc;
            }
        }
        return provider.first(provider.second, method, json_in, json_out);
    }

    voxa_host table_{};
    std::mutex mutex_;
    std::map<std::string, std::pair<voxa_service_fn, void*>> services_;  // the instance is the plugin's
    std::map<std::string, Answer> answers_;
    std::map<std::string, std::string> inputs_;
    std::map<std::string, int> calls_;
    std::vector<std::string> logs_;
    std::vector<std::pair<std::string, std::string>> events_;  // publish: topic, JSON text
    std::vector<nlohmann::json> commands_;                     // dataplane_command
    int dataplane_rc_ = 0;
};

// The descriptor of the plugin module at `path`, loaded as voxa-control loads it (dlopen, then
// voxa_plugin_entry); nullptr, with a test failure, when it cannot be. The module stays loaded until exit.
inline const voxa_plugin* load_plugin(const char* path) {
    void* so = ::dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (so == nullptr) {
        ADD_FAILURE() << "dlopen " << path << ": " << ::dlerror();
        return nullptr;
    }
    auto entry = reinterpret_cast<voxa_plugin_entry_fn>(::dlsym(so, VOXA_PLUGIN_ENTRY_SYMBOL));
    if (entry == nullptr) {
        ADD_FAILURE() << path << " has no " << VOXA_PLUGIN_ENTRY_SYMBOL;
        return nullptr;
    }
    return entry();
}

}  // namespace voxa::test
