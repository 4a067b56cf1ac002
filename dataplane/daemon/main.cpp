// voxa-dataplane: the relay node's data plane (docs/OPERATIONS.md).
//
//   voxa-dataplane [--config DIR] [--data DIR]        run in the foreground until SIGTERM/SIGINT
//   voxa-dataplane --check-config [--config DIR]      validate the configuration, print it, exit 0/1
//   voxa-dataplane --show-identity [--data DIR]       create the identity if missing, print id and key
//   voxa-dataplane --doctor [--config DIR]            check this host for the configured backend (daemon/doctor.h)
//
// DIR defaults come from VOXA_CONFIG_PATH / VOXA_DATA_PATH, else ./config and ./data.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/log.h"
#include "config/config.h"
#include "crypto/identity.h"
#include "crypto/provider.h"
#include "daemon/daemon.h"
#include "daemon/doctor.h"

namespace {

std::atomic<bool> g_stop{false};
voxa::daemon::Daemon* g_daemon = nullptr;

void on_signal(int) {
    g_stop.store(true);
    if (g_daemon != nullptr) g_daemon->wake();
}

int usage(const char* why) {
    if (why != nullptr) std::fprintf(stderr, "voxa-dataplane: %s\n", why);
    std::fprintf(stderr,
                 "usage: voxa-dataplane [--config DIR] [--data DIR] [--check-config | --show-identity | --doctor]\n"
                 "  --config DIR      configuration folder (default $VOXA_CONFIG_PATH or ./config)\n"
                 "  --data DIR        state folder: keys, socket (default $VOXA_DATA_PATH or ./data)\n"
                 "  --check-config    validate the configuration, print the effective one, exit\n"
                 "  --show-identity   create the node identity if missing, print it as JSON, exit\n"
                 "  --doctor          check hugepages, IOMMU/vfio, NICs, NUMA, isolated cores, io_uring; exit 1 on a\n"
                 "                    FAIL for the configured backend\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string config_dir, data_dir;
    bool check = false, show_identity = false, doctor = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if ((a == "--config" || a == "--data") && i + 1 < argc) {
            (a == "--config" ? config_dir : data_dir) = argv[++i];
        } else if (a == "--check-config") {
            check = true;
        } else if (a == "--show-identity") {
            show_identity = true;
        } else if (a == "--doctor") {
            doctor = true;
        } else if (a == "--help" || a == "-h") {
            usage(nullptr);
            return 0;
        } else {
            return usage(("unknown argument: " + a).c_str());
        }
    }
    if (!voxa::crypto::init()) {
        std::fprintf(stderr, "voxa-dataplane: libsodium failed to initialise\n");
        return 1;
    }

    std::string error;
    if (show_identity) {
        const char* env = std::getenv("VOXA_DATA_PATH");
        const std::string dir = !data_dir.empty() ? data_dir : env != nullptr ? env : "data";
        auto id = voxa::crypto::Identity::load_or_create(std::filesystem::path(dir) / "local", &error);
        if (!id) {
            std::fprintf(stderr, "voxa-dataplane: %s\n", error.c_str());
            return 1;
        }
        std::printf("{\"node_id\":\"%s\",\"public_key\":\"%s\"}\n", voxa::to_hex(id->id()).c_str(),
                    voxa::to_hex(id->peer().ed25519).c_str());
        return 0;
    }

    if (doctor) {
        // The configured backend decides which findings are fatal; without a readable config, check for io_uring.
        std::string why;
        auto c = voxa::config::load_from_environment(config_dir, data_dir, &why);
        const std::string backend = c ? c->dataplane.backend : "io_uring";
        if (!c) std::printf("WARN  config: %s (checking for io_uring)\n", why.c_str());
        voxa::daemon::DoctorOptions options;
        options.backend = backend;
        options.dpdk_no_huge = c && c->dataplane.dpdk.no_huge;
        return voxa::daemon::run_doctor(options, stdout);
    }
    auto config = voxa::config::load_from_environment(config_dir, data_dir, &error);
    if (!config) {
        std::fprintf(stderr, "voxa-dataplane: %s\n", error.c_str());
        return 1;
    }
    for (const auto& w : config->warnings) voxa::log(voxa::LogLevel::kWarn, w);
    if (check) {
        std::printf("%s\n", voxa::config::to_json(*config).dump(2).c_str());
        return 0;
    }
    voxa::LogLevel level = voxa::LogLevel::kInfo;
    if (voxa::parse_log_level(config->settings.log_level, &level)) voxa::set_log_level(level);
#ifndef VOXA_HAVE_DPDK
    if (config->dataplane.backend == "dpdk") {
        voxa::log(voxa::LogLevel::kError,
                  "backend \"dpdk\" is not available: this build has no DPDK (install libdpdk-dev, rebuild with "
                  "-Ddpdk=enabled)",
                  {{"backend", config->dataplane.backend}, {"file", (config->config_dir / "dataplane.json").string()}});
        return 1;
    }
#endif

    auto daemon = voxa::daemon::Daemon::create(*config, &error);
    if (!daemon) {
        voxa::log(voxa::LogLevel::kError, "start-up failed", {{"error", error}});
        return 1;
    }
    g_daemon = daemon.get();
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    const int rc = daemon->run(g_stop);
    g_daemon = nullptr;
    daemon.reset();
    voxa::log(voxa::LogLevel::kInfo, "stopped");
    return rc;
}
