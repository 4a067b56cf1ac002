// A plugin whose create() fails with -EINVAL: start-up must stop, naming the plugin and the error.
#include "plugin_util.h"

namespace {
int create(const voxa_host* host, const char*, void** instance) {
    *instance = nullptr;
    host->log(host->ctx, VOXA_LOG_ERROR, "broken_create: refusing to start", nullptr);
    return -EINVAL;
}

const voxa_plugin kPlugin = {VOXA_PLUGIN_ABI_MAJOR, VOXA_PLUGIN_ABI_MINOR, sizeof(voxa_plugin), 0u, "broken_create",
                             "0.0.1", "create() fails", &create, &voxa_test::noop_start, nullptr,
                             &voxa_test::noop_stop, &voxa_test::noop_destroy};
}  // namespace

VOXA_TEST_EXPORT const voxa_plugin* voxa_plugin_entry(void) { return &kPlugin; }
