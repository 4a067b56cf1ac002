#include "registry/auth.h"

#include <sodium.h>
#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace voxa::registry {

namespace {

using db::Stmt;
using Hash = std::array<uint8_t, 32>;

constexpr std::size_t kRandomBytes = 32;       // of a token or session secret
constexpr std::size_t kRandomTextBytes = 43;   // its base64url text, no padding
constexpr std::size_t kTokenIdBytes = 8;       // 16 hex
constexpr std::size_t kTokenSecretBytes = kTokenPrefix.size() + 2 * kTokenIdBytes + 1 + kRandomTextBytes;
constexpr std::size_t kSessionSecretBytes = kSessionPrefix.size() + kRandomTextBytes;

// Keyed BLAKE2b-256 of a token or session secret; the key is a fixed domain separator (the secrets are 256-bit
// random, so no salt or slow hash is needed; the key keeps these hashes from matching any other use of BLAKE2b).
Hash hash_secret(std::string_view secret) {
    Hash out{};
    crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                       reinterpret_cast<const unsigned char*>(kTokenHashContext.data()), kTokenHashContext.size());
    return out;
}

std::string random_text() {
    std::array<uint8_t, kRandomBytes> raw{};
    randombytes_buf(raw.data(), raw.size());
    char text[sodium_base64_ENCODED_LEN(kRandomBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(text, sizeof(text), raw.data(), raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw.data(), raw.size());
    std::string out(text, kRandomTextBytes);
    sodium_memzero(text, sizeof(text));
    return out;
}

bool is_base64url(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
}

bool is_lower_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool valid_account_name(std::string_view name) {
    return !name.empty() && name.size() <= kAccountNameBytesMax &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
           });
}

void set(std::string* why, std::string text) {
    if (why != nullptr) *why = std::move(text);
}

using db::transaction;

bool step_done(Stmt& q, sqlite3* db, const char* operation) {
    if (!q.ok() || q.step() != SQLITE_DONE) {
        db::log_failure(db, operation);
        return false;
    }
    return true;
}

}  // namespace

std::optional<Scopes> parse_scopes(const std::vector<std::string>& names) {
    if (names.empty()) return std::nullopt;
    Scopes s = 0;
    for (const auto& n : names) {
        if (n == "read") {
            s |= kScopeRead;
        } else if (n == "write") {
            s |= kScopeWrite;
        } else if (n == "admin") {
            s |= kScopeAdmin;
        } else {
            return std::nullopt;
        }
    }
    return s;
}

std::vector<std::string> scope_names(Scopes s) {
    std::vector<std::string> out;
    if ((s & kScopeRead) != 0) out.emplace_back("read");
    if ((s & kScopeWrite) != 0) out.emplace_back("write");
    if ((s & kScopeAdmin) != 0) out.emplace_back("admin");
    return out;
}

bool scopes_grant(Scopes held, Scopes wanted) noexcept {
    if ((held & kScopeAdmin) != 0) return true;
    return (held & wanted) == wanted;
}

std::optional<Scopes> role_scopes(std::string_view role) {
    if (role == "read") return kScopeRead;
    if (role == "write") return Scopes(kScopeRead | kScopeWrite);
    if (role == "admin") return kScopeAdmin;
    return std::nullopt;
}

std::string_view token_check_name(TokenCheck c) noexcept {
    switch (c) {
        case TokenCheck::kOk: return "ok";
        case TokenCheck::kUnknown: return "unknown";
        case TokenCheck::kExpired: return "expired";
        case TokenCheck::kRevoked: return "revoked";
        case TokenCheck::kScope: return "scope";
    }
    return "unknown";
}

std::string_view redeem_check_name(RedeemCheck c) noexcept {
    switch (c) {
        case RedeemCheck::kOk: return "ok";
        case RedeemCheck::kStaleTimestamp: return "stale_timestamp";
        case RedeemCheck::kUnknownNonce: return "unknown_nonce";
        case RedeemCheck::kReusedNonce: return "reused_nonce";
        case RedeemCheck::kExpiredNonce: return "expired_nonce";
        case RedeemCheck::kWrongKey: return "wrong_key";
        case RedeemCheck::kBadSignature: return "bad_signature";
        case RedeemCheck::kFailed: return "failed";
    }
    return "failed";
}

std::string_view session_check_name(SessionCheck c) noexcept {
    switch (c) {
        case SessionCheck::kOk: return "ok";
        case SessionCheck::kUnknown: return "unknown";
        case SessionCheck::kExpired: return "expired";
    }
    return "unknown";
}

