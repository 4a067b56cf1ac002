// The registry plugin's C ABI (include/voxa/plugin_abi.h): the descriptor and five functions around a
// Registry (registry.h). Each catches everything and returns 0 or a negative errno; the reason goes to the
// host's log, since the return value is only a number.
#include <sodium.h>

#include <cerrno>
#include <cstddef>
#include <new>

#include "registry/registry.h"

namespace voxa::registry {
namespace {

void host_log(const voxa_host* host, int level, const std::string& message) noexcept {
    try {
        host->log(host->ctx, level, message.c_str(), nullptr);
    } catch (...) {
    }
}

int registry_create(const voxa_host* host, const char* config_json, void** instance) {
    if (host == nullptr || config_json == nullptr || instance == nullptr)
        return -EINVAL;
    try {
        // The fields we call must be inside the host's struct (an older host has a shorter one).
        if (host->struct_size < offsetof(voxa_host, timer_cancel) + sizeof(host->timer_cancel))
            return -EINVAL;
        if (sodium_init() < 0) {
            host_log(host, VOXA_LOG_ERROR, "registry: libsodium failed to initialise");
            return -EIO;
        }
        auto j = nlohmann::json::parse(config_json, nullptr, false);
        if (j.is_discarded())
            return -EINVAL;
        std::string error;
        std::unique_ptr<Registry> r = Registry::create(host, j, Registry::Options{}, &error);
        if (!r) {
            host_log(host, VOXA_LOG_ERROR, error);
            return -EINVAL;
        }
        *instance = r.release();
        return 0;
    } catch (const std::bad_alloc&) {
        return -ENOMEM;
    } catch (const std::exception& e) {
        host_log(host, VOXA_LOG_ERROR, std::string("registry: create failed: ") + e.what());
        return -EIO;
    } catch (...) {
        return -EIO;
    }
}

int registry_start(void* instance) {
    auto* r = static_cast<Registry*>(instance);
    if (r == nullptr)
        return -EINVAL;
    try {
        if (std::string e = r->start(); !e.empty()) {
            r->log(VOXA_LOG_ERROR, e);
            return -EIO;
        }
        return 0;
    } catch (...) {
        return -EIO;
    }
}

int registry_reload(void* instance, const char* config_json) {
    auto* r = static_cast<Registry*>(instance);
    if (r == nullptr || config_json == nullptr)
        return -EINVAL;
    try {
        auto j = nlohmann::json::parse(config_json, nullptr, false);
        if (j.is_discarded())
            return -EINVAL;
        if (std::string e = r->reload(j); !e.empty()) {
            r->log(VOXA_LOG_WARN, "reload: " + e);
            return -EINVAL;
        }
        return 0;
    } catch (...) {
        return -EIO;
    }
}

void registry_stop(void* instance) {
    try {
        if (auto* r = static_cast<Registry*>(instance))
            r->stop();
    } catch (...) {
    }
}

void registry_destroy(void* instance) {
    try {
        delete static_cast<Registry*>(instance);
    } catch (...) {
    }
}

constexpr voxa_plugin kPlugin = {
    VOXA_PLUGIN_ABI_MAJOR,
    VOXA_PLUGIN_ABI_MINOR,
    sizeof(voxa_plugin),
    0,
    "registry",
    "0.1.0",
    "Registry: signed node/relay records, registration, names; central, member or OpenDHT; feeds the data "
    "plane",
    registry_create,
    registry_start,
    registry_reload,
    registry_stop,
    registry_destroy,
};

}  // namespace
}  // namespace voxa::registry

extern "C" __attribute__((visibility("default"))) const voxa_plugin* voxa_plugin_entry(void) {
    return &voxa::registry::kPlugin;
}
