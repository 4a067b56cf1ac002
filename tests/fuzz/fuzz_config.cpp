// Fuzz target for the configuration parsers: the input is read as settings.json, p2p.json and dataplane.json
// content (parse_settings / parse_p2p / parse_dataplane: no files, no environment), and as a host literal.
// Invariants, checked with VOXA_CHECK: no exception escapes; a rejected input has exactly one non-empty message
// that starts with the file label; an accepted one, written back with to_json, parses to an equal value (the
// round trip the --check-config output relies on).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "crypto/provider.h"
#include "voxa/assert.h"

using namespace voxa;

namespace {

template <class T, class Parse>
void check(std::string_view text, std::string_view label, Parse parse) {
    std::string error;
    std::optional<T> const value = parse(text, label, &error);
    if (!value) {
        VOXA_CHECK(!error.empty());
        VOXA_CHECK(error.compare(0, label.size(), label) == 0);
        return;
    }
    std::string const written = config::to_json(*value).dump();
    std::string again_error;
    std::optional<T> const again = parse(written, label, &again_error);
    VOXA_CHECK(again.has_value());
    VOXA_CHECK(*again == *value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static bool const ready = crypto::init();
    VOXA_CHECK(ready);
    std::string_view const text(reinterpret_cast<const char*>(data), size);
    check<config::Settings>(text, "fuzz/settings.json", &config::parse_settings);
    check<config::P2p>(text, "fuzz/p2p.json", &config::parse_p2p);
    check<config::Dataplane>(text, "fuzz/dataplane.json", &config::parse_dataplane);
    if (std::optional<Endpoint> const e = config::parse_numeric_endpoint(text, 9000)) {
        VOXA_CHECK(e->family == Endpoint::Family::kIpv4 || e->family == Endpoint::Family::kIpv6);
        VOXA_CHECK(e->port == 9000);
    }
    return 0;
}
