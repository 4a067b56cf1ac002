// voxa-control, the node's control plane process (DESIGN §5): loads and checks the configuration, opens the SQLite
// store and the node identity, attaches to the shm segment as Side::kControl, loads the configured plugins and
// runs the main loop: shm events -> pub/sub topics, heartbeat, data-plane liveness, pub/sub delivery, timers,
// tasks posted to the main thread. SIGHUP reloads (node.reload); SIGTERM/SIGINT stop the plugins in reverse order
// within settings.json "drain-deadline-s", detach and exit 0.
//
// run_control() is main() minus argument parsing; it owns everything it creates and returns the exit code.
// One call per process (it takes over SIGHUP, SIGTERM and SIGINT, blocking them in every thread it starts).
#pragma once

#include <filesystem>
#include <string>

namespace voxa::cp {

struct ControlOptions {
    std::string config_dir;                 // --config (empty: $VOXA_CONFIG_PATH or ./config)
    std::string data_dir;                   // --data (empty: $VOXA_DATA_PATH or ./data)
    bool check_config = false;              // --check-config: validate, print the effective config, exit
    std::filesystem::path plugin_dir;       // --plugin-dir: searched after $VOXA_PLUGIN_PATH
    std::filesystem::path exe_dir;          // the folder of the voxa-control binary (plugin search path)
};

// 0 after a clean stop (or a good --check-config); 1 when start-up failed (the reason is logged).
int run_control(const ControlOptions& options);

}  // namespace voxa::cp
