// A plugin whose service throws a C++ exception inside: its ABI wrapper catches it and returns -EIO, and the host
// stays up. Registers service "thrower".
#include <stdexcept>
#include <string>

#include "plugin_util.h"

namespace {
const voxa_host* g_host = nullptr;

std::string serve(const std::string& method) {
    if (method == "ok") return "{\"ok\":true}";
    throw std::runtime_error("thrower: " + method + " always throws");
}

int service(void*, const char* method, const char*, char** json_out) {
    *json_out = nullptr;
    try {
        *json_out = voxa_test::host_string(g_host, serve(method));
        return 0;
    } catch (const std::exception& e) {
        *json_out = voxa_test::host_string(
            g_host, std::string("{\"error\":{\"code\":\"internal\",\"message\":\"") + e.what() + "\"}}");
        return -EIO;
    } catch (...) {
        return -EIO;
    }
}

int create(const voxa_host* host, const char*, void** instance) {
    return voxa_test::guarded([&] {
        g_host = host;
        *instance = nullptr;
        return host->register_service(host->ctx, "thrower", &service, nullptr);
    });
}

const voxa_plugin kPlugin = {VOXA_PLUGIN_ABI_MAJOR, VOXA_PLUGIN_ABI_MINOR, sizeof(voxa_plugin), 0u, "broken_throw",
                             "0.0.1", "its service throws inside", &create, &voxa_test::noop_start, nullptr,
                             &voxa_test::noop_stop, &voxa_test::noop_destroy};
}  // namespace

VOXA_TEST_EXPORT const voxa_plugin* voxa_plugin_entry(void) { return &kPlugin; }
