#include "crypto/identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <sodium.h>

#include "crypto/hash.h"
#include "voxa/assert.h"

namespace voxa::crypto {

NodeId node_id_of(const PublicKey& ed25519) noexcept {
    NodeId id;
    crypto_generichash_blake2b(id.data(), id.size(), ed25519.data(), ed25519.size(), nullptr, 0);
    return id;
}

std::optional<PeerIdentity> PeerIdentity::from_ed25519(const PublicKey& ed25519) {
    PeerIdentity p;
    p.ed25519 = ed25519;
    if (crypto_sign_ed25519_pk_to_curve25519(p.x25519.data(), ed25519.data()) != 0) return std::nullopt;
    p.id = node_id_of(ed25519);
    return p;
}

void Identity::derive_from_seed(std::span<const uint8_t, 32> seed) {
    seed_ = Key32(seed);
    VOXA_CHECK(crypto_sign_seed_keypair(peer_.ed25519.data(), ed25519_secret_.data(), seed.data()) == 0);
    VOXA_CHECK(crypto_sign_ed25519_pk_to_curve25519(peer_.x25519.data(), peer_.ed25519.data()) == 0);
    VOXA_CHECK(crypto_sign_ed25519_sk_to_curve25519(x25519_secret_.data(), ed25519_secret_.data()) == 0);
    peer_.id = node_id_of(peer_.ed25519);
}

Identity Identity::generate() {
    Key32 seed;
    randombytes_buf(seed.data(), seed.size());
    return from_seed(seed.span());
}

Identity Identity::from_seed(std::span<const uint8_t, 32> seed) {
    Identity id;
    id.derive_from_seed(seed);
    return id;
}

std::optional<Identity> Identity::load_or_create(const std::filesystem::path& dir, std::string* error) {
    auto fail = [&](const std::string& what) -> std::optional<Identity> {
        if (error) *error = what;
        return std::nullopt;
    };
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return fail("cannot create key directory " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
    const auto path = dir / "node.key";

    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        struct stat st {};
        if (::fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
            ::close(fd);
            return fail("key file " + path.string() +
                        " is readable by group or others; run: chmod 600 " + path.string());
        }
        Key32 seed;
        ssize_t got = ::read(fd, seed.data(), seed.size());
        ::close(fd);
        if (got != ssize_t(seed.size())) return fail("key file " + path.string() + " is not 32 bytes");
        return from_seed(seed.span());
    }
    if (errno != ENOENT) return fail("cannot open " + path.string() + ": " + std::strerror(errno));

    Identity id = generate();
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return fail("cannot create " + path.string() + ": " + std::strerror(errno));
    ssize_t put = ::write(fd, id.seed_.data(), id.seed_.size());
    bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (put != ssize_t(id.seed_.size()) || !synced) return fail("cannot write " + path.string());
    return id;
}

Signature Identity::sign(std::span<const uint8_t> message) const noexcept {
    Signature sig;
    crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), ed25519_secret_.data());
    return sig;
}

bool Identity::verify(const PublicKey& ed25519, std::span<const uint8_t> message, const Signature& sig) noexcept {
    return crypto_sign_verify_detached(sig.data(), message.data(), message.size(), ed25519.data()) == 0;
}

}  // namespace voxa::crypto
