#include "support/test_support.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "crypto/provider.h"

namespace {
// sodium_init before any CSPRNG or key use, in every test binary.
class CryptoEnvironment final : public testing::Environment {
public:
    void SetUp() override { ASSERT_TRUE(voxa::crypto::init()); }
};
[[maybe_unused]] testing::Environment* const kEnv = testing::AddGlobalTestEnvironment(new CryptoEnvironment);
}  // namespace

namespace voxa::test {

std::vector<uint8_t> random_bytes(std::size_t n) {
    std::vector<uint8_t> v(n);
    if (n > 0) randombytes_buf(v.data(), v.size());   // libsodium: the pointer must not be null
    return v;
}

int acknowledged_writes_of_killed_child(int count, const std::function<bool(int)>& write) {
    int fds[2];
    if (::pipe(fds) != 0) return -1;
    pid_t const child = ::fork();
    if (child < 0) return -1;
    if (child == 0) {
        ::close(fds[0]);
        for (int i = 1; i <= count; ++i) {
            if (!write(i)) ::_exit(3);
            if (::write(fds[1], &i, sizeof i) != ssize_t(sizeof i)) ::_exit(4);
        }
        ::_exit(0);
    }
    ::close(fds[1]);
    int last = 0, n = 0;
    while (::read(fds[0], &n, sizeof n) == ssize_t(sizeof n)) last = n;
    ::close(fds[0]);
    int status = 0;
    if (::waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    return last;
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    auto const until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
}

}  // namespace voxa::test
