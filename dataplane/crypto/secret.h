// Fixed-size secret bytes that are wiped (sodium_memzero) when they go out of scope or are overwritten.
// Copying is allowed where the protocol needs it (key schedules) but every copy is wiped the same way.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include <sodium.h>

namespace voxa::crypto {

template <std::size_t N>
class Secret {
public:
    Secret() noexcept { bytes_.fill(0); }
    explicit Secret(std::span<const uint8_t, N> from) noexcept { std::copy(from.begin(), from.end(), bytes_.begin()); }
    Secret(const Secret& other) noexcept : bytes_(other.bytes_) {}
    Secret& operator=(const Secret& other) noexcept {
        bytes_ = other.bytes_;
        return *this;
    }
    ~Secret() { sodium_memzero(bytes_.data(), N); }

    uint8_t* data() noexcept { return bytes_.data(); }
    const uint8_t* data() const noexcept { return bytes_.data(); }
    static constexpr std::size_t size() noexcept { return N; }
    std::span<uint8_t, N> span() noexcept { return std::span<uint8_t, N>(bytes_); }
    std::span<const uint8_t, N> span() const noexcept { return std::span<const uint8_t, N>(bytes_); }
    void wipe() noexcept { sodium_memzero(bytes_.data(), N); }

    // Constant-time equality; the only comparison secrets get.
    bool equals(const Secret& other) const noexcept { return sodium_memcmp(data(), other.data(), N) == 0; }

private:
    std::array<uint8_t, N> bytes_;
};

using Key32 = Secret<32>;

}  // namespace voxa::crypto
