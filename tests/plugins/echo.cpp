// The good test plugin: exercises every host function. Service "echo" with methods
//   echo      returns its input                       put {"key","value"} / get {"key"} / del {"key"} / list {"prefix"}
//   publish   {"topic","json"} -> host publish        events -> {"events":[{"topic","json"}...]} received so far
//   ticks     -> {"ticks":N} timer callbacks so far   call {"service","method","input"} -> host call result
//   command   {"command":{...}} -> {"rc":N}           config -> the config_json create()/reload() got
// On create it subscribes to "test." and "dataplane.", adds a 20 ms timer and counts starts in its store.
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugin_util.h"

namespace {

using nlohmann::json;

struct Echo {
    const voxa_host* host = nullptr;
    std::mutex mutex;
    json events = json::array();
    std::string config;
    std::atomic<uint64_t> ticks{0};
    uint64_t timer = 0;
};

int from_host(const voxa_host* h, int rc, char* buffer, json* out) {
    if (buffer != nullptr) {
        *out = json::parse(buffer, nullptr, false);
        h->free_buffer(h->ctx, buffer);
    }
    return rc;
}

json serve(Echo* e, const std::string& method, const json& in, int* rc) {
    const voxa_host* h = e->host;
    *rc = 0;
    if (method == "echo") return in;
    if (method == "put") {
        *rc = h->store_put(h->ctx, in.at("key").get<std::string>().c_str(), in.at("value").dump().c_str());
        return {{"rc", *rc}};
    }
    if (method == "get") {
        char* value = nullptr;
        json v;
        int const r = h->store_get(h->ctx, in.at("key").get<std::string>().c_str(), &value);
        *rc = from_host(h, r, value, &v);
        return {{"rc", *rc}, {"value", v}};
    }
    if (method == "del") {
        *rc = h->store_delete(h->ctx, in.at("key").get<std::string>().c_str());
        return {{"rc", *rc}};
    }
    if (method == "list") {
        char* list = nullptr;
        json v;
        int const r = h->store_list(h->ctx, in.value("prefix", std::string()).c_str(), &list);
        *rc = from_host(h, r, list, &v);
        return {{"rc", *rc}, {"items", v}};
    }
    if (method == "publish") {
        *rc = h->publish(h->ctx, in.at("topic").get<std::string>().c_str(), in.at("json").dump().c_str());
        return {{"rc", *rc}};
    }
    if (method == "events") {
        std::lock_guard lock(e->mutex);
        return {{"events", e->events}};
    }
    if (method == "ticks") return {{"ticks", e->ticks.load()}};
    if (method == "config") {
        std::lock_guard lock(e->mutex);
        return json::parse(e->config);
    }
    if (method == "call") {
        char* out = nullptr;
        json v;
        std::string const input = in.value("input", json::object()).dump();
        int r = h->call(h->ctx, in.at("service").get<std::string>().c_str(),
                        in.at("method").get<std::string>().c_str(), input.c_str(), &out);
        r = from_host(h, r, out, &v);
        return {{"rc", r}, {"result", v}};
    }
    if (method == "command") {
        return {{"rc", h->dataplane_command(h->ctx, in.at("command").dump().c_str())}};
    }
    *rc = -ENOENT;
    return {{"error", {{"code", "not_found"}, {"message", "echo has no method " + method}}}};
}

int service(void* instance, const char* method, const char* json_in, char** json_out) {
    auto* e = static_cast<Echo*>(instance);
    *json_out = nullptr;
    try {
        int rc = 0;
        json const out = serve(e, method, json::parse(json_in), &rc);
        *json_out = voxa_test::host_string(e->host, out.dump());
        return rc;
    } catch (const std::exception& ex) {
        *json_out = voxa_test::host_string(
            e->host, json{{"error", {{"code", "bad_field"}, {"message", ex.what()}}}}.dump());
        return -EINVAL;
    }
}

void on_event(void* subscriber, const char* topic, const char* text) {
    auto* e = static_cast<Echo*>(subscriber);
    try {
        std::lock_guard lock(e->mutex);
        e->events.push_back({{"topic", topic}, {"json", json::parse(text)}});
    } catch (...) {
    }
}

void on_timer(void* arg) { static_cast<Echo*>(arg)->ticks.fetch_add(1); }

int create(const voxa_host* host, const char* config_json, void** instance) {
    return voxa_test::guarded([&] {
        if (host->struct_size < sizeof(voxa_host)) return -ENOTSUP;
        auto* e = new Echo();
        e->host = host;
        e->config = config_json;
        int rc = host->register_service(host->ctx, "echo", &service, e);
        if (rc == 0) rc = host->subscribe(host->ctx, "test.", &on_event, e);
        if (rc == 0) rc = host->subscribe(host->ctx, "dataplane.", &on_event, e);
        if (rc == 0) rc = host->timer_add(host->ctx, 20, &on_timer, e, &e->timer);
        if (rc != 0) {
            delete e;
            return rc;
        }
        *instance = e;
        return 0;
    });
}

int start(void* instance) {
    return voxa_test::guarded([&] {
        auto* e = static_cast<Echo*>(instance);
        const voxa_host* h = e->host;
        // Counts starts across runs: proves the store persists.
        char* value = nullptr;
        json starts = 0;
        if (h->store_get(h->ctx, "starts", &value) == 0) {
            starts = json::parse(value);
            h->free_buffer(h->ctx, value);
        }
        int rc = h->store_put(h->ctx, "starts", json(starts.get<int>() + 1).dump().c_str());
        if (rc == 0) rc = h->publish(h->ctx, "test.started", "{\"plugin\":\"echo\"}");
        h->log(h->ctx, VOXA_LOG_INFO, "echo started", "{\"starts\":1}");
        return rc;
    });
}

int reload(void* instance, const char* config_json) {
    return voxa_test::guarded([&] {
        auto* e = static_cast<Echo*>(instance);
        std::lock_guard lock(e->mutex);
        e->config = config_json;
        return 0;
    });
}

void stop(void* instance) {
    try {
        auto* e = static_cast<Echo*>(instance);
        e->host->timer_cancel(e->host->ctx, e->timer);
    } catch (...) {
    }
}

void destroy(void* instance) { delete static_cast<Echo*>(instance); }

const voxa_plugin kPlugin = {VOXA_PLUGIN_ABI_MAJOR, VOXA_PLUGIN_ABI_MINOR, sizeof(voxa_plugin), 0u, "echo", "1.2.3",
                             "echoes, stores, publishes, ticks (test plugin)", &create, &start, &reload, &stop,
                             &destroy};

}  // namespace

VOXA_TEST_EXPORT const voxa_plugin* voxa_plugin_entry(void) { return &kPlugin; }
