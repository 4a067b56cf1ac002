#include "registry/rate_limit.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace voxa::registry {

RateLimiter::RateLimiter(uint32_t per_minute, uint32_t burst, std::size_t keys_max)
    : per_minute_(per_minute), burst_(double(std::max<uint32_t>(burst, 1))), keys_max_(std::max<std::size_t>(keys_max, 1)) {}

bool RateLimiter::allow(std::string_view key, uint64_t now_ms, uint64_t* retry_after_ms) {
    if (per_minute_ == 0) return true;
    double const per_ms = double(per_minute_) / 60000.0;
    std::lock_guard lock(mutex_);
    std::string k(key);
    auto it = buckets_.find(k);
    if (it == buckets_.end()) {
        if (buckets_.size() >= keys_max_) {
            buckets_.erase(lru_.back());
            lru_.pop_back();
        }
        lru_.push_front(k);
        it = buckets_.emplace(std::move(k), Bucket{burst_, now_ms, lru_.begin()}).first;
    } else {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
    }
    Bucket& b = it->second;
    if (now_ms > b.at_ms) {   // a clock that goes back refills nothing
        b.tokens = std::min(burst_, b.tokens + double(now_ms - b.at_ms) * per_ms);
        b.at_ms = now_ms;
    }
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        return true;
    }
    if (retry_after_ms != nullptr) *retry_after_ms = uint64_t(std::ceil((1.0 - b.tokens) / per_ms));
    return false;
}

std::string RateLimiter::key_of_peer(std::string_view address) {
    std::string const text(address);
    std::array<uint8_t, 16> a{};
    if (inet_pton(AF_INET6, text.c_str(), a.data()) != 1) return text;
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(a.begin(), a.begin() + 12, kMapped)) {
        char v4[INET_ADDRSTRLEN];
        return inet_ntop(AF_INET, a.data() + 12, v4, sizeof v4) != nullptr ? std::string(v4) : text;
    }
    char key[32];
    std::snprintf(key, sizeof key, "%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", a[0], a[1], a[2], a[3], a[4], a[5],
                  a[6], a[7]);
    return key;
}

std::size_t RateLimiter::size() const {
    std::lock_guard lock(mutex_);
    return buckets_.size();
}

}  // namespace voxa::registry