std::vector<uint8_t> registration_proof(const PublicKey& registry_key, const PublicKey& node_key,
                                        std::span<const uint8_t, kNonceBytes> nonce, uint64_t timestamp_s) {
    std::vector<uint8_t> out;
    out.reserve(kRegistrationProofBytes);
    out.insert(out.end(), kRegistrationContext.begin(), kRegistrationContext.end());
    out.insert(out.end(), registry_key.begin(), registry_key.end());
    out.insert(out.end(), node_key.begin(), node_key.end());
    out.insert(out.end(), nonce.begin(), nonce.end());
    for (int i = 0; i < 8; ++i) out.push_back(uint8_t(timestamp_s >> (8 * i)));
    return out;
}

Auth::Auth(RegistryDb& db, AuthOptions options) : db_(db), options_(options) {}

const std::string& Auth::dummy_hash() {
    std::call_once(dummy_once_, [this] {
        std::string const password = random_text();
        char out[crypto_pwhash_STRBYTES];
        if (crypto_pwhash_str(out, password.data(), password.size(), options_.pwhash_opslimit,
                              options_.pwhash_memlimit) == 0) {
            dummy_hash_ = out;
        }
    });
    return dummy_hash_;
}

int Auth::create_account(std::string_view name, std::string_view password, std::string_view role, uint64_t now_s,
                         std::string* why) {
    if (!valid_account_name(name)) {
        set(why, "name: expected 1..64 of [a-z0-9_.-]");
        return -EINVAL;
    }
    if (password.size() < kPasswordBytesMin || password.size() > kPasswordBytesMax) {
        set(why, "password: expected 12..1024 bytes");
        return -EINVAL;
    }
    if (!role_scopes(role)) {
        set(why, "role: expected read, write or admin");
        return -EINVAL;
    }
    // The slow hash runs without the database lock.
    char hashed[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hashed, password.data(), password.size(), options_.pwhash_opslimit,
                          options_.pwhash_memlimit) != 0) {
        set(why, "out of memory hashing the password");
        return -EIO;
    }
    auto lock = db_.lock();
    sqlite3* const h = db_.handle();
    Stmt q(h, "INSERT INTO accounts (name, pwhash, role, created_s) VALUES (?1, ?2, ?3, ?4);");
    if (!q.ok()) {
        db::log_failure(h, "create_account");
        return -EIO;
    }
    q.text(1, name);
    q.text(2, hashed);
    q.text(3, role);
    q.u64(4, now_s);
    int const rc = q.step();
    if (rc == SQLITE_CONSTRAINT) {
        set(why, "account " + std::string(name) + " exists");
        return -EEXIST;
    }
    if (rc != SQLITE_DONE) {
        db::log_failure(h, "create_account");
        return -EIO;
    }
    return 0;
}

std::optional<Account> Auth::check_login(std::string_view name, std::string_view password) {
    if (password.size() > kPasswordBytesMax) return std::nullopt;   // bounds the work; length is no secret
    std::optional<Account> account;
    std::string stored;
    if (valid_account_name(name)) {
        auto lock = db_.lock();
        Stmt q(db_.handle(), "SELECT pwhash, role, created_s FROM accounts WHERE name = ?1;");
        if (q.ok()) {
            q.text(1, name);
            if (q.step() == SQLITE_ROW) {
                stored = q.column_text(0);
                account = Account{std::string(name), q.column_text(1), q.column_u64(2)};
            }
        }
    }
    // Unknown names pay the same Argon2id verify (against a dummy hash) so timing does not tell which exist.
    const std::string& against = account ? stored : dummy_hash();
    bool const ok = !against.empty() &&
                    crypto_pwhash_str_verify(against.c_str(), password.data(), password.size()) == 0;
    if (!ok || !account) return std::nullopt;
    return account;
}

std::vector<Account> Auth::list_accounts() {
    auto lock = db_.lock();
    std::vector<Account> out;
    Stmt q(db_.handle(), "SELECT name, role, created_s FROM accounts ORDER BY name;");
    if (!q.ok()) return out;
    while (q.step() == SQLITE_ROW) out.push_back(Account{q.column_text(0), q.column_text(1), q.column_u64(2)});
    return out;
}

int Auth::delete_account(std::string_view name) {
    auto lock = db_.lock();
    sqlite3* const h = db_.handle();
    bool existed = false;
    bool const ok = transaction(h, "delete_account", [&] {
        Stmt del(h, "DELETE FROM accounts WHERE name = ?1;");
        del.text(1, name);
        if (!step_done(del, h, "delete_account")) return false;
        existed = db::changes(h) > 0;
        Stmt revoke(h, "UPDATE tokens SET revoked = 1 WHERE account = ?1;");
        revoke.text(1, name);
        return step_done(revoke, h, "delete_account");
    });
    if (!ok) return -EIO;
    return existed ? 0 : -ENOENT;
}

