#include "store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/log.h"
#include "common/private_file.h"

namespace voxa::cp {

namespace {

using nlohmann::json;

// A prepared statement that finalizes itself.
class Stmt {
public:
    Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
    ~Stmt() { sqlite3_finalize(stmt_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    bool ok() const noexcept { return rc_ == SQLITE_OK && stmt_ != nullptr; }
    sqlite3_stmt* get() const noexcept { return stmt_; }
    void text(int i, std::string_view s) { sqlite3_bind_text(stmt_, i, s.data(), int(s.size()), SQLITE_TRANSIENT); }
    void integer(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
    int step() { return sqlite3_step(stmt_); }
    std::string column_text(int i) {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
        return p == nullptr ? std::string() : std::string(p, std::size_t(sqlite3_column_bytes(stmt_, i)));
    }

private:
    sqlite3_stmt* stmt_ = nullptr;
    int rc_ = SQLITE_ERROR;
};

int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int check_key(std::string_view key) {
    return key.empty() || key.size() > kStoreKeyBytesMax || !valid_utf8(key) ? -EINVAL : 0;
}

int sqlite_failure(sqlite3* db, std::string_view what) {
    voxa::log(LogLevel::kError, "store: SQLite failed", {{"operation", what}, {"error", sqlite3_errmsg(db)}});
    return -EIO;
}

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS plugin_kv ("
    "  plugin TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (plugin, key)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS control_log ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL);";

}  // namespace

bool valid_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        auto const c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;   // truncated sequence
        for (std::size_t k = 1; k <= n; ++k) {
            auto const d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = cp << 6 | (d & 0x3F);
        }
        static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
        if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

std::unique_ptr<Store> Store::open(const std::filesystem::path& path, std::string* error) {
    // 0600 from its first byte (SQLite would use the umask); SQLite gives -wal and -shm the main file's mode.
    if (std::string why; !ensure_private_file(path, &why)) {
        *error = "database " + path.string() + ": " + why;
        return nullptr;
    }

    std::unique_ptr<Store> s(new Store());
    s->path_ = path;
    int const rc = sqlite3_open_v2(path.c_str(), &s->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        *error = "database " + path.string() + ": " + (s->db_ != nullptr ? sqlite3_errmsg(s->db_) : sqlite3_errstr(rc));
        return nullptr;
    }
    sqlite3_busy_timeout(s->db_, kStoreBusyTimeoutMs);
    std::string why;
    if (s->exec("PRAGMA journal_mode=WAL;", &why) != 0 || s->exec("PRAGMA synchronous=FULL;", &why) != 0 ||
        s->exec("PRAGMA foreign_keys=ON;", &why) != 0) {
        *error = "database " + path.string() + ": " + why;
        return nullptr;
    }
    if (s->journal_mode() != "wal") {
        *error = "database " + path.string() + ": cannot switch to WAL mode (journal_mode is " + s->journal_mode() + ")";
        return nullptr;
    }
    int version = 0;
    {
        Stmt q(s->db_, "PRAGMA user_version;");
        if (q.ok() && q.step() == SQLITE_ROW) version = sqlite3_column_int(q.get(), 0);
    }
    if (version > kStoreSchemaVersion) {
        *error = "database " + path.string() + ": schema version " + std::to_string(version) +
                 " is newer than this voxa understands (" + std::to_string(kStoreSchemaVersion) +
                 "); use the newer voxa or move the file away";
        return nullptr;
    }
    if (version < kStoreSchemaVersion) {
        std::string const migrate = std::string("BEGIN IMMEDIATE;") + kSchema + "PRAGMA user_version=" +
                                    std::to_string(kStoreSchemaVersion) + ";COMMIT;";
        if (s->exec(migrate.c_str(), &why) != 0) {
            s->exec("ROLLBACK;", nullptr);
            *error = "database " + path.string() + ": cannot create the schema: " + why;
            return nullptr;
        }
    }
    return s;
}

Store::~Store() {
    if (db_ != nullptr) sqlite3_close_v2(db_);
}

int Store::exec(const char* sql, std::string* error) {
    char* message = nullptr;
    int const rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        if (error != nullptr) *error = message != nullptr ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        return -EIO;
    }
    return 0;
}

std::string Store::journal_mode() {
    std::lock_guard lock(mutex_);
    Stmt q(db_, "PRAGMA journal_mode;");
    return q.ok() && q.step() == SQLITE_ROW ? q.column_text(0) : std::string();
}

int Store::put(std::string_view plugin, std::string_view key, std::string_view value_json) {
    if (check_key(key) != 0 || value_json.size() > kStoreValueBytesMax || !json::accept(value_json)) return -EINVAL;
    std::lock_guard lock(mutex_);
    Stmt q(db_,
           "INSERT INTO plugin_kv (plugin, key, value, updated_at) VALUES (?1, ?2, ?3, ?4) "
           "ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at;");
    if (!q.ok()) return sqlite_failure(db_, "put");
    q.text(1, plugin);
    q.text(2, key);
    q.text(3, value_json);
    q.integer(4, unix_ms());
    return q.step() == SQLITE_DONE ? 0 : sqlite_failure(db_, "put");
}

int Store::get(std::string_view plugin, std::string_view key, std::string* value_json) {
    if (check_key(key) != 0) return -EINVAL;
    std::lock_guard lock(mutex_);
    Stmt q(db_, "SELECT value FROM plugin_kv WHERE plugin = ?1 AND key = ?2;");
    if (!q.ok()) return sqlite_failure(db_, "get");
    q.text(1, plugin);
    q.text(2, key);
    int const rc = q.step();
    if (rc == SQLITE_DONE) return -ENOENT;
    if (rc != SQLITE_ROW) return sqlite_failure(db_, "get");
    *value_json = q.column_text(0);
    return 0;
}

int Store::remove(std::string_view plugin, std::string_view key) {
    if (check_key(key) != 0) return -EINVAL;
    std::lock_guard lock(mutex_);
    Stmt q(db_, "DELETE FROM plugin_kv WHERE plugin = ?1 AND key = ?2;");
    if (!q.ok()) return sqlite_failure(db_, "delete");
    q.text(1, plugin);
    q.text(2, key);
    if (q.step() != SQLITE_DONE) return sqlite_failure(db_, "delete");
    return sqlite3_changes(db_) > 0 ? 0 : -ENOENT;
}

int Store::list(std::string_view plugin, std::string_view prefix, std::string* json_array) {
    if (prefix.size() > kStoreKeyBytesMax || !valid_utf8(prefix)) return -EINVAL;
    json out = json::array();
    {
        std::lock_guard lock(mutex_);
        // Keys compare as bytes (BINARY collation), so the keys with the prefix are one contiguous run from it.
        Stmt q(db_, "SELECT key, value FROM plugin_kv WHERE plugin = ?1 AND key >= ?2 ORDER BY key;");
        if (!q.ok()) return sqlite_failure(db_, "list");
        q.text(1, plugin);
        q.text(2, prefix);
        int rc = 0;
        while ((rc = q.step()) == SQLITE_ROW) {
            std::string key = q.column_text(0);
            if (key.compare(0, prefix.size(), prefix) != 0) break;
            out.push_back({{"key", std::move(key)}, {"value", json::parse(q.column_text(1), nullptr, false)}});
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite_failure(db_, "list");
    }
    *json_array = out.dump();
    return 0;
}

void Store::record_action(std::string_view action, const json& detail) {
    std::lock_guard lock(mutex_);
    if (exec("BEGIN IMMEDIATE;", nullptr) != 0) {
        sqlite_failure(db_, "control log");
        return;
    }
    bool ok = false;
    {
        Stmt q(db_, "INSERT INTO control_log (at_ms, action, detail) VALUES (?1, ?2, ?3);");
        if (q.ok()) {
            q.integer(1, unix_ms());
            q.text(2, action);
            q.text(3, detail.dump());
            ok = q.step() == SQLITE_DONE;
        }
    }
    if (ok) {
        Stmt trim(db_, "DELETE FROM control_log WHERE id <= (SELECT max(id) FROM control_log) - ?1;");
        if (trim.ok()) {
            trim.integer(1, kControlLogRowsMax);
            ok = trim.step() == SQLITE_DONE;
        } else {
            ok = false;
        }
    }
    if (!ok) sqlite_failure(db_, "control log");
    exec(ok ? "COMMIT;" : "ROLLBACK;", nullptr);
}

json Store::recent_actions(int limit) {
    json out = json::array();
    std::lock_guard lock(mutex_);
    Stmt q(db_, "SELECT id, at_ms, action, detail FROM control_log ORDER BY id DESC LIMIT ?1;");
    if (!q.ok()) return out;
    q.integer(1, limit);
    while (q.step() == SQLITE_ROW) {
        out.push_back({{"id", sqlite3_column_int64(q.get(), 0)},
                       {"at_ms", sqlite3_column_int64(q.get(), 1)},
                       {"action", q.column_text(2)},
                       {"detail", json::parse(q.column_text(3), nullptr, false)}});
    }
    return out;
}

}  // namespace voxa::cp
