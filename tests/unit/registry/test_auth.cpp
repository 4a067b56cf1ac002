// Registry auth: accounts (Argon2id), scoped tokens stored only as hashes, challenge-response registration with
// distinct refusal reasons, sessions, persistence across reopen; and the per-key rate limiter.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "control/control_test_util.h"
#include "crypto/identity.h"
#include "registry/auth.h"
#include "registry/rate_limit.h"

namespace voxa::registry {
namespace {

using cp::test::TempDir;

constexpr uint64_t kNow = 1'800'000'000;
constexpr const char* kPassword = "correct horse battery";

// The cheapest Argon2id (the default cost makes each hash take ~0.1-0.5 s on a shared CI machine).
AuthOptions cheap() {
    AuthOptions o;
    o.pwhash_opslimit = crypto_pwhash_OPSLIMIT_MIN;
    o.pwhash_memlimit = crypto_pwhash_MEMLIMIT_MIN;
    return o;
}

struct Fixture {
    TempDir dir;
    std::unique_ptr<RegistryDb> db;
    std::unique_ptr<Auth> auth;

    explicit Fixture(AuthOptions options = cheap()) { reopen(options); }
    void reopen(AuthOptions options = cheap()) {
        auth.reset();
        db.reset();
        std::string error;
        db = RegistryDb::open(dir.path() / "registry.db", 1000, &error);
        EXPECT_TRUE(db) << error;
        auth = std::make_unique<Auth>(*db, options);
    }
    // Every byte of the database and its WAL, to look for secrets.
    std::string file_bytes() const {
        return cp::test::read_file(dir.path() / "registry.db") + cp::test::read_file(dir.path() / "registry.db-wal");
    }
};

// A node's registration proof for `registry`.
crypto::Signature prove(const crypto::Identity& node, const PublicKey& registry, std::span<const uint8_t, 32> nonce,
                        uint64_t timestamp_s) {
    return node.sign(registration_proof(registry, node.peer().ed25519, nonce, timestamp_s));
}

TEST(RegistryAuth, AccountsPasswordRoundTripAndRefusals) {
    Fixture f;
    std::string why;
    EXPECT_EQ(f.auth->create_account("alice", kPassword, "admin", kNow, &why), 0) << why;
    EXPECT_EQ(f.auth->create_account("alice", kPassword, "read", kNow, &why), -EEXIST);
    EXPECT_EQ(f.auth->create_account("Alice", kPassword, "read", kNow, &why), -EINVAL);
    EXPECT_NE(why.find("name"), std::string::npos);
    EXPECT_EQ(f.auth->create_account("bob", "short", "read", kNow, &why), -EINVAL);
    EXPECT_NE(why.find("password"), std::string::npos);
    EXPECT_EQ(f.auth->create_account("bob", kPassword, "root", kNow, &why), -EINVAL);
    EXPECT_NE(why.find("role"), std::string::npos);
    EXPECT_EQ(f.auth->create_account(std::string(65, 'a'), kPassword, "read", kNow, &why), -EINVAL);

    auto const ok = f.auth->check_login("alice", kPassword);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->role, "admin");
    EXPECT_EQ(ok->created_s, kNow);
    EXPECT_FALSE(f.auth->check_login("alice", "correct horse battery!"));
    EXPECT_FALSE(f.auth->check_login("alice", ""));
    EXPECT_FALSE(f.auth->check_login("nobody", kPassword));
    EXPECT_FALSE(f.auth->check_login("bad name!", kPassword));

