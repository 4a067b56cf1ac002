// The node's SQLite database, `<data>/voxa.db`: the plugins' private key-value tables (voxa_host.store_*) and a
// bounded log of operator actions (start, reload, drain, data plane up/down).
//
// Durability: WAL journal with synchronous=FULL, because the plugin ABI promises that a store call is durable
// when it returns (a power cut must not lose an acknowledged write; NORMAL would only survive a process crash).
// Each call is one transaction. The file is mode 0600 (SQLite gives its -wal and -shm files the same mode).
// The schema is versioned with PRAGMA user_version; a database from a newer voxa is refused.
//
// Threads: every method may be called from any thread, concurrently: one connection guarded by a mutex (store
// traffic is small; plugins that need throughput keep their own database).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

struct sqlite3;

namespace voxa::cp {

inline constexpr int kStoreSchemaVersion = 1;
inline constexpr std::size_t kStoreKeyBytesMax = 256;
inline constexpr std::size_t kStoreValueBytesMax = 1u << 20;
inline constexpr int64_t kControlLogRowsMax = 1000;      // older operator actions are dropped
inline constexpr int kStoreBusyTimeoutMs = 5000;

class Store {
public:
    // Opens or creates `path` (its parent must exist), sets WAL, synchronous=FULL and the busy timeout, and
    // creates or checks the schema. nullptr with *error naming the file and the reason.
    static std::unique_ptr<Store> open(const std::filesystem::path& path, std::string* error);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // The plugin KV store. Keys are 1..256 bytes of UTF-8, values a JSON document up to 1 MiB. All return 0 or
    // a negative errno: -EINVAL for a bad key or value, -ENOENT (get, remove) when the key is absent, -EIO when
    // SQLite fails (logged).
    int put(std::string_view plugin, std::string_view key, std::string_view value_json);
    int get(std::string_view plugin, std::string_view key, std::string* value_json);
    int remove(std::string_view plugin, std::string_view key);
    // *json_array = [{"key":..., "value":<the JSON value>}, ...] for keys starting with prefix, in byte order.
    int list(std::string_view plugin, std::string_view prefix, std::string* json_array);

    // Appends one operator action ("start", "reload", "drain", "dataplane_up", ...) with details; keeps the last
    // kControlLogRowsMax rows. Failures are logged, never returned: the log is informational.
    void record_action(std::string_view action, const nlohmann::json& detail);
    // The newest `limit` actions, newest first: [{"id","at_ms","action","detail"}].
    nlohmann::json recent_actions(int limit);

    // PRAGMA journal_mode as SQLite reports it ("wal").
    std::string journal_mode();
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    Store() = default;
    int exec(const char* sql, std::string* error);

    std::filesystem::path path_;
    std::mutex mutex_;
    sqlite3* db_ = nullptr;
};

// True when `text` is valid UTF-8 (no overlongs, no surrogates).
bool valid_utf8(std::string_view text) noexcept;

}  // namespace voxa::cp
