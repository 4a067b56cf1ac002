#include "support/test_support.h"

#include <gtest/gtest.h>
#include <sodium.h>

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

}  // namespace voxa::test
