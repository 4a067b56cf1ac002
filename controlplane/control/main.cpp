// voxa-control: the node's control plane (docs/OPERATIONS.md).
//
//   voxa-control [--config DIR] [--data DIR] [--plugin-dir DIR]   run in the foreground until SIGTERM/SIGINT
//   voxa-control --check-config [--config DIR]                     validate the configuration, print it, exit 0/1
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "control.h"

namespace {

int usage(const char* why) {
    if (why != nullptr) std::fprintf(stderr, "voxa-control: %s\n", why);
    std::fprintf(stderr,
                 "usage: voxa-control [--config DIR] [--data DIR] [--plugin-dir DIR] [--check-config]\n"
                 "  --config DIR      configuration folder (default $VOXA_CONFIG_PATH or ./config)\n"
                 "  --data DIR        state folder: database, keys, shm segment (default $VOXA_DATA_PATH or ./data)\n"
                 "  --plugin-dir DIR  also look for plugins (voxa_<name>.so) here, after $VOXA_PLUGIN_PATH\n"
                 "  --check-config    validate the configuration, print the effective one, exit\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    voxa::cp::ControlOptions o;
    for (int i = 1; i < argc; ++i) {
        std::string const a = argv[i];
        if ((a == "--config" || a == "--data" || a == "--plugin-dir") && i + 1 < argc) {
            std::string const v = argv[++i];
            if (a == "--config") o.config_dir = v;
            else if (a == "--data") o.data_dir = v;
            else o.plugin_dir = v;
        } else if (a == "--check-config") {
            o.check_config = true;
        } else if (a == "--help" || a == "-h") {
            usage(nullptr);
            return 0;
        } else {
            return usage(("unknown argument: " + a).c_str());
        }
    }
    std::error_code ec;
    std::filesystem::path const exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) o.exe_dir = exe.parent_path();
    return voxa::cp::run_control(o);
}