int Auth::issue_token(std::string_view account, Scopes scopes, uint64_t ttl_s, std::string_view label,
                      uint64_t now_s, IssuedToken* out, std::string* why) {
    if (scopes == 0 || (scopes & ~(kScopeRead | kScopeWrite | kScopeAdmin)) != 0) {
        set(why, "scopes: expected one or more of read, write, admin");
        return -EINVAL;
    }
    if (ttl_s == 0 || ttl_s > kTokenTtlMaxS) {
        set(why, "ttl_s: expected 1.." + std::to_string(kTokenTtlMaxS));
        return -EINVAL;
    }
    if (label.size() > kTokenLabelBytesMax) {
        set(why, "label: expected at most 128 bytes");
        return -EINVAL;
    }
    auto lock = db_.lock();
    sqlite3* const h = db_.handle();
    std::optional<Scopes> role;
    {
        Stmt q(h, "SELECT role FROM accounts WHERE name = ?1;");
        if (!q.ok()) return -EIO;
        q.text(1, account);
        if (q.step() != SQLITE_ROW) {
            set(why, "no account " + std::string(account));
            return -ENOENT;
        }
        role = role_scopes(q.column_text(0));
    }
    if (!role || !scopes_grant(*role, scopes)) {
        set(why, "scopes: beyond the account's role");
        return -EPERM;
    }
    std::array<uint8_t, kTokenIdBytes> raw_id{};
    randombytes_buf(raw_id.data(), raw_id.size());
    IssuedToken t;
    t.id = to_hex(raw_id);
    t.secret = std::string(kTokenPrefix) + t.id + "_" + random_text();
    t.scopes = scopes;
    t.expires_s = now_s + ttl_s;
    Hash const hash = hash_secret(t.secret);
    Stmt q(h,
           "INSERT INTO tokens (id, hash, account, scopes, label, created_s, expires_s, revoked) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0);");
    if (!q.ok()) return -EIO;
    q.text(1, t.id);
    q.blob(2, hash);
    q.text(3, account);
    q.integer(4, scopes);
    q.text(5, label);
    q.u64(6, now_s);
    q.u64(7, t.expires_s);
    if (q.step() != SQLITE_DONE) {
        db::log_failure(h, "issue_token");
        return -EIO;   // includes the 2^-64 chance of an id collision
    }
    *out = std::move(t);
    return 0;
}

TokenResult Auth::check_token(std::string_view secret, Scopes wanted, uint64_t now_s) {
    TokenResult r;
    // Hash first, whatever the shape, so malformed and unknown tokens cost about what known ones do.
    Hash const hash = hash_secret(secret);
    bool const shaped = secret.size() == kTokenSecretBytes && secret.substr(0, kTokenPrefix.size()) == kTokenPrefix &&
                        secret[kTokenPrefix.size() + 2 * kTokenIdBytes] == '_' &&
                        is_lower_hex(secret.substr(kTokenPrefix.size(), 2 * kTokenIdBytes)) &&
                        is_base64url(secret.substr(kTokenSecretBytes - kRandomTextBytes));
    std::string const id = shaped ? std::string(secret.substr(kTokenPrefix.size(), 2 * kTokenIdBytes)) : "";
    Hash stored{};   // zeros: never the hash of anything (a 2^-256 chance)
    bool found = false;
    TokenInfo info;
    {
        auto lock = db_.lock();
        Stmt q(db_.handle(), "SELECT hash, account, scopes, expires_s, revoked FROM tokens WHERE id = ?1;");
        if (shaped && q.ok()) {
            q.text(1, id);
            if (q.step() == SQLITE_ROW) {
                found = true;
                stored = q.column_array<32>(0);
                info.account = q.column_text(1);
                info.scopes = Scopes(q.column_int(2));
                info.expires_s = q.column_u64(3);
                info.revoked = q.column_int(4) != 0;
            }
        }
    }
    bool const match = crypto_verify_32(hash.data(), stored.data()) == 0;
    if (!found || !match) return r;
    r.id = id;
    r.account = info.account;
    r.scopes = info.scopes;
    if (info.revoked) {
        r.result = TokenCheck::kRevoked;
    } else if (info.expires_s <= now_s) {
        r.result = TokenCheck::kExpired;
    } else if (!scopes_grant(info.scopes, wanted)) {
        r.result = TokenCheck::kScope;
    } else {
        r.result = TokenCheck::kOk;
    }
    return r;
}

