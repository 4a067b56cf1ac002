// Who may do what on a registry: operator accounts with passwords, bearer tokens with scopes, and nodes that
// proved their key by challenge-response and then hold a session (heartbeats, deregistration).
//
// Secrets: passwords are kept only as crypto_pwhash_str strings (Argon2id, OPSLIMIT/MEMLIMIT_INTERACTIVE unless
// AuthOptions say otherwise);
// token and session secrets only as keyed BLAKE2b-256 (kTokenHashContext as key, a domain separator), so a copy of
// registry.db lets nobody act as a token holder. Secrets are shown once, when issued. Comparisons of hashes use
// crypto_verify_32; an unknown account name costs the same pwhash verify as a known one (a dummy hash).
//
// Bytes a node signs to register (Ed25519 by its node key, detached):
//   "voxa.reg.v1" (11 ASCII bytes) || registry_key (32) || node_key (32) || nonce (32) || timestamp_s (u64 LE)
// Binding the registry's key stops a proof for one registry from being replayed at another; the nonce (single
// use, 60 s) stops replays at the same one; the timestamp (|timestamp - now| <= 300 s) bounds an old proof.
//
// Persistence: every table is in registry.db (RegistryDb), so a restart keeps accounts, tokens, sessions and the
// outstanding challenges. Threads: every method may be called from any thread (RegistryDb's mutex); the pwhash
// work of create_account/check_login runs outside that mutex.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sodium.h>

#include "crypto/identity.h"
#include "registry/registry_db.h"
#include "voxa/types.h"

namespace voxa::registry {

inline constexpr std::string_view kRegistrationContext = "voxa.reg.v1";
inline constexpr std::string_view kTokenHashContext = "voxa.registry.token.v1";
inline constexpr std::string_view kTokenPrefix = "vxr_";     // "vxr_" + 16 hex id + "_" + 43 base64url
inline constexpr std::string_view kSessionPrefix = "vxs_";   // "vxs_" + 43 base64url
inline constexpr std::size_t kAccountNameBytesMax = 64;
inline constexpr std::size_t kPasswordBytesMin = 12;
inline constexpr std::size_t kPasswordBytesMax = 1024;
inline constexpr std::size_t kTokenLabelBytesMax = 128;
inline constexpr std::size_t kNonceBytes = 32;
inline constexpr std::size_t kRegistrationProofBytes = 11 + 32 + 32 + 32 + 8;
inline constexpr uint64_t kTokenTtlMaxS = 366 * 86400;

// Scopes as a bit set. admin implies write and read; write does not imply read.
using Scopes = uint8_t;
inline constexpr Scopes kScopeRead = 1, kScopeWrite = 2, kScopeAdmin = 4;
// "read", "write", "admin" -> their bits; nullopt for an unknown name or an empty list.
std::optional<Scopes> parse_scopes(const std::vector<std::string>& names);
std::vector<std::string> scope_names(Scopes s);   // in the order read, write, admin
// True when `held` grants `wanted` (every bit of wanted, admin counting as all).
bool scopes_grant(Scopes held, Scopes wanted) noexcept;
// An account's role is one scope name; its tokens get at most that role's scopes: read -> read,
// write -> read+write, admin -> admin (everything).
std::optional<Scopes> role_scopes(std::string_view role);

struct Account {
    std::string name;
    std::string role;   // "read" | "write" | "admin"
    uint64_t created_s = 0;
};

struct IssuedToken {
    std::string id;       // 16 lowercase hex, public (list, revoke)
    std::string secret;   // "vxr_<id>_<43 base64url>": shown once, never stored
    Scopes scopes = 0;
    uint64_t expires_s = 0;
};

struct TokenInfo {
    std::string id, account, label;
    Scopes scopes = 0;
    uint64_t created_s = 0, expires_s = 0;
    bool revoked = false;
};

enum class TokenCheck : uint8_t { kOk, kUnknown, kExpired, kRevoked, kScope };
std::string_view token_check_name(TokenCheck c) noexcept;   // "ok", "unknown", "expired", "revoked", "scope"

struct TokenResult {
    TokenCheck result = TokenCheck::kUnknown;
    std::string id, account;   // filled when the token is known
    Scopes scopes = 0;
};

// Why a registration (redeem) was refused. Checked in this order: timestamp, nonce, key, signature.
enum class RedeemCheck : uint8_t { kOk, kStaleTimestamp, kUnknownNonce, kReusedNonce, kExpiredNonce, kWrongKey,
                                   kBadSignature, kFailed };
// "ok", "stale_timestamp", "unknown_nonce", "reused_nonce", "expired_nonce", "wrong_key", "bad_signature", "failed"
std::string_view redeem_check_name(RedeemCheck c) noexcept;

struct Session {
    std::string token;   // "vxs_<43 base64url>": returned once by redeem, never stored
    NodeId node_id{};
    PublicKey public_key{};
    uint64_t expires_s = 0;
};

struct SessionInfo {
    NodeId node_id{};
    PublicKey public_key{};
    uint64_t created_s = 0, expires_s = 0, last_seen_s = 0;
};

enum class SessionCheck : uint8_t { kOk, kUnknown, kExpired };
std::string_view session_check_name(SessionCheck c) noexcept;   // "ok", "unknown", "expired"

struct AuthOptions {
    uint64_t session_ttl_s = 3600;
    uint64_t challenge_ttl_s = 60;
    uint64_t timestamp_skew_s = 300;
    std::size_t challenges_max = 10000;   // outstanding (and recently used) nonces; the oldest are dropped
    // Argon2id cost of new password hashes (a stored hash keeps the cost it was made with). Tests lower it.
    unsigned long long pwhash_opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    std::size_t pwhash_memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
};

// The exact bytes a node signs to register (see the top of this file).
std::vector<uint8_t> registration_proof(const PublicKey& registry_key, const PublicKey& node_key,
                                        std::span<const uint8_t, kNonceBytes> nonce, uint64_t timestamp_s);

class Auth {
public:
    // `db` must outlive this object.
    Auth(RegistryDb& db, AuthOptions options);

