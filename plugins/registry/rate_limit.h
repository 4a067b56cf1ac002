// Token-bucket rate limits per key: the registry's open routes (login, register, writes, reads) are limited per
// peer address as the API server saw it (never a header the client chose). Each key holds up to `burst` tokens,
// refilled at `per_minute` per minute; a request takes one.
//
// Bounded memory: at most `keys_max` buckets; when full, the least recently used bucket is dropped (that key
// starts again with a full bucket, which is the cost of the bound). Thread-safe: one mutex, O(1) per call.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace voxa::registry {

class RateLimiter {
public:
    // per_minute 0 means unlimited (allow() always true). burst 0 is taken as 1.
    RateLimiter(uint32_t per_minute, uint32_t burst, std::size_t keys_max);

    // Takes one token from key's bucket. false when it is empty; *retry_after_ms (if given) is then how long
    // until one token is back. now_ms is any monotonic clock in milliseconds (tests pass a fake one).
    bool allow(std::string_view key, uint64_t now_ms, uint64_t* retry_after_ms = nullptr);

    std::size_t size() const;   // buckets held

    // The key of a peer address: an IPv4 address (or an IPv4-mapped IPv6 one) as itself, an IPv6 address by its
    // /64, which one subscriber holds whole (a key per address would give each of them 2^64 buckets). Anything
    // else (not an address) is its own key.
    static std::string key_of_peer(std::string_view address);

private:
    struct Bucket {
        double tokens = 0;
        uint64_t at_ms = 0;
        std::list<std::string>::iterator lru;
    };

    uint32_t per_minute_;
    double burst_;
    std::size_t keys_max_;
    mutable std::mutex mutex_;
    std::list<std::string> lru_;   // most recently used first
    std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace voxa::registry