    auto const accounts = f.auth->list_accounts();
    ASSERT_EQ(accounts.size(), 1u);
    EXPECT_EQ(accounts[0].name, "alice");
    EXPECT_EQ(f.auth->delete_account("alice"), 0);
    EXPECT_EQ(f.auth->delete_account("alice"), -ENOENT);
    EXPECT_FALSE(f.auth->check_login("alice", kPassword));
}

TEST(RegistryAuth, UnknownNamesCostAboutAsMuchAsKnownOnes) {
    AuthOptions options;   // the default ops limit, a quarter of the default memory: measurable, not slow
    options.pwhash_memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE / 4;
    Fixture f(options);
    ASSERT_EQ(f.auth->create_account("alice", kPassword, "read", kNow), 0);
    f.auth->check_login("warmup", kPassword);   // makes the dummy hash once
    // The fastest of 5 tries: a preemption only ever adds time.
    auto const time = [&](const char* name) {
        auto best = std::chrono::steady_clock::duration::max();
        for (int i = 0; i < 5; ++i) {
            auto const t0 = std::chrono::steady_clock::now();
            f.auth->check_login(name, "wrong password here");
            best = std::min(best, std::chrono::steady_clock::now() - t0);
        }
        return best;
    };
    auto const known = time("alice");
    auto const unknown = time("nobody");
    // Both run one Argon2id verify (tens of ms); a lookup alone would be microseconds.
    EXPECT_GT(unknown * 4, known);
    EXPECT_GT(unknown, std::chrono::milliseconds(5));
}

TEST(RegistryAuth, TokenScopes) {
    Fixture f;
    ASSERT_EQ(f.auth->create_account("admin", kPassword, "admin", kNow), 0);
    ASSERT_EQ(f.auth->create_account("reader", kPassword, "read", kNow), 0);
    IssuedToken read, admin;
    ASSERT_EQ(f.auth->issue_token("reader", kScopeRead, 3600, "ci", kNow, &read), 0);
    ASSERT_EQ(f.auth->issue_token("admin", kScopeAdmin, 3600, "", kNow, &admin), 0);
    EXPECT_EQ(read.secret.size(), 4u + 16 + 1 + 43);
    EXPECT_EQ(read.secret.substr(0, 4 + 16 + 1), "vxr_" + read.id + "_");
    EXPECT_EQ(read.expires_s, kNow + 3600);

    EXPECT_EQ(f.auth->check_token(read.secret, kScopeRead, kNow).result, TokenCheck::kOk);
    EXPECT_EQ(f.auth->check_token(read.secret, kScopeAdmin, kNow).result, TokenCheck::kScope);
    EXPECT_EQ(f.auth->check_token(read.secret, kScopeWrite, kNow).result, TokenCheck::kScope);
    auto const a = f.auth->check_token(admin.secret, kScopeRead, kNow);
    EXPECT_EQ(a.result, TokenCheck::kOk);   // admin implies read
    EXPECT_EQ(a.account, "admin");
    EXPECT_EQ(a.id, admin.id);
    EXPECT_EQ(f.auth->check_token(admin.secret, kScopeWrite, kNow).result, TokenCheck::kOk);
    EXPECT_EQ(f.auth->check_token(admin.secret, kScopeAdmin, kNow).result, TokenCheck::kOk);

    // A read account cannot be given more than read; a bad scope set or ttl is refused.
    IssuedToken t;
    EXPECT_EQ(f.auth->issue_token("reader", kScopeAdmin, 3600, "", kNow, &t), -EPERM);
    EXPECT_EQ(f.auth->issue_token("reader", 0, 3600, "", kNow, &t), -EINVAL);
    EXPECT_EQ(f.auth->issue_token("reader", kScopeRead, 0, "", kNow, &t), -EINVAL);
    EXPECT_EQ(f.auth->issue_token("nobody", kScopeRead, 60, "", kNow, &t), -ENOENT);
    // A write account may have read and write, not admin.
    ASSERT_EQ(f.auth->create_account("writer", kPassword, "write", kNow), 0);
    EXPECT_EQ(f.auth->issue_token("writer", kScopeRead | kScopeWrite, 60, "", kNow, &t), 0);
    EXPECT_EQ(f.auth->check_token(t.secret, kScopeRead, kNow).result, TokenCheck::kOk);
    EXPECT_EQ(f.auth->check_token(t.secret, kScopeAdmin, kNow).result, TokenCheck::kScope);
    EXPECT_EQ(f.auth->issue_token("writer", kScopeAdmin, 60, "", kNow, &t), -EPERM);

    // Forged and altered secrets are unknown.
    std::string altered = read.secret;
    altered.back() = altered.back() == 'A' ? 'B' : 'A';
    EXPECT_EQ(f.auth->check_token(altered, kScopeRead, kNow).result, TokenCheck::kUnknown);
    EXPECT_EQ(f.auth->check_token("vxr_" + read.id + "_", kScopeRead, kNow).result, TokenCheck::kUnknown);
    EXPECT_EQ(f.auth->check_token("", kScopeRead, kNow).result, TokenCheck::kUnknown);

    EXPECT_EQ(parse_scopes({"read", "admin"}), Scopes(kScopeRead | kScopeAdmin));
    EXPECT_FALSE(parse_scopes({"root"}));
    EXPECT_FALSE(parse_scopes({}));
    EXPECT_EQ(scope_names(kScopeRead | kScopeWrite), (std::vector<std::string>{"read", "write"}));
}

TEST(RegistryAuth, TokenExpiryRevocationAndAccountDeletion) {
    Fixture f;
    ASSERT_EQ(f.auth->create_account("ops", kPassword, "write", kNow), 0);
    IssuedToken t1, t2;
    ASSERT_EQ(f.auth->issue_token("ops", kScopeWrite, 100, "one", kNow, &t1), 0);
    ASSERT_EQ(f.auth->issue_token("ops", kScopeWrite, 100, "two", kNow, &t2), 0);
    EXPECT_NE(t1.id, t2.id);
    EXPECT_EQ(f.auth->check_token(t1.secret, kScopeWrite, kNow + 99).result, TokenCheck::kOk);
    EXPECT_EQ(f.auth->check_token(t1.secret, kScopeWrite, kNow + 100).result, TokenCheck::kExpired);

    EXPECT_EQ(f.auth->revoke_token(t1.id), 0);
    EXPECT_EQ(f.auth->revoke_token("0000000000000000"), -ENOENT);
    EXPECT_EQ(f.auth->check_token(t1.secret, kScopeWrite, kNow).result, TokenCheck::kRevoked);
    EXPECT_EQ(f.auth->check_token(t2.secret, kScopeWrite, kNow).result, TokenCheck::kOk);

    auto const list = f.auth->list_tokens();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_TRUE(list[0].revoked || list[1].revoked);
    for (const auto& info : list) {
        EXPECT_EQ(info.account, "ops");
        EXPECT_EQ(info.scopes, kScopeWrite);
    }
    // Deleting the account revokes what it still had.
    ASSERT_EQ(f.auth->delete_account("ops"), 0);
    EXPECT_EQ(f.auth->check_token(t2.secret, kScopeWrite, kNow).result, TokenCheck::kRevoked);
}

TEST(RegistryAuth, SecretsAreNeverStored) {
    Fixture f;
    auto const node = crypto::Identity::generate();
    auto const registry = crypto::Identity::generate();
    ASSERT_EQ(f.auth->create_account("alice", kPassword, "admin", kNow), 0);
    IssuedToken t;
    ASSERT_EQ(f.auth->issue_token("alice", kScopeAdmin, 3600, "label-xyz", kNow, &t), 0);
    auto const nonce = f.auth->challenge(node.peer().ed25519, kNow);
    Session s;
    ASSERT_EQ(f.auth->redeem(node.peer().ed25519, nonce, kNow, prove(node, registry.peer().ed25519, nonce, kNow),
                             registry.peer().ed25519, kNow, &s),
              RedeemCheck::kOk);
    std::string const bytes = f.file_bytes();
    ASSERT_NE(bytes.find("label-xyz"), std::string::npos);   // the search itself works on these files
    EXPECT_EQ(bytes.find(kPassword), std::string::npos);
    EXPECT_EQ(bytes.find(t.secret.substr(t.secret.size() - 43)), std::string::npos);
    EXPECT_EQ(bytes.find(s.token.substr(4)), std::string::npos);
}

TEST(RegistryAuth, RegistrationByChallengeAndEveryRefusal) {
    Fixture f;
    auto const node = crypto::Identity::generate();
    auto const other = crypto::Identity::generate();
    auto const registry = crypto::Identity::generate();
    auto const elsewhere = crypto::Identity::generate();
    PublicKey const key = node.peer().ed25519;
    PublicKey const reg = registry.peer().ed25519;
    std::set<RedeemCheck> reasons;
    auto const redeem = [&](std::span<const uint8_t> nonce, uint64_t ts, const crypto::Signature& sig, uint64_t now,
                            Session* s) {
        auto const r = f.auth->redeem(key, nonce, ts, sig, reg, now, s);
        reasons.insert(r);
        return r;
    };
    Session s;
    auto const nonce = f.auth->challenge(key, kNow);

    // Signed by another key, or for another registry: the signature does not verify.
    EXPECT_EQ(redeem(nonce, kNow, prove(other, reg, nonce, kNow), kNow, &s), RedeemCheck::kBadSignature);
    EXPECT_EQ(f.auth->redeem(key, nonce, kNow, prove(node, elsewhere.peer().ed25519, nonce, kNow), reg, kNow, &s),
              RedeemCheck::kBadSignature);
    // A nonce issued to another key.
    auto const theirs = f.auth->challenge(other.peer().ed25519, kNow);
    EXPECT_EQ(redeem(theirs, kNow, prove(node, reg, theirs, kNow), kNow, &s), RedeemCheck::kWrongKey);
    // A timestamp more than 300 s away, either side.
    EXPECT_EQ(redeem(nonce, kNow - 301, prove(node, reg, nonce, kNow - 301), kNow, &s), RedeemCheck::kStaleTimestamp);
    EXPECT_EQ(f.auth->redeem(key, nonce, kNow + 301, prove(node, reg, nonce, kNow + 301), reg, kNow, &s),
              RedeemCheck::kStaleTimestamp);
    // A nonce never issued.
    std::array<uint8_t, 32> made_up{};
    made_up.fill(0x5a);
    EXPECT_EQ(redeem(made_up, kNow, prove(node, reg, made_up, kNow), kNow, &s), RedeemCheck::kUnknownNonce);

    // The right proof (within the skew) succeeds once: refusals above did not use the nonce up.
    ASSERT_EQ(redeem(nonce, kNow + 10, prove(node, reg, nonce, kNow + 10), kNow + 5, &s), RedeemCheck::kOk);
    EXPECT_EQ(s.node_id, node.id());
    EXPECT_EQ(s.public_key, key);
    EXPECT_EQ(s.expires_s, kNow + 5 + 3600);
    EXPECT_EQ(s.token.substr(0, 4), "vxs_");
    EXPECT_EQ(s.token.size(), 4u + 43);
    Session again;
    EXPECT_EQ(redeem(nonce, kNow + 10, prove(node, reg, nonce, kNow + 10), kNow + 6, &again),
              RedeemCheck::kReusedNonce);

    // A nonce older than 60 s.
    auto const late = f.auth->challenge(key, kNow);
    EXPECT_EQ(redeem(late, kNow + 60, prove(node, reg, late, kNow + 60), kNow + 60, &s), RedeemCheck::kExpiredNonce);

    reasons.erase(RedeemCheck::kOk);
    EXPECT_EQ(reasons.size(), 6u);
    std::set<std::string_view> names;
    for (auto r : reasons) names.insert(redeem_check_name(r));
    EXPECT_EQ(names.size(), 6u);
}

TEST(RegistryAuth, OutstandingChallengesAreBounded) {
    AuthOptions options = cheap();
    options.challenges_max = 4;
    Fixture f(options);
    auto const node = crypto::Identity::generate();
    PublicKey const key = node.peer().ed25519;
    PublicKey reg{};
    std::vector<std::array<uint8_t, 32>> nonces;
    for (int i = 0; i < 6; ++i) nonces.push_back(f.auth->challenge(key, kNow));
    Session s;
    // The two oldest were dropped; the four newest still work.
    EXPECT_EQ(f.auth->redeem(key, nonces[0], kNow, prove(node, reg, nonces[0], kNow), reg, kNow, &s),
              RedeemCheck::kUnknownNonce);
    EXPECT_EQ(f.auth->redeem(key, nonces[1], kNow, prove(node, reg, nonces[1], kNow), reg, kNow, &s),
              RedeemCheck::kUnknownNonce);
    for (int i = 2; i < 6; ++i) {
        EXPECT_EQ(f.auth->redeem(key, nonces[std::size_t(i)], kNow, prove(node, reg, nonces[std::size_t(i)], kNow),
                                 reg, kNow, &s),
                  RedeemCheck::kOk)
            << i;
    }
    // One session per node: each registration replaced the previous one.
    EXPECT_EQ(f.auth->count_sessions(), 1u);
}

TEST(RegistryAuth, SessionsTouchExpireAndEnd) {
    AuthOptions options = cheap();
    options.session_ttl_s = 100;
    Fixture f(options);
    auto const a = crypto::Identity::generate();
    auto const b = crypto::Identity::generate();
    PublicKey reg{};
    auto const open = [&](const crypto::Identity& node, uint64_t now) {
        auto const nonce = f.auth->challenge(node.peer().ed25519, now);
        Session s;
        EXPECT_EQ(f.auth->redeem(node.peer().ed25519, nonce, now, prove(node, reg, nonce, now), reg, now, &s),
                  RedeemCheck::kOk);
        return s;
    };
    Session const sa = open(a, kNow);
    Session const sb = open(b, kNow);
    NodeId id{};
    EXPECT_EQ(f.auth->touch_session(sa.token, kNow + 90, &id), SessionCheck::kOk);
    EXPECT_EQ(id, a.id());
    // The touch extended a to kNow + 190; b still ends at kNow + 100.
    EXPECT_EQ(f.auth->touch_session(sb.token, kNow + 100, &id), SessionCheck::kExpired);
    EXPECT_EQ(f.auth->touch_session(sa.token, kNow + 150, &id), SessionCheck::kOk);
    EXPECT_EQ(f.auth->touch_session("vxs_" + std::string(43, 'A'), kNow, &id), SessionCheck::kUnknown);
    EXPECT_EQ(f.auth->touch_session("", kNow, &id), SessionCheck::kUnknown);

    auto const list = f.auth->list_sessions();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(f.auth->expire_sessions(kNow + 200), 1u);   // b (a ends at kNow + 250)
    EXPECT_EQ(f.auth->count_sessions(), 1u);
    EXPECT_TRUE(f.auth->end_session(sa.token));
    EXPECT_FALSE(f.auth->end_session(sa.token));
    EXPECT_EQ(f.auth->touch_session(sa.token, kNow + 160, &id), SessionCheck::kUnknown);
}

TEST(RegistryAuth, ReopenKeepsAccountsTokensSessionsAndChallenges) {
    Fixture f;
    auto const node = crypto::Identity::generate();
    PublicKey reg{};
    ASSERT_EQ(f.auth->create_account("alice", kPassword, "admin", kNow), 0);
    IssuedToken t, revoked;
    ASSERT_EQ(f.auth->issue_token("alice", kScopeRead, 3600, "", kNow, &t), 0);
    ASSERT_EQ(f.auth->issue_token("alice", kScopeRead, 3600, "", kNow, &revoked), 0);
    ASSERT_EQ(f.auth->revoke_token(revoked.id), 0);
    auto const used = f.auth->challenge(node.peer().ed25519, kNow);
    Session s;
    ASSERT_EQ(f.auth->redeem(node.peer().ed25519, used, kNow, prove(node, reg, used, kNow), reg, kNow, &s),
              RedeemCheck::kOk);
    auto const pending = f.auth->challenge(node.peer().ed25519, kNow);

    f.reopen();
    EXPECT_TRUE(f.auth->check_login("alice", kPassword));
    EXPECT_EQ(f.auth->check_token(t.secret, kScopeRead, kNow).result, TokenCheck::kOk);
    EXPECT_EQ(f.auth->check_token(revoked.secret, kScopeRead, kNow).result, TokenCheck::kRevoked);
    NodeId id{};
    EXPECT_EQ(f.auth->touch_session(s.token, kNow + 1, &id), SessionCheck::kOk);
    EXPECT_EQ(id, node.id());
    // A used nonce stays used across a restart; an outstanding one stays redeemable.
    EXPECT_EQ(f.auth->redeem(node.peer().ed25519, used, kNow, prove(node, reg, used, kNow), reg, kNow, &s),
              RedeemCheck::kReusedNonce);
    EXPECT_EQ(f.auth->redeem(node.peer().ed25519, pending, kNow, prove(node, reg, pending, kNow), reg, kNow, &s),
              RedeemCheck::kOk);
}

TEST(RegistryRateLimit, BurstThenRefusalThenRefill) {
    RateLimiter limiter(60, 5, 100);   // one per second, burst 5
    uint64_t const t0 = 1'000'000;
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.allow("10.0.0.1", t0)) << i;
    uint64_t retry = 0;
    EXPECT_FALSE(limiter.allow("10.0.0.1", t0, &retry));
    EXPECT_GT(retry, 900u);
    EXPECT_LE(retry, 1000u);
    EXPECT_TRUE(limiter.allow("10.0.0.2", t0));   // keys are separate
    EXPECT_FALSE(limiter.allow("10.0.0.1", t0 + 999));
    EXPECT_TRUE(limiter.allow("10.0.0.1", t0 + 1000));   // one refilled
    EXPECT_FALSE(limiter.allow("10.0.0.1", t0 + 1000));
    // A long pause refills to the burst, not beyond.
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.allow("10.0.0.1", t0 + 600'000)) << i;
    EXPECT_FALSE(limiter.allow("10.0.0.1", t0 + 600'000));
    // A clock that goes back refills nothing.
    EXPECT_FALSE(limiter.allow("10.0.0.1", t0));

    RateLimiter unlimited(0, 1, 10);
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(unlimited.allow("x", t0));
}

TEST(RegistryRateLimit, TableBoundEvictsTheLeastRecentlyUsed) {
    RateLimiter limiter(1, 1, 3);
    EXPECT_TRUE(limiter.allow("a", 0));
    EXPECT_TRUE(limiter.allow("b", 0));
    EXPECT_TRUE(limiter.allow("c", 0));
    EXPECT_FALSE(limiter.allow("a", 1));   // a is now the most recent; b the least
    EXPECT_TRUE(limiter.allow("d", 1));    // evicts b
    EXPECT_EQ(limiter.size(), 3u);
    EXPECT_FALSE(limiter.allow("a", 2));   // a kept its empty bucket
    EXPECT_FALSE(limiter.allow("c", 2));
    EXPECT_TRUE(limiter.allow("b", 2));    // b came back fresh (the cost of the bound)
    for (int i = 0; i < 1000; ++i) limiter.allow(std::to_string(i), 3);
    EXPECT_EQ(limiter.size(), 3u);
}

// An IPv6 subscriber holds a whole /64: all of it is one key, so cycling through addresses buys no new buckets.
TEST(RegistryRateLimit, PeersAreKeyedByAddressAndIpv6ByItsSlash64) {
    using K = RateLimiter;
    EXPECT_EQ(K::key_of_peer("10.0.0.1"), "10.0.0.1");
    EXPECT_EQ(K::key_of_peer("2001:db8:1:2::1"), K::key_of_peer("2001:db8:1:2:ffff:ffff:ffff:ffff"));
    EXPECT_EQ(K::key_of_peer("2001:db8:1:2::1"), "2001:0db8:0001:0002::/64");
    EXPECT_NE(K::key_of_peer("2001:db8:1:2::1"), K::key_of_peer("2001:db8:1:3::1"));
    EXPECT_EQ(K::key_of_peer("::ffff:10.0.0.1"), "10.0.0.1") << "an IPv4-mapped peer is the IPv4 peer";
    EXPECT_EQ(K::key_of_peer("not an address"), "not an address");
    RateLimiter limiter(1, 1, 100);
    EXPECT_TRUE(limiter.allow(K::key_of_peer("2001:db8::1"), 0));
    EXPECT_FALSE(limiter.allow(K::key_of_peer("2001:db8::2"), 0)) << "another address of the same /64";
}

TEST(RegistryRateLimit, ConcurrentCallersNeverExceedTheBurst) {
    RateLimiter limiter(1, 100, 10);
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i)
                if (limiter.allow("k", 5)) allowed.fetch_add(1);
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(allowed.load(), 100);
}

}  // namespace
}  // namespace voxa::registry
