// The plugin's C ABI (include/voxa/plugin_abi.h): the descriptor and five functions, each catching everything and
// returning 0 or a negative errno. Errors go to the host's log with the reason, since the return value is a number.
#include "api.h"

#include <sodium.h>

#include <cerrno>
#include <new>

namespace voxa::api {
namespace {

struct Instance {
    const voxa_host* host;                 // owned by the host; valid until destroy() returns
    std::unique_ptr<Server> server;
};

void host_log(const voxa_host* host, int level, const std::string& message) noexcept {
    try {
        host->log(host->ctx, level, message.c_str(), nullptr);
    } catch (...) {
    }
}

int api_create(const voxa_host* host, const char* config_json, void** instance) {
    if (host == nullptr || config_json == nullptr || instance == nullptr) return -EINVAL;
    try {
        // The fields we call must be inside the host's struct (an older host has a shorter one).
        if (host->struct_size < offsetof(voxa_host, timer_cancel) + sizeof(host->timer_cancel)) return -EINVAL;
        if (sodium_init() < 0) {
            host_log(host, VOXA_LOG_ERROR, "api: libsodium failed to initialise");
            return -EIO;
        }
        auto j = nlohmann::json::parse(config_json, nullptr, false);
        Config config;
        if (std::string e = parse_config(j, config); !e.empty()) {
            host_log(host, VOXA_LOG_ERROR, "api: " + e);
            return -EINVAL;
        }
        std::string token;
        if (std::string e = load_or_create_token(config.data_dir, &token); !e.empty()) {
            host_log(host, VOXA_LOG_ERROR, "api: " + e);
            return -EACCES;
        }
        auto inst = std::make_unique<Instance>();
        inst->host = host;
        inst->server = std::make_unique<Server>(host, config, token);
        sodium_memzero(token.data(), token.size());
        *instance = inst.release();
        return 0;
    } catch (const std::bad_alloc&) {
        return -ENOMEM;
    } catch (const std::exception& e) {
        host_log(host, VOXA_LOG_ERROR, std::string("api: create failed: ") + e.what());
        return -EIO;
    } catch (...) {
        return -EIO;
    }
}

int api_start(void* instance) {
    auto* inst = static_cast<Instance*>(instance);
    if (inst == nullptr) return -EINVAL;
    try {
        if (std::string e = inst->server->start(); !e.empty()) {
            host_log(inst->host, VOXA_LOG_ERROR, "api: " + e);
            return -EADDRNOTAVAIL;
        }
        return 0;
    } catch (...) {
        return -EIO;
    }
}

int api_reload(void* instance, const char* config_json) {
    auto* inst = static_cast<Instance*>(instance);
    if (inst == nullptr || config_json == nullptr) return -EINVAL;
    try {
        auto j = nlohmann::json::parse(config_json, nullptr, false);
        Config config;
        if (std::string e = parse_config(j, config); !e.empty()) {
            host_log(inst->host, VOXA_LOG_ERROR, "api: reload refused, keeping the old settings: " + e);
            return -EINVAL;
        }
        if (std::string e = inst->server->reload(config); !e.empty()) {
            host_log(inst->host, VOXA_LOG_ERROR, "api: " + e);
            return -EINVAL;
        }
        return 0;
    } catch (...) {
        return -EIO;
    }
}

void api_stop(void* instance) {
    auto* inst = static_cast<Instance*>(instance);
    if (inst == nullptr) return;
    try {
        inst->server->stop();
    } catch (...) {
    }
}

void api_destroy(void* instance) {
    try {
        delete static_cast<Instance*>(instance);
    } catch (...) {
    }
}

constexpr voxa_plugin kPlugin = {
    VOXA_PLUGIN_ABI_MAJOR, VOXA_PLUGIN_ABI_MINOR, sizeof(voxa_plugin), 0,
    "api", "0.1.0", "REST API (Pistache): node status, stats, Prometheus metrics, control",
    api_create, api_start, api_reload, api_stop, api_destroy,
};

}  // namespace
}  // namespace voxa::api

extern "C" __attribute__((visibility("default"))) const voxa_plugin* voxa_plugin_entry(void) {
    return &voxa::api::kPlugin;
}
