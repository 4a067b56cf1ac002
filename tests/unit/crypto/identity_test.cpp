// Tests for node identities (crypto/identity.h) and wiped secrets (crypto/secret.h): the key file on disk
// (created 0600 in a 0700 directory, refused when others can read it), node ids, derived X25519 keys, and
// signatures.
#include "crypto/identity.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <string>

#include "crypto/provider.h"
#include "crypto/secret.h"

namespace voxa::crypto {
namespace {

namespace fs = std::filesystem;


unsigned mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(0, ::lstat(p.c_str(), &st)) << p;
    return st.st_mode & 07777;
}

std::array<uint8_t, 32> seed_of(uint8_t fill) {
    std::array<uint8_t, 32> s;
    s.fill(fill);
    return s;
}

// Each test gets its own fresh directory; key files go in a subdirectory that does not exist yet.
class IdentityFiles : public testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = testing::TempDir() + "voxa_identity_XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        root_ = tmpl;
        dir_ = root_ / "data" / "local";
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }
    fs::path root_, dir_;
};

TEST_F(IdentityFiles, CreatesKeyFile0600InDirectory0700AndReloadsTheSameIdentity) {
    std::string error;
    auto created = Identity::load_or_create(dir_, &error);
    ASSERT_TRUE(created.has_value()) << error;
    const fs::path key = dir_ / "node.key";
    ASSERT_TRUE(fs::is_regular_file(key));
    EXPECT_EQ(fs::file_size(key), 32u);
    EXPECT_EQ(mode_of(key), 0600u);
    EXPECT_EQ(mode_of(dir_), 0700u);

    auto loaded = Identity::load_or_create(dir_, &error);
    ASSERT_TRUE(loaded.has_value()) << error;
    EXPECT_EQ(loaded->id(), created->id());
    EXPECT_EQ(loaded->peer().ed25519, created->peer().ed25519);
    EXPECT_EQ(loaded->peer().x25519, created->peer().x25519);
    EXPECT_TRUE(loaded->x25519_secret().equals(created->x25519_secret()));

    // A second data directory gets a different identity.
    auto other = Identity::load_or_create(root_ / "other", &error);
    ASSERT_TRUE(other.has_value()) << error;
    EXPECT_NE(other->id(), created->id());
}

TEST_F(IdentityFiles, TightensAnExistingDirectoryTo0700) {
    fs::create_directories(dir_);
    ASSERT_EQ(0, ::chmod(dir_.c_str(), 0755));
    std::string error;
    ASSERT_TRUE(Identity::load_or_create(dir_, &error).has_value()) << error;
    EXPECT_EQ(mode_of(dir_), 0700u);
}

TEST_F(IdentityFiles, RefusesAKeyFileReadableByOthersAndNamesIt) {
    std::string error;
    ASSERT_TRUE(Identity::load_or_create(dir_, &error).has_value()) << error;
    const fs::path key = dir_ / "node.key";
    for (mode_t bad : {0644, 0640, 0604, 0660}) {
        SCOPED_TRACE(bad);
        ASSERT_EQ(0, ::chmod(key.c_str(), bad));
        error.clear();
        EXPECT_FALSE(Identity::load_or_create(dir_, &error).has_value());
        EXPECT_NE(error.find(key.string()), std::string::npos) << error;
    }
    // Fixed as the message says, it loads again.
    ASSERT_EQ(0, ::chmod(key.c_str(), 0600));
    EXPECT_TRUE(Identity::load_or_create(dir_, &error).has_value()) << error;
}

TEST_F(IdentityFiles, RefusesAKeyFileOfTheWrongSize) {
    fs::create_directories(dir_);
    const fs::path key = dir_ / "node.key";
    {
        std::ofstream out(key, std::ios::binary);
        out << "short";
    }
    ASSERT_EQ(0, ::chmod(key.c_str(), 0600));
    std::string error;
    EXPECT_FALSE(Identity::load_or_create(dir_, &error).has_value());
    EXPECT_NE(error.find(key.string()), std::string::npos) << error;
    // The broken file is left for the operator to inspect, not replaced by a new identity.
    EXPECT_EQ(fs::file_size(key), 5u);
}

TEST_F(IdentityFiles, RefusesASymlinkedKeyFile) {
    fs::create_directories(dir_);
    const fs::path target = root_ / "elsewhere.key";
    {
        std::ofstream out(target, std::ios::binary);
        out << std::string(32, 'k');
    }
    ASSERT_EQ(0, ::chmod(target.c_str(), 0600));
    fs::create_symlink(target, dir_ / "node.key");
    std::string error;
    EXPECT_FALSE(Identity::load_or_create(dir_, &error).has_value());
    EXPECT_FALSE(error.empty());
}

TEST(Identity, NodeIdIsBlake2b256OfTheEd25519PublicKey) {
    const Identity id = Identity::generate();
    NodeId want;
    ASSERT_EQ(0, crypto_generichash(want.data(), want.size(), id.peer().ed25519.data(), id.peer().ed25519.size(),
                                    nullptr, 0));
    EXPECT_EQ(id.id(), want);
    EXPECT_EQ(id.peer().id, want);
    EXPECT_EQ(node_id_of(id.peer().ed25519), want);
}

TEST(Identity, PeerIdentityFromEd25519MatchesTheOwner) {
    const Identity id = Identity::generate();
    auto peer = PeerIdentity::from_ed25519(id.peer().ed25519);
    ASSERT_TRUE(peer.has_value());
    EXPECT_EQ(peer->id, id.id());
    EXPECT_EQ(peer->x25519, id.peer().x25519);
}

