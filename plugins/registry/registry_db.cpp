#include "registry/registry_db.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "common/log.h"
#include "common/private_file.h"

namespace voxa::registry {

namespace db {

Stmt::Stmt(sqlite3* db, const char* sql) {
    ok_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) == SQLITE_OK && stmt_ != nullptr;
}
Stmt::~Stmt() { sqlite3_finalize(stmt_); }
void Stmt::text(int i, std::string_view s) {
    sqlite3_bind_text(stmt_, i, s.data(), int(s.size()), SQLITE_TRANSIENT);
}
void Stmt::blob(int i, std::span<const uint8_t> b) {
    // A zero-length blob is still a blob (not NULL): bind a valid pointer.
    static constexpr uint8_t kEmpty = 0;
    sqlite3_bind_blob(stmt_, i, b.empty() ? &kEmpty : b.data(), int(b.size()), SQLITE_TRANSIENT);
}
void Stmt::integer(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
void Stmt::u64(int i, uint64_t v) {
    integer(i, int64_t(std::min<uint64_t>(v, uint64_t(std::numeric_limits<int64_t>::max()))));
}
int Stmt::step() { return sqlite3_step(stmt_); }
std::string Stmt::column_text(int i) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return p == nullptr ? std::string() : std::string(p, std::size_t(sqlite3_column_bytes(stmt_, i)));
}
std::vector<uint8_t> Stmt::column_blob(int i) {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, i));
    int const n = sqlite3_column_bytes(stmt_, i);
    return p == nullptr || n <= 0 ? std::vector<uint8_t>() : std::vector<uint8_t>(p, p + n);
}
int64_t Stmt::column_int(int i) { return sqlite3_column_int64(stmt_, i); }
uint64_t Stmt::column_u64(int i) {
    int64_t const v = column_int(i);
    return v < 0 ? 0 : uint64_t(v);
}

bool exec(sqlite3* db, const char* sql, std::string* error) {
    char* message = nullptr;
    int const rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        if (error != nullptr) *error = message != nullptr ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        return false;
    }
    return true;
}

void log_failure(sqlite3* db, std::string_view operation) {
    voxa::log(LogLevel::kError, "registry db: SQLite failed", {{"operation", operation}, {"error", sqlite3_errmsg(db)}});
}

int64_t changes(sqlite3* db) { return sqlite3_changes64(db); }

}  // namespace db

