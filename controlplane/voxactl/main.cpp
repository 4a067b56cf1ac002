// voxactl: the operator's command line. REST verbs talk to voxa-control's api plugin (rest_verbs.cpp); local verbs
// talk to voxa-dataplane's delivery socket (local_verbs.cpp). This file parses the global options and dispatches.
// docs/API.md ("voxactl") lists every verb. Exit codes: 0 ok, 1 failure (reason on stderr), 2 usage.
#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli.h"
#include "http/http_client.h"

namespace voxa::ctl {

namespace {

constexpr const char* kUsage =
    "usage: voxactl [--config DIR] [--data DIR] [--api URL] [--socket PATH] [--timeout S] [--json] <verb> [options]\n"
    "  --config DIR   config directory (default $VOXA_CONFIG_PATH or ./config): settings.json server-settings\n"
    "  --data DIR     data directory (default $VOXA_DATA_PATH or ./data): run/api_port, local/api_token,\n"
    "                 run/voxa.sock\n"
    "  --api URL      the REST API, e.g. http://127.0.0.1:9999 (default: run/api_port, else server-settings)\n"
    "  --socket PATH  the data plane's local socket (default DIR/run/voxa.sock)\n"
    "  --timeout S    per REST request (default 10)\n"
    "  --json         print the raw JSON body\n"
    "REST verbs (voxa-control):\n"
    "  status | health | ready | version | settings | peers | circuits | paths | metrics\n"
    "  stats [--watch] [--interval S] [--count N]\n"
    "  reload | drain [--deadline S] | log-level debug|info|warn|error      (these need the API token)\n"
    "registry verbs (the registry plugin's routes):\n"
    "  registry status|nodes|relays|fetch ID|sessions|accounts [add NAME|delete NAME]|login NAME|\n"
    "           tokens [issue ACCOUNT --scopes L|revoke ID]|remove nri|rri ID\n"
    "  names list|resolve NAME|claim NAME [--target ID] [--service S] [--ttl S] [--transfer-to KEY]\n"
    "  (passwords from VOXA_PASSWORD or stdin; VOXA_REGISTRY_TOKEN replaces the API token for admin commands)\n"
    "local verbs (voxa-dataplane's socket):\n"
    "  send <node-id-hex>|NAME (--data TEXT | --file PATH) [--chunk BYTES] [--no-wait] [--timeout SECONDS]\n"
    "  reply <message-id-hex> (--data TEXT | --file PATH) [--chunk BYTES] [--no-wait] [--timeout SECONDS]\n"
    "  recv [--count N] [--timeout SECONDS] [--out-dir DIR] [--json]\n"
    "  message-status <message-id-hex>\n"
    "  local-stats\n"
    "  resolve NAME   (a name pushed to the data plane by the registry; --json)\n"
    "`voxactl VERB --help` describes one verb. Exit codes: 0 ok, 1 failure, 2 usage.\n";

}  // namespace

int failure(const std::string& why) {
    std::fprintf(stderr, "voxactl: %s\n", why.c_str());
    return kExitFail;
}

int usage_error(const std::string& why, const char* help) {
    if (!why.empty()) std::fprintf(stderr, "voxactl: %s\n", why.c_str());
    std::fputs(help != nullptr ? help : kUsage, stderr);
    return kExitUsage;
}

bool wants_help(const std::vector<std::string>& args) {
    for (const auto& a : args)
        if (a == "--help" || a == "-h") return true;
    return false;
}

namespace {

int run(int argc, char** argv) {
    if (sodium_init() < 0) return failure("libsodium failed to start");
    std::vector<std::string> args(argv + 1, argv + argc);
    Globals g;
    if (const char* env = std::getenv("VOXA_DATA_PATH"); env != nullptr && *env != '\0') g.data_dir = env;
    if (const char* env = std::getenv("VOXA_CONFIG_PATH"); env != nullptr && *env != '\0') g.config_dir = env;
    std::size_t at = 0;
    for (; at < args.size() && args[at].starts_with("-"); ++at) {
        std::string const& a = args[at];
        if (a == "--help" || a == "-h") {
            std::fputs(kUsage, stdout);
            return kExitOk;
        }
        if (a == "--json") {
            g.json = true;
            continue;
        }
        if (at + 1 >= args.size()) return usage_error("option " + a + " wants a value", nullptr);
        std::string const& v = args[++at];
        if (a == "--data") {
            g.data_dir = v;
        } else if (a == "--config") {
            g.config_dir = v;
        } else if (a == "--socket") {
            g.socket = v;
        } else if (a == "--api") {
            std::string error;
            if (!parse_url(v, &error)) return usage_error(error, nullptr);
            g.api = v;
        } else if (a == "--timeout") {
            char* end = nullptr;
            double const s = std::strtod(v.c_str(), &end);
            if (end != v.c_str() + v.size() || !(s > 0) || s > 3600)
                return usage_error("--timeout wants seconds, up to 3600", nullptr);
            g.timeout_ms = int(s * 1000);
        } else {
            return usage_error("unknown option " + a, nullptr);
        }
    }
    if (at >= args.size()) return usage_error("no verb", nullptr);
    std::string verb = args[at++];
    std::vector<std::string> rest(args.begin() + std::ptrdiff_t(at), args.end());
    // The old local `status MSGID` (before the REST API existed): with a message id, status is message-status.
    if (verb == "status" && !rest.empty() && rest[0].size() == 32 &&
        rest[0].find_first_not_of("0123456789abcdefABCDEF") == std::string::npos)
        verb = "message-status";
    if (is_rest_verb(verb)) return run_rest_verb(g, verb, std::move(rest));
    if (is_registry_verb(verb)) return run_registry_verb(g, verb, std::move(rest));
    if (is_local_verb(verb)) return run_local_verb(g, verb, std::move(rest));
    return usage_error("unknown verb " + verb, nullptr);
}

}  // namespace
}  // namespace voxa::ctl

int main(int argc, char** argv) {
    try {
        return voxa::ctl::run(argc, argv);
    } catch (const std::exception& e) {   // e.g. std::bad_alloc; nlohmann is used without exceptions otherwise
        std::fprintf(stderr, "voxactl: %s\n", e.what());
        return voxa::ctl::kExitFail;
    }
}
