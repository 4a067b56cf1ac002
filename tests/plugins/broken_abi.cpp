// A plugin built for plugin ABI 99: the host must refuse it, naming both versions, without calling create().
#include <cstdlib>

#include "plugin_util.h"

namespace {
// Reaching create() would be the host's bug: abort so the test cannot miss it.
int create(const voxa_host*, const char*, void**) { std::abort(); }

const voxa_plugin kPlugin = {99u, 0u, sizeof(voxa_plugin), 0u, "broken_abi", "0.0.1", "wrong ABI major",
                             &create, &voxa_test::noop_start, nullptr, &voxa_test::noop_stop,
                             &voxa_test::noop_destroy};
}  // namespace

VOXA_TEST_EXPORT const voxa_plugin* voxa_plugin_entry(void) { return &kPlugin; }
