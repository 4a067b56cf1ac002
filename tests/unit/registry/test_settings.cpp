// The registry plugin's settings (plugins/registry/settings.h): defaults, derived defaults, and one error
// naming the key for every kind of bad value.
#include <gtest/gtest.h>

#include "registry/settings.h"

namespace voxa::registry {
namespace {

using nlohmann::json;

std::string error_of(const json& j) {
    std::string e;
    EXPECT_FALSE(parse_settings(j, &e).has_value()) << j.dump();
    return e;
}

TEST(RegistrySettings, EmptyMeansDefaults) {
    std::string e;
    std::optional<Settings> s = parse_settings(json::object(), &e);
    ASSERT_TRUE(s) << e;
    EXPECT_EQ(s->backend, Backend::kEmbedded);
    EXPECT_EQ(s->heartbeat_interval_s, 10u);
    EXPECT_EQ(s->down_after_s, 30u);
    EXPECT_EQ(s->purge_after_s, 3600u);
    EXPECT_EQ(s->record_lifetime_s, 3600u);
    EXPECT_EQ(s->poll_interval_s, 5u);
    EXPECT_EQ(s->session_ttl_s, 3600u);
    EXPECT_EQ(s->max_records, 100000u);
    EXPECT_EQ(s->rate_limits.login_per_minute, 10u);
    EXPECT_EQ(s->rate_limits.reads_per_minute, 6000u);
    EXPECT_EQ(s->dht.port, 4222);
    EXPECT_EQ(s->dht.network_id, 0x766f7861u);
    ASSERT_TRUE(parse_settings(nullptr, &e)) << "absent plugin settings are the defaults";
}

TEST(RegistrySettings, DerivedDefaultsFollowTheGivenKeys) {
    std::string e;
    std::optional<Settings> s = parse_settings(json{{"heartbeat_interval_s", 2}, {"backend", "dht"}}, &e);
    ASSERT_TRUE(s) << e;
    EXPECT_EQ(s->down_after_s, 6u) << "3 x heartbeat_interval_s";
    EXPECT_EQ(s->record_lifetime_s, 30u) << "the dht backend's default lifetime";
    EXPECT_EQ(s->backend, Backend::kDht);
    s = parse_settings(json{{"heartbeat_interval_s", 2},
                            {"down_after_s", 5},
                            {"purge_after_s", 5},
                            {"rate_limits", {{"login_per_minute", 3}}},
                            {"dht", {{"port", 0}, {"bind", "127.0.0.1"}, {"network_id", 4294967295u}}}},
                       &e);
    ASSERT_TRUE(s) << e;
    EXPECT_EQ(s->down_after_s, 5u);
    EXPECT_EQ(s->rate_limits.login_per_minute, 3u);
    EXPECT_EQ(s->rate_limits.register_per_minute, 60u);
    EXPECT_EQ(s->dht.port, 0);
    EXPECT_EQ(s->dht.network_id, 4294967295u);
    // to_json round-trips through the parser.
    std::optional<Settings> back = parse_settings(to_json(*s), &e);
    ASSERT_TRUE(back) << e;
    EXPECT_EQ(*back, *s);
}

TEST(RegistrySettings, ErrorsNameTheKeyAndTheExpectation) {
    EXPECT_EQ(error_of(json{{"backend", "sql"}}),
              "registry.backend: expected \"embedded\" or \"dht\", got \"sql\"");
    EXPECT_EQ(error_of(json{{"heartbeat_interval_s", 0}}),
              "registry.heartbeat_interval_s: expected an integer 1..3600, got 0");
    EXPECT_EQ(error_of(json{{"heartbeat_interval_s", "10"}}),
              "registry.heartbeat_interval_s: expected an integer 1..3600, got \"10\"");
    EXPECT_EQ(error_of(json{{"heartbeat_interval_s", -1}}),
              "registry.heartbeat_interval_s: expected an integer 1..3600, got -1");
    EXPECT_EQ(error_of(json{{"heartbeat_interval_s", 10}, {"down_after_s", 5}}),
              "registry.down_after_s: expected an integer 10..86400, got 5");
    EXPECT_EQ(error_of(json{{"purge_after_s", 10}}),
              "registry.purge_after_s: expected an integer 30..31536000, got 10");
    EXPECT_EQ(error_of(json{{"session_ttl_s", 59}}),
              "registry.session_ttl_s: expected an integer 60..86400, got 59");
    EXPECT_NE(error_of(json{{"max_records", 0}}).find("registry.max_records:"), std::string::npos);
    EXPECT_EQ(error_of(json{{"heartbeat", 1}}).rfind("registry.heartbeat: unknown key", 0), 0u);
    EXPECT_EQ(
        error_of(json{{"rate_limits", {{"logins", 1}}}}).rfind("registry.rate_limits.logins: unknown key", 0),
        0u);
    EXPECT_EQ(error_of(json{{"rate_limits", {{"login_per_minute", 0}}}}),
              "registry.rate_limits.login_per_minute: expected an integer 1..1000000, got 0");
    EXPECT_EQ(error_of(json{{"rate_limits", 5}}), "registry.rate_limits: expected an object, got 5");
    EXPECT_EQ(error_of(json{{"dht", {{"port", 70000}}}}),
              "registry.dht.port: expected an integer 0..65535, got 70000");
    EXPECT_EQ(error_of(json{{"dht", {{"network_id", 4294967296}}}}),
              "registry.dht.network_id: expected an integer 0..4294967295, got 4294967296");
    EXPECT_EQ(error_of(json{{"dht", {{"bind", 1}}}}),
              "registry.dht.bind: expected a numeric IPv4 or IPv6 address, got 1");
    EXPECT_EQ(error_of(json::array()), "registry: expected an object, got []");
}

}  // namespace
}  // namespace voxa::registry
