// Initialises libsodium once for every circuit test (sodium_init before any CSPRNG or key use).
#include <gtest/gtest.h>

#include "crypto/provider.h"

namespace {
class CryptoEnvironment final : public testing::Environment {
public:
    void SetUp() override { ASSERT_TRUE(voxa::crypto::init()); }
};
[[maybe_unused]] testing::Environment* const kEnv = testing::AddGlobalTestEnvironment(new CryptoEnvironment);
}  // namespace
