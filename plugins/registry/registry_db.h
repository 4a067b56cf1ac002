// The registry's database, `<data>/registry.db`: the records (NRI, RRI) it holds with their liveness, the name
// records, and Auth's tables (accounts, tokens, sessions, challenges; auth.h). A registry restart loses nothing:
// everything the registry acknowledged is in this file.
//
// Trust: the store keeps opaque canonical bytes plus the few fields it indexes (kind, id, sequence, expiry).
// It does not verify signatures: callers verify (record.h verify(), name_record.h may_replace()) before storing,
// and re-verify what they read back before trusting it.
//
// Durability: WAL with synchronous=FULL (an acknowledged write survives a power cut, as controlplane's Store),
// every write one transaction, file mode 0600, schema versioned with PRAGMA user_version (a newer file is
// refused).
//
// Threads: every method may be called from any thread: one connection guarded by one mutex. Auth (auth.h) shares
// the connection and the mutex through lock() and handle().
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "registry/record.h"
#include "voxa/types.h"

struct sqlite3;
struct sqlite3_stmt;

namespace voxa::registry {

inline constexpr int kRegistryDbSchemaVersion = 1;
inline constexpr int kRegistryDbBusyTimeoutMs = 5000;

enum class Liveness : uint8_t { kLive, kDown };

struct StoredRecord {
    Kind kind = Kind::kNode;
    NodeId id{};
    uint64_t sequence = 0;
    uint64_t expires_s = 0;
    std::vector<uint8_t> bytes;      // the canonical signed record, as the caller stored it
    Liveness liveness = Liveness::kLive;
    uint64_t last_seen_s = 0;        // the last put (new or updated) or heartbeat
    uint64_t stored_s = 0;           // when this sequence was stored
};

enum class PutResult : uint8_t { kNew, kUpdated, kUnchanged, kReplayed, kFull };
std::string_view put_result_name(PutResult r) noexcept;   // "new", "updated", "unchanged", "replayed", "full"

class RegistryDb {
public:
    // Opens or creates `file` (its parent must exist) with mode 0600, WAL, synchronous=FULL and the schema.
    // max_records bounds the records table (NRI + RRI). nullptr with *error naming the file and the reason.
    static std::unique_ptr<RegistryDb> open(const std::filesystem::path& file, std::size_t max_records,
                                            std::string* error);
    ~RegistryDb();
    RegistryDb(const RegistryDb&) = delete;
    RegistryDb& operator=(const RegistryDb&) = delete;

    // Stores a verified record. sequence < held -> kReplayed; == held: identical bytes kUnchanged, else
    // kReplayed (one sequence, one record); > held -> kUpdated; none held -> kNew, or kFull when max_records
    // are held. kNew and kUpdated make the record live with last_seen = stored = now. kReplayed on an SQLite
    // failure too (logged): the caller refuses, nothing half-stored.
    PutResult put_record(Kind kind, const NodeId& id, uint64_t sequence, uint64_t expires_s,
                         std::span<const uint8_t> bytes, uint64_t now_s);
    std::optional<StoredRecord> get_record(Kind kind, const NodeId& id);
    // In id order. live_only: only kLive ones (expired ones are gone after the next purge()).
    std::vector<StoredRecord> list_records(Kind kind, bool live_only);
    // Counts of records of a kind (live_only as above), for status.
    std::size_t count_records(Kind kind, bool live_only);
    // Heartbeat: the records of both kinds of this id become kLive with last_seen = now. True when one of them
    // was down (the live set changed).
    bool mark_seen(const NodeId& id, uint64_t now_s);
    // Live records with last_seen + down_after_s <= now become kDown, except `keep`'s (this node's own, live
    // while it runs); returns their ids (each once).
    std::vector<NodeId> mark_down(uint64_t now_s, uint64_t down_after_s, const NodeId& keep);
    // Marks both kinds of `id` down now (a member following its central registry). False if it was not live.
    bool mark_down_id(const NodeId& id);
    // Deletes down records with last_seen + purge_after_s <= now, records with expires_s <= now and name records
    // with expires_s <= now (an expired name is free for anyone: may_replace treats it as absent). Returns how
    // many rows went.
    std::size_t purge(uint64_t now_s, uint64_t purge_after_s);
    bool remove_record(Kind kind, const NodeId& id);

    // Name records, keyed by name. The caller applies name_record's may_replace first; put_name overwrites.
    std::optional<std::vector<uint8_t>> get_name(std::string_view name);
    // false on an SQLite failure (logged).
    bool put_name(std::string_view name, const PublicKey& owner, uint64_t sequence, uint64_t expires_s,
                  std::span<const uint8_t> bytes);
    std::vector<std::vector<uint8_t>> list_names();   // in name order
    std::size_t count_names();

    // For Auth: the one connection and the mutex guarding it. Hold lock() while using handle().
    std::unique_lock<std::mutex> lock() { return std::unique_lock(mutex_); }
    sqlite3* handle() noexcept { return db_; }
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    RegistryDb() = default;

    std::filesystem::path path_;
    std::size_t max_records_ = 0;
    std::mutex mutex_;
    sqlite3* db_ = nullptr;
};

namespace db {

// A prepared statement that finalizes itself (registry_db.cpp and auth.cpp). Column and bind indexes as SQLite's.
class Stmt {
public:
    Stmt(sqlite3* db, const char* sql);
    ~Stmt();
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    bool ok() const noexcept { return ok_; }
    void text(int i, std::string_view s);
    void blob(int i, std::span<const uint8_t> b);
    void integer(int i, int64_t v);
    void u64(int i, uint64_t v);   // clamped to INT64_MAX (SQLite integers are signed)
    int step();                    // SQLITE_ROW, SQLITE_DONE or an error code
    std::string column_text(int i);
    std::vector<uint8_t> column_blob(int i);
    int64_t column_int(int i);
    uint64_t column_u64(int i);    // negative -> 0
    template <std::size_t N>
    std::array<uint8_t, N> column_array(int i) {
        std::array<uint8_t, N> out{};
        auto const b = column_blob(i);
        if (b.size() == N) std::copy(b.begin(), b.end(), out.begin());
        return out;
    }

private:
    sqlite3_stmt* stmt_ = nullptr;
    bool ok_ = false;
};

// sqlite3_exec; false with *error (may be null) on failure.
bool exec(sqlite3* db, const char* sql, std::string* error);
// Logs an SQLite failure of `operation` (with sqlite3_errmsg).
void log_failure(sqlite3* db, std::string_view operation);
// Number of rows the last statement changed.
int64_t changes(sqlite3* db);

// Runs `body` in one IMMEDIATE transaction; body returns false to roll back. True when it committed. The caller
// holds the database's lock.
template <typename Body>
bool transaction(sqlite3* db, const char* operation, Body&& body) {
    if (!exec(db, "BEGIN IMMEDIATE;", nullptr)) {
        log_failure(db, operation);
        return false;
    }
    if (!body()) {
        exec(db, "ROLLBACK;", nullptr);
        return false;
    }
    if (!exec(db, "COMMIT;", nullptr)) {
        log_failure(db, operation);
        exec(db, "ROLLBACK;", nullptr);
        return false;
    }
    return true;
}

}  // namespace db

}  // namespace voxa::registry
