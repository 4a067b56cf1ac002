#include "registry/rate_limit.h"

#include <algorithm>
#include <cmath>

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

std::size_t RateLimiter::size() const {
    std::lock_guard lock(mutex_);
    return buckets_.size();
}

}  // namespace voxa::registry