TEST(Identity, PeerIdentityRejectsSmallOrderPoints) {
    PublicKey zero{};        // y = 0: a point of order 4
    PublicKey neutral{};     // y = 1: the neutral element
    neutral[0] = 1;
    EXPECT_FALSE(PeerIdentity::from_ed25519(zero).has_value());
    EXPECT_FALSE(PeerIdentity::from_ed25519(neutral).has_value());
}

TEST(Identity, DerivedX25519KeysAgree) {
    const Identity a = Identity::generate();
    const Identity b = Identity::generate();
    // The derived public key belongs to the derived secret.
    PublicKey a_pub;
    ASSERT_EQ(0, crypto_scalarmult_base(a_pub.data(), a.x25519_secret().data()));
    EXPECT_EQ(a_pub, a.peer().x25519);

    std::array<uint8_t, crypto_scalarmult_BYTES> ab, ba;
    ASSERT_EQ(0, crypto_scalarmult(ab.data(), a.x25519_secret().data(), b.peer().x25519.data()));
    ASSERT_EQ(0, crypto_scalarmult(ba.data(), b.x25519_secret().data(), a.peer().x25519.data()));
    EXPECT_EQ(0, sodium_memcmp(ab.data(), ba.data(), ab.size()));
    EXPECT_NE(ab, decltype(ab){});
}

TEST(Identity, SignAndVerify) {
    const Identity id = Identity::generate();
    const Identity other = Identity::generate();
    std::array<uint8_t, 100> msg;
    randombytes_buf(msg.data(), msg.size());
    const Signature sig = id.sign(msg);
    EXPECT_TRUE(Identity::verify(id.peer().ed25519, msg, sig));
    EXPECT_FALSE(Identity::verify(other.peer().ed25519, msg, sig));

    for (std::size_t i : {std::size_t(0), std::size_t(50), msg.size() - 1}) {
        auto bad = msg;
        bad[i] ^= 0x01;
        EXPECT_FALSE(Identity::verify(id.peer().ed25519, bad, sig)) << "message byte " << i;
    }
    for (std::size_t i : {std::size_t(0), std::size_t(31), std::size_t(32), kSignatureBytes - 1}) {
        Signature bad = sig;
        bad[i] ^= 0x01;
        EXPECT_FALSE(Identity::verify(id.peer().ed25519, msg, bad)) << "signature byte " << i;
    }
    // An empty message signs and verifies too.
    const Signature empty_sig = id.sign({});
    EXPECT_TRUE(Identity::verify(id.peer().ed25519, {}, empty_sig));
}

TEST(Identity, FromSeedIsDeterministic) {
    const auto seed = seed_of(0x42);
    const Identity a = Identity::from_seed(seed);
    const Identity b = Identity::from_seed(seed);
    EXPECT_EQ(a.id(), b.id());
    EXPECT_EQ(a.peer().ed25519, b.peer().ed25519);
    EXPECT_EQ(a.peer().x25519, b.peer().x25519);
    EXPECT_TRUE(a.x25519_secret().equals(b.x25519_secret()));
    std::array<uint8_t, 3> msg = {1, 2, 3};
    EXPECT_EQ(a.sign(msg), b.sign(msg));   // Ed25519 signatures are deterministic

    // The seed is libsodium's Ed25519 seed.
    PublicKey pk;
    std::array<uint8_t, crypto_sign_SECRETKEYBYTES> sk;
    ASSERT_EQ(0, crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data()));
    EXPECT_EQ(a.peer().ed25519, pk);

    const Identity c = Identity::from_seed(seed_of(0x43));
    EXPECT_NE(c.id(), a.id());
}

TEST(Identity, GenerateGivesDistinctIdentities) {
    const Identity a = Identity::generate();
    const Identity b = Identity::generate();
    EXPECT_NE(a.id(), b.id());
    EXPECT_FALSE(a.x25519_secret().equals(b.x25519_secret()));
}

// ---- Secret<N> -------------------------------------------------------------------------------------------

TEST(Secret, StartsZeroWipeZeroesAndCopiesCompareEqual) {
    Secret<48> s;
    for (std::size_t i = 0; i < s.size(); ++i) EXPECT_EQ(s.data()[i], 0) << i;
    randombytes_buf(s.data(), s.size());
    Secret<48> copy(s);
    EXPECT_TRUE(copy.equals(s));
    Secret<48> assigned;
    EXPECT_FALSE(assigned.equals(s));
    assigned = s;
    EXPECT_TRUE(assigned.equals(s));

    s.wipe();
    for (std::size_t i = 0; i < s.size(); ++i) EXPECT_EQ(s.data()[i], 0) << i;
    EXPECT_FALSE(copy.equals(s));
    EXPECT_TRUE(s.equals(Secret<48>()));
}

TEST(Secret, ConstructsFromSpan) {
    std::array<uint8_t, 32> raw;
    randombytes_buf(raw.data(), raw.size());
    const Key32 k(std::span<const uint8_t, 32>(raw.data(), 32));
    EXPECT_EQ(0, sodium_memcmp(k.data(), raw.data(), raw.size()));
    Key32 differs(std::span<const uint8_t, 32>(raw.data(), 32));
    differs.data()[31] ^= 1;
    EXPECT_FALSE(k.equals(differs));
}

}  // namespace
}  // namespace voxa::crypto
