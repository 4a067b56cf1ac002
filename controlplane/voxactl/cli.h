// What the parts of voxactl share: the global options, exit codes, and the two families of verbs.
//
//   REST verbs (rest_verbs.cpp): talk to voxa-control's api plugin over HTTP; the address comes from --api, else
//     <data>/run/api_port (written by the api plugin, also for an ephemeral port), else settings.json
//     "server-settings"; the bearer token from <data>/local/api_token when that file exists.
//   Registry verbs (registry_verbs.cpp): `registry ...` and `names ...`, REST verbs over the registry's routes.
//   Local verbs (local_verbs.cpp): talk to voxa-dataplane's delivery socket <data>/run/voxa.sock (or --socket):
//     send, reply, recv, message-status, local-stats, resolve (names the registry pushed to the data plane).
//
// Exit codes: 0 ok, 1 failure (message on stderr naming the URL or socket and what went wrong), 2 usage.
// Everything runs on the main thread.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http/http_client.h"

namespace voxa::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFail = 1;
inline constexpr int kExitUsage = 2;

struct Globals {
    std::filesystem::path config_dir = "config";   // --config, else $VOXA_CONFIG_PATH, else ./config
    std::filesystem::path data_dir = "data";       // --data, else $VOXA_DATA_PATH, else ./data
    std::optional<std::string> api;                // --api URL
    std::optional<std::filesystem::path> socket;   // --socket PATH (local verbs)
    bool json = false;                             // --json: print the raw JSON body
    int timeout_ms = 10000;                        // --timeout S: each REST request
};

// Prints "voxactl: <why>" on stderr and returns kExitFail.
int failure(const std::string& why);
// Prints "voxactl: <why>" (if any) and `help` on stderr; returns kExitUsage.
int usage_error(const std::string& why, const char* help);
// True when args (after the verb) contains --help or -h.
bool wants_help(const std::vector<std::string>& args);

bool is_rest_verb(const std::string& verb);
bool is_local_verb(const std::string& verb);
// The help text of one verb (nullptr if unknown).
const char* rest_verb_help(const std::string& verb);
const char* local_verb_help(const std::string& verb);

// Runs one verb with the arguments that follow it. Returns an exit code.
int run_rest_verb(const Globals& g, const std::string& verb, std::vector<std::string> args);
int run_local_verb(const Globals& g, const std::string& verb, std::vector<std::string> args);

// The registry's verbs (registry_verbs.cpp): `registry ...` and `names ...` over the registry routes.
bool is_registry_verb(const std::string& verb);
int run_registry_verb(const Globals& g, const std::string& verb, std::vector<std::string> args);

// ---- the REST plumbing every REST verb family shares (rest_verbs.cpp) ----

// Where the API is and the token to present.
struct Api {
    Url url;
    std::string token;              // "" when the file is missing
    std::filesystem::path token_path;
    int timeout_ms = 10000;
};
// --api, else <data>/run/api_port with the host of settings.json, else settings.json "server-settings".
std::optional<Api> locate(const Globals& g, std::string* error);

struct Reply {
    int status = 0;
    std::string text;
    nlohmann::json body;   // discarded when the body is not JSON
};
// Performs one request. A transport failure, or a status not in `accepted`, prints the reason (naming the URL
// and the server's error message) and returns nullopt.
std::optional<Reply> call(const Api& api, const std::string& method, const std::string& path,
                          const std::optional<nlohmann::json>& body, std::initializer_list<int> accepted = {200});

// Printing: a value as text ("-" for null), a field of an object (null when absent), both at once, the first 16
// hex digits of an id, a padded table, aligned key/value lines, the raw body (--json).
std::string text_of(const nlohmann::json& v);
const nlohmann::json& field(const nlohmann::json& obj, const char* key);
std::string f(const nlohmann::json& obj, const char* key);
std::string short_id(const std::string& id);
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
void print_kv(const std::vector<std::pair<std::string, std::string>>& kv);
int print_json(const Reply& r);

}  // namespace voxa::ctl