namespace {

using db::Stmt;

// Version 1. Auth's tables live here too so that one user_version covers the whole file.
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS records ("
    "  kind INTEGER NOT NULL, id BLOB NOT NULL, sequence INTEGER NOT NULL, expires_s INTEGER NOT NULL,"
    "  bytes BLOB NOT NULL, live INTEGER NOT NULL, last_seen_s INTEGER NOT NULL, stored_s INTEGER NOT NULL,"
    "  PRIMARY KEY (kind, id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS records_by_id ON records (id);"
    "CREATE TABLE IF NOT EXISTS names ("
    "  name TEXT PRIMARY KEY, owner BLOB NOT NULL, sequence INTEGER NOT NULL, expires_s INTEGER NOT NULL,"
    "  bytes BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS accounts ("
    "  name TEXT PRIMARY KEY, pwhash TEXT NOT NULL, role TEXT NOT NULL, created_s INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS tokens ("
    "  id TEXT PRIMARY KEY, hash BLOB NOT NULL, account TEXT NOT NULL, scopes INTEGER NOT NULL,"
    "  label TEXT NOT NULL, created_s INTEGER NOT NULL, expires_s INTEGER NOT NULL, revoked INTEGER NOT NULL)"
    "  WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS sessions ("
    "  hash BLOB PRIMARY KEY, node_id BLOB NOT NULL, public_key BLOB NOT NULL, created_s INTEGER NOT NULL,"
    "  expires_s INTEGER NOT NULL, last_seen_s INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS sessions_by_node ON sessions (node_id);"
    "CREATE TABLE IF NOT EXISTS challenges ("
    "  nonce BLOB PRIMARY KEY, node_key BLOB NOT NULL, expires_s INTEGER NOT NULL, used INTEGER NOT NULL,"
    "  issued INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS challenges_by_issue ON challenges (issued);";

StoredRecord read_record(Stmt& q) {
    // Column order of kRecordColumns.
    StoredRecord r;
    r.kind = Kind(q.column_int(0));
    r.id = q.column_array<kNodeIdBytes>(1);
    r.sequence = q.column_u64(2);
    r.expires_s = q.column_u64(3);
    r.bytes = q.column_blob(4);
    r.liveness = q.column_int(5) != 0 ? Liveness::kLive : Liveness::kDown;
    r.last_seen_s = q.column_u64(6);
    r.stored_s = q.column_u64(7);
    return r;
}

#define VOXA_RECORD_COLUMNS "kind, id, sequence, expires_s, bytes, live, last_seen_s, stored_s"

}  // namespace

std::string_view put_result_name(PutResult r) noexcept {
    switch (r) {
        case PutResult::kNew: return "new";
        case PutResult::kUpdated: return "updated";
        case PutResult::kUnchanged: return "unchanged";
        case PutResult::kReplayed: return "replayed";
        case PutResult::kFull: return "full";
    }
    return "unknown";
}

std::unique_ptr<RegistryDb> RegistryDb::open(const std::filesystem::path& file, std::size_t max_records,
                                             std::string* error) {
    // 0600 from its first byte (SQLite would use the umask); SQLite gives -wal and -shm the main file's mode.
    if (std::string why; !ensure_private_file(file, &why)) {
        *error = "registry database " + file.string() + ": " + why;
        return nullptr;
    }

    std::unique_ptr<RegistryDb> d(new RegistryDb());
    d->path_ = file;
    d->max_records_ = max_records;
    auto const fail = [&](const std::string& why) {
        *error = "registry database " + file.string() + ": " + why;
        return nullptr;
    };
    int const rc = sqlite3_open_v2(file.c_str(), &d->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (rc != SQLITE_OK) return fail(d->db_ != nullptr ? sqlite3_errmsg(d->db_) : sqlite3_errstr(rc));
    sqlite3_busy_timeout(d->db_, kRegistryDbBusyTimeoutMs);
    std::string why;
    if (!db::exec(d->db_, "PRAGMA journal_mode=WAL;", &why) || !db::exec(d->db_, "PRAGMA synchronous=FULL;", &why))
        return fail(why);
    {
        Stmt q(d->db_, "PRAGMA journal_mode;");
        std::string const mode = q.ok() && q.step() == SQLITE_ROW ? q.column_text(0) : std::string();
        if (mode != "wal") return fail("cannot switch to WAL mode (journal_mode is " + mode + ")");
    }
    int version = 0;
    {
        Stmt q(d->db_, "PRAGMA user_version;");
        if (!q.ok() || q.step() != SQLITE_ROW) return fail(std::string("not a database: ") + sqlite3_errmsg(d->db_));
        version = int(q.column_int(0));
    }
    if (version > kRegistryDbSchemaVersion) {
        return fail("schema version " + std::to_string(version) + " is newer than this voxa understands (" +
                    std::to_string(kRegistryDbSchemaVersion) + "); use the newer voxa or move the file away");
    }
    if (version < kRegistryDbSchemaVersion) {
        std::string const migrate = std::string("BEGIN IMMEDIATE;") + kSchema + "PRAGMA user_version=" +
                                    std::to_string(kRegistryDbSchemaVersion) + ";COMMIT;";
        if (!db::exec(d->db_, migrate.c_str(), &why)) {
            db::exec(d->db_, "ROLLBACK;", nullptr);
            return fail("cannot create the schema: " + why);
        }
    }
    return d;
}

RegistryDb::~RegistryDb() {
    if (db_ != nullptr) sqlite3_close_v2(db_);
}

PutResult RegistryDb::put_record(Kind kind, const NodeId& id, uint64_t sequence, uint64_t expires_s,
                                 std::span<const uint8_t> bytes, uint64_t now_s) {
    std::lock_guard lock(mutex_);
    // The read and the write in one transaction: two writers of the same id cannot both win. The body returns
    // true only when it wrote; `result` says what happened either way.
    PutResult result = PutResult::kReplayed;
    bool const wrote = db::transaction(db_, "put_record", [&] {
        bool held = false;
        {
            Stmt q(db_, "SELECT sequence, bytes FROM records WHERE kind = ?1 AND id = ?2;");
            if (!q.ok()) {
                db::log_failure(db_, "put_record read");
                return false;
            }
            q.integer(1, int(kind));
            q.blob(2, id);
            int const rc = q.step();
            if (rc == SQLITE_ROW) {
                held = true;
                uint64_t const held_sequence = q.column_u64(0);
                if (sequence < held_sequence) return false;
                if (sequence == held_sequence) {
                    auto const held_bytes = q.column_blob(1);
                    if (std::equal(held_bytes.begin(), held_bytes.end(), bytes.begin(), bytes.end()))
                        result = PutResult::kUnchanged;
                    return false;
                }
            } else if (rc != SQLITE_DONE) {
                db::log_failure(db_, "put_record read");
                return false;
            }
        }
        if (!held) {
            Stmt c(db_, "SELECT COUNT(*) FROM records;");
            if (!c.ok() || c.step() != SQLITE_ROW) {
                db::log_failure(db_, "put_record count");
                return false;
            }
            if (c.column_u64(0) >= max_records_) {
                result = PutResult::kFull;
                return false;
            }
        }
        Stmt w(db_,
               "INSERT INTO records (" VOXA_RECORD_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6) "
               "ON CONFLICT (kind, id) DO UPDATE SET sequence = excluded.sequence, expires_s = excluded.expires_s,"
               " bytes = excluded.bytes, live = 1, last_seen_s = excluded.last_seen_s, stored_s = excluded.stored_s;");
        if (!w.ok()) {
            db::log_failure(db_, "put_record write");
            return false;
        }
        w.integer(1, int(kind));
        w.blob(2, id);
        w.u64(3, sequence);
        w.u64(4, expires_s);
        w.blob(5, bytes);
        w.u64(6, now_s);
        if (w.step() != SQLITE_DONE) {
            db::log_failure(db_, "put_record write");
            return false;
        }
        result = held ? PutResult::kUpdated : PutResult::kNew;
        return true;
    });
    // A write whose commit failed stored nothing: refused like a replay (the sender retries with a newer one).
    return wrote || result == PutResult::kUnchanged || result == PutResult::kFull ? result : PutResult::kReplayed;
}

std::optional<StoredRecord> RegistryDb::get_record(Kind kind, const NodeId& id) {
    std::lock_guard lock(mutex_);
    Stmt q(db_, "SELECT " VOXA_RECORD_COLUMNS " FROM records WHERE kind = ?1 AND id = ?2;");
    if (!q.ok()) {
        db::log_failure(db_, "get_record");
        return std::nullopt;
    }
    q.integer(1, int(kind));
    q.blob(2, id);
    if (q.step() != SQLITE_ROW) return std::nullopt;
    return read_record(q);
}

std::vector<StoredRecord> RegistryDb::list_records(Kind kind, bool live_only) {
    std::lock_guard lock(mutex_);
    Stmt q(db_, "SELECT " VOXA_RECORD_COLUMNS " FROM records WHERE kind = ?1 AND (?2 = 0 OR live = 1) ORDER BY id;");
    std::vector<StoredRecord> out;
    if (!q.ok()) {
        db::log_failure(db_, "list_records");
        return out;
    }
    q.integer(1, int(kind));
    q.integer(2, live_only ? 1 : 0);
    while (q.step() == SQLITE_ROW) out.push_back(read_record(q));
    return out;
}

std::size_t RegistryDb::count_records(Kind kind, bool live_only) {
    std::lock_guard lock(mutex_);
    Stmt q(db_, "SELECT COUNT(*) FROM records WHERE kind = ?1 AND (?2 = 0 OR live = 1);");
    if (!q.ok()) return 0;
    q.integer(1, int(kind));
    q.integer(2, live_only ? 1 : 0);
    return q.step() == SQLITE_ROW ? std::size_t(q.column_u64(0)) : 0;
}

bool RegistryDb::mark_seen(const NodeId& id, uint64_t now_s) {
    std::lock_guard lock(mutex_);
    bool revived = false;
    {
        Stmt q(db_, "SELECT 1 FROM records WHERE id = ?1 AND live = 0 LIMIT 1;");
        if (!q.ok()) {
            db::log_failure(db_, "mark_seen");
            return false;
        }
        q.blob(1, id);
        revived = q.step() == SQLITE_ROW;
    }
    Stmt q(db_, "UPDATE records SET live = 1, last_seen_s = MAX(last_seen_s, ?2) WHERE id = ?1;");
    if (!q.ok()) {
        db::log_failure(db_, "mark_seen");
        return false;
    }
    q.blob(1, id);
    q.u64(2, now_s);
    if (q.step() != SQLITE_DONE) db::log_failure(db_, "mark_seen");
    return revived;
}

std::vector<NodeId> RegistryDb::mark_down(uint64_t now_s, uint64_t down_after_s, const NodeId& keep) {
    std::vector<NodeId> out;
    if (down_after_s > now_s) return out;   // nothing can have been silent that long
    uint64_t const cutoff = now_s - down_after_s;
    std::lock_guard lock(mutex_);
    // RETURNING gives each changed row; both kinds of one id come back as one id.
    Stmt q(db_, "UPDATE records SET live = 0 WHERE live = 1 AND last_seen_s <= ?1 AND id != ?2 RETURNING id;");
    if (!q.ok()) {
        db::log_failure(db_, "mark_down");
        return out;
    }
    q.u64(1, cutoff);
    q.blob(2, keep);
    int rc = 0;
    while ((rc = q.step()) == SQLITE_ROW) {
        auto const id = q.column_array<kNodeIdBytes>(0);
        if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    }
    if (rc != SQLITE_DONE) db::log_failure(db_, "mark_down");
    return out;
}

bool RegistryDb::mark_down_id(const NodeId& id) {
    std::lock_guard lock(mutex_);
    Stmt q(db_, "UPDATE records SET live = 0 WHERE id = ?1 AND live = 1;");
    if (!q.ok()) {
        db::log_failure(db_, "mark_down_id");
        return false;
    }
    q.blob(1, id);
    if (q.step() != SQLITE_DONE) {
        db::log_failure(db_, "mark_down_id");
        return false;
    }
    return sqlite3_changes(db_) > 0;
}

std::size_t RegistryDb::purge(uint64_t now_s, uint64_t purge_after_s) {
    std::lock_guard lock(mutex_);
    std::size_t removed = 0;
    bool const committed = db::transaction(db_, "purge", [&] {
        {
            Stmt q(db_, "DELETE FROM records WHERE expires_s <= ?1 OR (live = 0 AND last_seen_s <= ?2);");
            if (q.ok()) {
                q.u64(1, now_s);
                // A purge_after_s longer than the epoch: no down record is old enough (cutoff -1 matches nothing).
                q.integer(2, purge_after_s > now_s ? -1 : int64_t(now_s - purge_after_s));
                if (q.step() == SQLITE_DONE) removed += std::size_t(db::changes(db_));
            }
        }
        Stmt q(db_, "DELETE FROM names WHERE expires_s <= ?1;");
        if (q.ok()) {
            q.u64(1, now_s);
            if (q.step() == SQLITE_DONE) removed += std::size_t(db::changes(db_));
        }
        return true;
    });
    return committed ? removed : 0;
}

bool RegistryDb::remove_record(Kind kind, const NodeId& id) {
    std::lock_guard lock(mutex_);
    Stmt q(db_, "DELETE FROM records WHERE kind = ?1 AND id = ?2;");
    if (!q.ok()) return false;
    q.integer(1, int(kind));
    q.blob(2, id);
    return q.step() == SQLITE_DONE && db::changes(db_) > 0;
}

std::optional<std::vector<uint8_t>> RegistryDb::get_name(std::string_view name) {
    std::lock_guard lock(mutex_);
    Stmt q(db_, "SELECT bytes FROM names WHERE name = ?1;");
    if (!q.ok()) return std::nullopt;
    q.text(1, name);
    if (q.step() != SQLITE_ROW) return std::nullopt;
    return q.column_blob(0);
}

bool RegistryDb::put_name(std::string_view name, const PublicKey& owner, uint64_t sequence, uint64_t expires_s,
                          std::span<const uint8_t> bytes) {
    std::lock_guard lock(mutex_);
    Stmt q(db_,
           "INSERT INTO names (name, owner, sequence, expires_s, bytes) VALUES (?1, ?2, ?3, ?4, ?5) "
           "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, sequence = excluded.sequence,"
           " expires_s = excluded.expires_s, bytes = excluded.bytes;");
    if (!q.ok()) {
        db::log_failure(db_, "put_name");
        return false;
    }
    q.text(1, name);
    q.blob(2, owner);
    q.u64(3, sequence);
    q.u64(4, expires_s);
    q.blob(5, bytes);
    if (q.step() != SQLITE_DONE) {
        db::log_failure(db_, "put_name");
        return false;
    }
    return true;
}

std::vector<std::vector<uint8_t>> RegistryDb::list_names() {
    std::lock_guard lock(mutex_);
    std::vector<std::vector<uint8_t>> out;
    Stmt q(db_, "SELECT bytes FROM names ORDER BY name;");
    if (!q.ok()) return out;
    while (q.step() == SQLITE_ROW) out.push_back(q.column_blob(0));
    return out;
}

std::size_t RegistryDb::count_names() {
    std::lock_guard lock(mutex_);
    Stmt q(db_, "SELECT COUNT(*) FROM names;");
    return q.ok() && q.step() == SQLITE_ROW ? std::size_t(q.column_u64(0)) : 0;
}

}  // namespace voxa::registry