    // Accounts. name [a-z0-9_.-]{1,64}, password 12..1024 bytes, role read|write|admin.
    // 0, -EINVAL (with *why), -EEXIST, -EIO.
    int create_account(std::string_view name, std::string_view password, std::string_view role, uint64_t now_s,
                       std::string* why = nullptr);
    // The account when the password is right; nullopt otherwise (unknown names cost the same).
    std::optional<Account> check_login(std::string_view name, std::string_view password);
    std::vector<Account> list_accounts();
    // 0 or -ENOENT; the account's tokens are revoked in the same transaction.
    int delete_account(std::string_view name);

    // Tokens. scopes must be within the account's role (-EPERM), ttl_s 1..kTokenTtlMaxS, label <= 128 bytes.
    // 0, -EINVAL (with *why), -ENOENT (no such account), -EPERM, -EIO.
    int issue_token(std::string_view account, Scopes scopes, uint64_t ttl_s, std::string_view label,
                    uint64_t now_s, IssuedToken* out, std::string* why = nullptr);
    // kOk when the secret is a live token whose scopes grant `wanted` (0: any known live token).
    TokenResult check_token(std::string_view secret, Scopes wanted, uint64_t now_s);
    int revoke_token(std::string_view id);   // 0 or -ENOENT
    std::vector<TokenInfo> list_tokens();

    // Challenge-response. A fresh random nonce for node_key, valid challenge_ttl_s.
    std::array<uint8_t, kNonceBytes> challenge(const PublicKey& node_key, uint64_t now_s);
    // Checks the proof (registry_key = this registry's own key) and, when it holds, uses up the nonce and opens
    // a session for the node (ending the node's earlier sessions). A refused proof does not use up the nonce.
    RedeemCheck redeem(const PublicKey& node_key, std::span<const uint8_t> nonce, uint64_t timestamp_s,
                       const crypto::Signature& signature, const PublicKey& registry_key, uint64_t now_s,
                       Session* out);

    // Sessions. touch: kOk, *node_id set, expiry extended to now + session_ttl_s.
    SessionCheck touch_session(std::string_view token, uint64_t now_s, NodeId* node_id);
    bool end_session(std::string_view token);   // true when it existed
    std::vector<SessionInfo> list_sessions();
    std::size_t count_sessions();
    // Drops expired sessions and expired challenges; returns the sessions dropped.
    std::size_t expire_sessions(uint64_t now_s);

    const AuthOptions& options() const noexcept { return options_; }

private:
    RegistryDb& db_;
    AuthOptions options_;
    // A pwhash of a random password: what unknown names are verified against. Made on first need (it costs
    // as much as a login).
    const std::string& dummy_hash();
    std::once_flag dummy_once_;
    std::string dummy_hash_;
};

}  // namespace voxa::registry
