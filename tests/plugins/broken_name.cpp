// A file voxa_broken_name.so whose descriptor says it is another plugin: the host must refuse it.
#include <cstdlib>

#include "plugin_util.h"

namespace {
int create(const voxa_host*, const char*, void**) { std::abort(); }

const voxa_plugin kPlugin = {VOXA_PLUGIN_ABI_MAJOR, VOXA_PLUGIN_ABI_MINOR, sizeof(voxa_plugin), 0u, "someone_else",
                             "0.0.1", "named differently from its file", &create, &voxa_test::noop_start, nullptr,
                             &voxa_test::noop_stop, &voxa_test::noop_destroy};
}  // namespace

VOXA_TEST_EXPORT const voxa_plugin* voxa_plugin_entry(void) { return &kPlugin; }