int Auth::revoke_token(std::string_view id) {
    auto lock = db_.lock();
    sqlite3* const h = db_.handle();
    Stmt q(h, "UPDATE tokens SET revoked = 1 WHERE id = ?1;");
    q.text(1, id);
    if (!step_done(q, h, "revoke_token")) return -EIO;
    return db::changes(h) > 0 ? 0 : -ENOENT;
}

std::vector<TokenInfo> Auth::list_tokens() {
    auto lock = db_.lock();
    std::vector<TokenInfo> out;
    Stmt q(db_.handle(),
           "SELECT id, account, label, scopes, created_s, expires_s, revoked FROM tokens ORDER BY created_s, id;");
    if (!q.ok()) return out;
    while (q.step() == SQLITE_ROW) {
        TokenInfo t;
        t.id = q.column_text(0);
        t.account = q.column_text(1);
        t.label = q.column_text(2);
        t.scopes = Scopes(q.column_int(3));
        t.created_s = q.column_u64(4);
        t.expires_s = q.column_u64(5);
        t.revoked = q.column_int(6) != 0;
        out.push_back(std::move(t));
    }
    return out;
}

std::array<uint8_t, kNonceBytes> Auth::challenge(const PublicKey& node_key, uint64_t now_s) {
    std::array<uint8_t, kNonceBytes> nonce{};
    randombytes_buf(nonce.data(), nonce.size());
    auto lock = db_.lock();
    sqlite3* const h = db_.handle();
    transaction(h, "challenge", [&] {
        Stmt expired(h, "DELETE FROM challenges WHERE expires_s <= ?1;");
        expired.u64(1, now_s);
        if (!step_done(expired, h, "challenge")) return false;
        // The bound: drop the oldest so that this one fits. A used nonce counts until it expires (it is what
        // tells a reused nonce from an unknown one).
        Stmt oldest(h,
                    "DELETE FROM challenges WHERE nonce IN (SELECT nonce FROM challenges ORDER BY issued"
                    " LIMIT MAX(0, (SELECT COUNT(*) FROM challenges) - ?1 + 1));");
        oldest.integer(1, int64_t(std::max<std::size_t>(options_.challenges_max, 1)));
        if (!step_done(oldest, h, "challenge")) return false;
        Stmt add(h,
                 "INSERT INTO challenges (nonce, node_key, expires_s, used, issued) VALUES (?1, ?2, ?3, 0,"
                 " COALESCE((SELECT MAX(issued) FROM challenges), 0) + 1);");
        add.blob(1, nonce);
        add.blob(2, node_key);
        add.u64(3, now_s + options_.challenge_ttl_s);
        return step_done(add, h, "challenge");
    });
    // On a database failure the nonce is simply unknown to redeem(): the node asks again.
    return nonce;
}

RedeemCheck Auth::redeem(const PublicKey& node_key, std::span<const uint8_t> nonce, uint64_t timestamp_s,
                         const crypto::Signature& signature, const PublicKey& registry_key, uint64_t now_s,
                         Session* out) {
    uint64_t const skew = timestamp_s > now_s ? timestamp_s - now_s : now_s - timestamp_s;
    if (skew > options_.timestamp_skew_s) return RedeemCheck::kStaleTimestamp;
    if (nonce.size() != kNonceBytes) return RedeemCheck::kUnknownNonce;
    auto lock = db_.lock();
    sqlite3* const h = db_.handle();
    {
        Stmt q(h, "SELECT node_key, expires_s, used FROM challenges WHERE nonce = ?1;");
        if (!q.ok()) return RedeemCheck::kFailed;
        q.blob(1, nonce);
        if (q.step() != SQLITE_ROW) return RedeemCheck::kUnknownNonce;
        if (q.column_int(2) != 0) return RedeemCheck::kReusedNonce;
        if (q.column_u64(1) <= now_s) return RedeemCheck::kExpiredNonce;
        if (q.column_array<kPublicKeyBytes>(0) != node_key) return RedeemCheck::kWrongKey;
    }
    auto const proof = registration_proof(registry_key, node_key, nonce.first<kNonceBytes>(), timestamp_s);
    if (!crypto::Identity::verify(node_key, proof, signature)) return RedeemCheck::kBadSignature;

    Session s;
    s.token = std::string(kSessionPrefix) + random_text();
    s.public_key = node_key;
    s.node_id = crypto::node_id_of(node_key);
    s.expires_s = now_s + options_.session_ttl_s;
    Hash const hash = hash_secret(s.token);
    bool reused = false;
    bool const ok = transaction(h, "redeem", [&] {
        Stmt use(h, "UPDATE challenges SET used = 1 WHERE nonce = ?1 AND used = 0;");
        use.blob(1, nonce);
        if (!step_done(use, h, "redeem")) return false;
        if (db::changes(h) != 1) {
            reused = true;
            return false;
        }
        // One session per node: registering again replaces the earlier one (and bounds the table by nodes).
        Stmt old(h, "DELETE FROM sessions WHERE node_id = ?1;");
        old.blob(1, s.node_id);
        if (!step_done(old, h, "redeem")) return false;
        Stmt add(h,
                 "INSERT INTO sessions (hash, node_id, public_key, created_s, expires_s, last_seen_s)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?4);");
        add.blob(1, hash);
        add.blob(2, s.node_id);
        add.blob(3, s.public_key);
        add.u64(4, now_s);
        add.u64(5, s.expires_s);
        return step_done(add, h, "redeem");
    });
    if (reused) return RedeemCheck::kReusedNonce;
    if (!ok) return RedeemCheck::kFailed;
    *out = std::move(s);
    return RedeemCheck::kOk;
}

