// A shared object without voxa_plugin_entry: the host must refuse it by name before running anything.
#include "plugin_util.h"

VOXA_TEST_EXPORT int voxa_plugin_entry_misspelled(void) { return 0; }
