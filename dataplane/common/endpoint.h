// A network endpoint: IPv4 or IPv6 address and UDP port, or a simulated node index for the in-process
// network. A plain value type (20 bytes), comparable and hashable, usable as a cookie input.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace voxa {

struct Endpoint {
    enum class Family : uint8_t { kNone = 0, kIpv4 = 4, kIpv6 = 6, kSim = 9 };
    Family family = Family::kNone;
    uint16_t port = 0;                  // host byte order
    std::array<uint8_t, 16> addr{};     // IPv4 in the first 4 bytes; kSim: node index in the first 4 (LE)

    static Endpoint sim(uint32_t index) noexcept {
        Endpoint e;
        e.family = Family::kSim;
        std::memcpy(e.addr.data(), &index, 4);
        return e;
    }
    uint32_t sim_index() const noexcept {
        uint32_t i;
        std::memcpy(&i, addr.data(), 4);
        return i;
    }
    friend bool operator==(const Endpoint&, const Endpoint&) = default;
    std::string to_string() const;
};

}  // namespace voxa
