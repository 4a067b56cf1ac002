// The API token file. Same rules as the node key (dataplane/crypto/identity.cpp): created with O_EXCL at 0600 in a
// 0700 directory, refused when group or others can read it, because whoever reads it can drain the node.
#include "api.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace voxa::api {

namespace {
constexpr std::size_t kTokenBytes = 32;    // 64 hex characters
}

std::string load_or_create_token(const std::string& data_dir, std::string* token) {
    const std::filesystem::path dir = std::filesystem::path(data_dir) / "local";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return "cannot create " + dir.string() + ": " + ec.message();
    ::chmod(dir.c_str(), 0700);
    const std::string path = (dir / "api_token").string();

    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        struct stat st {};
        if (::fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
            ::close(fd);
            return "token file " + path + " is accessible by group or others; run: chmod 600 " + path;
        }
        char buf[2 * kTokenBytes + 2] = {};
        ssize_t got = ::read(fd, buf, sizeof buf);
        ::close(fd);
        std::size_t len = got > 0 ? std::size_t(got) : 0;
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) --len;   // tolerate a hand-edited file
        bool hex = len == 2 * kTokenBytes;
        for (std::size_t i = 0; hex && i < len; ++i) hex = std::isxdigit(static_cast<unsigned char>(buf[i])) != 0;
        if (!hex) {
            sodium_memzero(buf, sizeof buf);
            return "token file " + path + ": expected 64 hex characters; delete it to have a new one made";
        }
        token->assign(buf, len);
        sodium_memzero(buf, sizeof buf);
        return "";
    }
    if (errno != ENOENT) return "cannot open " + path + ": " + std::strerror(errno);

    unsigned char raw[kTokenBytes];
    randombytes_buf(raw, sizeof raw);
    char hex[2 * kTokenBytes + 1];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        sodium_memzero(hex, sizeof hex);
        return "cannot create " + path + ": " + std::strerror(errno);
    }
    ssize_t put = ::write(fd, hex, 2 * kTokenBytes);
    bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (put != ssize_t(2 * kTokenBytes) || !synced) {
        sodium_memzero(hex, sizeof hex);
        ::unlink(path.c_str());
        return "cannot write " + path;
    }
    token->assign(hex, 2 * kTokenBytes);
    sodium_memzero(hex, sizeof hex);
    return "";
}

}  // namespace voxa::api