SessionCheck Auth::touch_session(std::string_view token, uint64_t now_s, NodeId* node_id) {
    if (token.size() != kSessionSecretBytes || token.substr(0, kSessionPrefix.size()) != kSessionPrefix)
        return SessionCheck::kUnknown;
    // The lookup is by the hash of a 256-bit secret: its timing tells nothing useful about the secret.
    Hash const hash = hash_secret(token);
    auto lock = db_.lock();
    sqlite3* const h = db_.handle();
    NodeId id{};
    {
        Stmt q(h, "SELECT node_id, expires_s FROM sessions WHERE hash = ?1;");
        if (!q.ok()) return SessionCheck::kUnknown;
        q.blob(1, hash);
        if (q.step() != SQLITE_ROW) return SessionCheck::kUnknown;
        if (q.column_u64(1) <= now_s) return SessionCheck::kExpired;
        id = q.column_array<kNodeIdBytes>(0);
    }
    Stmt u(h, "UPDATE sessions SET expires_s = MAX(expires_s, ?2), last_seen_s = ?3 WHERE hash = ?1;");
    u.blob(1, hash);
    u.u64(2, now_s + options_.session_ttl_s);
    u.u64(3, now_s);
    step_done(u, h, "touch_session");   // a failed extension is logged; the session is still valid now
    if (node_id != nullptr) *node_id = id;
    return SessionCheck::kOk;
}

bool Auth::end_session(std::string_view token) {
    Hash const hash = hash_secret(token);
    auto lock = db_.lock();
    sqlite3* const h = db_.handle();
    Stmt q(h, "DELETE FROM sessions WHERE hash = ?1;");
    q.blob(1, hash);
    return step_done(q, h, "end_session") && db::changes(h) > 0;
}

std::vector<SessionInfo> Auth::list_sessions() {
    auto lock = db_.lock();
    std::vector<SessionInfo> out;
    Stmt q(db_.handle(),
           "SELECT node_id, public_key, created_s, expires_s, last_seen_s FROM sessions ORDER BY node_id;");
    if (!q.ok()) return out;
    while (q.step() == SQLITE_ROW) {
        SessionInfo s;
        s.node_id = q.column_array<kNodeIdBytes>(0);
        s.public_key = q.column_array<kPublicKeyBytes>(1);
        s.created_s = q.column_u64(2);
        s.expires_s = q.column_u64(3);
        s.last_seen_s = q.column_u64(4);
        out.push_back(s);
    }
    return out;
}

std::size_t Auth::count_sessions() {
    auto lock = db_.lock();
    Stmt q(db_.handle(), "SELECT COUNT(*) FROM sessions;");
    return q.ok() && q.step() == SQLITE_ROW ? std::size_t(q.column_u64(0)) : 0;
}

std::size_t Auth::expire_sessions(uint64_t now_s) {
    auto lock = db_.lock();
    sqlite3* const h = db_.handle();
    std::size_t dropped = 0;
    transaction(h, "expire_sessions", [&] {
        Stmt s(h, "DELETE FROM sessions WHERE expires_s <= ?1;");
        s.u64(1, now_s);
        if (!step_done(s, h, "expire_sessions")) return false;
        dropped = std::size_t(db::changes(h));
        Stmt c(h, "DELETE FROM challenges WHERE expires_s <= ?1;");
        c.u64(1, now_s);
        return step_done(c, h, "expire_sessions");
    });
    return dropped;
}

}  // namespace voxa::registry
