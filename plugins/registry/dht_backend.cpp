#include "registry/dht_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <opendht/dhtrunner.h>
#include <opendht/value.h>

#include "common/bytes.h"

namespace voxa::registry {
namespace {

// How long a storing node keeps one of our values after its last announce or refresh. The publisher refreshes its
// permanent puts before this; it bounds how long a replaced value, or the last record of a node that vanished,
// lingers on the DHT (the record's own expiry, checked by the caller, is what makes it dead).
constexpr auto kValueExpiration = std::chrono::minutes(2);

bool ours(const dht::Value& v) noexcept {
    return v.type == kDhtValueType && v.user_type == kDhtUserType && !v.data.empty() &&
           v.data.size() <= kDhtValueBytesMax;
}

// Address text + port -> the SockAddr OpenDHT binds. Only the family of the address is bound.
bool bind_address(const std::string& host, uint16_t port, dht::SockAddr* out) {
    sockaddr_in v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(port);
        *out = dht::SockAddr(reinterpret_cast<const sockaddr*>(&v4), sizeof v4);
        return true;
    }
    sockaddr_in6 v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(port);
        *out = dht::SockAddr(reinterpret_cast<const sockaddr*>(&v6), sizeof v6);
        return true;
    }
    return false;
}

}  // namespace

std::string DhtBackend::key_name(uint32_t network_id, std::string_view topic) {
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", network_id);
    std::string k = "voxa/";
    k += hex;
    k += '/';
    k += topic;
    return k;
}

uint64_t DhtBackend::value_id(std::string_view topic, std::string_view slot, std::span<const uint8_t> bytes) {
    static constexpr std::string_view kContext = "voxa.slot.v1";
    uint8_t const zero = 0;
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, crypto_generichash_BYTES_MIN);
    crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(kContext.data()), kContext.size());
    crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(topic.data()), topic.size());
    crypto_generichash_update(&st, &zero, 1);   // topic "ab" + slot "c" differs from topic "a" + slot "bc"
    crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(slot.data()), slot.size());
    crypto_generichash_update(&st, &zero, 1);
    crypto_generichash_update(&st, bytes.data(), bytes.size());
    uint8_t h[crypto_generichash_BYTES_MIN];
    crypto_generichash_final(&st, h, sizeof h);
    uint64_t const id = load_u64(h);
    return id == dht::Value::INVALID_ID ? 1 : id;   // 0 would make OpenDHT pick a random id per put
}

std::unique_ptr<DhtBackend> DhtBackend::start(const DhtOptions& o, std::string* error) {
    auto fail = [&](std::string msg) -> std::unique_ptr<DhtBackend> {
        if (error) *error = std::move(msg);
        return nullptr;
    };
    if (sodium_init() < 0) return fail("libsodium failed to initialise");
    dht::SockAddr bind;
    if (!bind_address(o.bind_host, o.port, &bind))
        return fail("dht bind address \"" + o.bind_host + "\" is not a numeric IPv4 or IPv6 address");

    std::unique_ptr<DhtBackend> b(new DhtBackend());
    b->network_id_ = o.network_id;
    b->runner_ = std::make_unique<dht::DhtRunner>();
    try {
        dht::DhtRunner::Config config;
        config.threaded = true;
        config.dht_config.node_config.network = o.network_id;
        // Our node id from libsodium (house rule: randomness only from libsodium), not OpenDHT's own generator.
        randombytes_buf(config.dht_config.node_config.node_id.data(), config.dht_config.node_config.node_id.size());
        // No dht::crypto::Identity: values are not signed by OpenDHT (our records carry their own Ed25519
        // signature), so no key is generated and no GnuTLS work is done.
        if (bind.getFamily() == AF_INET)
            config.bind4 = bind;
        else
            config.bind6 = bind;
        b->runner_->run(config, dht::DhtRunner::Context{});

        // Store policy: only our kind of value, bounded in size. Edits stay refused (OpenDHT's default): an id is
        // derived from the bytes, so a different value under a held id can only be a forgery; the first one stays.
        dht::ValueType type(
            kDhtValueType, "voxa.record", kValueExpiration,
            [](dht::InfoHash, std::shared_ptr<dht::Value>& v, const dht::InfoHash&, const dht::SockAddr&) {
                return v && ours(*v);
            });
        b->runner_->registerType(type);
    } catch (const std::exception& e) {
        return fail("dht could not start on " + o.bind_host + ":" + std::to_string(o.port) + ": " + e.what());
    }
    b->port_ = b->runner_->getBoundPort(bind.getFamily());
    if (b->port_ == 0) {
        b->runner_->join();
        return fail("dht could not bind UDP " + o.bind_host + ":" + std::to_string(o.port));
    }
    b->running_ = true;
    for (const auto& [host, port] : o.bootstrap) {
        if (host.empty() || port == 0) continue;
        try {
            b->runner_->bootstrap(host, std::to_string(port));   // resolves and pings asynchronously
        } catch (const std::exception& e) {
            b->stop();
            return fail("dht bootstrap " + host + ":" + std::to_string(port) + ": " + e.what());
        }
    }
    return b;
}

DhtBackend::~DhtBackend() {
    stop();
}

void DhtBackend::stop() {
    std::unique_ptr<dht::DhtRunner> runner;
    {
        // Taken out under the mutex, joined outside it: a callback that runs while we join and calls publish()
        // finds no runner (refused) instead of waiting on this mutex forever.
        std::lock_guard lock(stop_mutex_);
        running_ = false;
        runner = std::move(runner_);
        slots_.clear();
    }
    if (!runner) return;
    try {
        runner->join();   // stops the socket, joins the threads, drops every pending op and listener
    } catch (...) {
    }
}

void DhtBackend::deliver(const std::function<void(std::span<const uint8_t>)>& fn,
                         std::span<const uint8_t> bytes) noexcept {
    try {
        fn(bytes);
    } catch (...) {
        callback_errors_.fetch_add(1, std::memory_order_relaxed);
    }
}

void DhtBackend::publish(std::string_view topic, std::string_view slot, std::span<const uint8_t> bytes) {
    if (bytes.empty() || bytes.size() > kDhtValueBytesMax) {
        publish_refused_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    uint64_t const id = value_id(topic, slot, bytes);
    auto v = std::make_shared<dht::Value>(kDhtValueType, bytes.data(), bytes.size(), id);
    v->user_type = std::string(kDhtUserType);
    auto const key = dht::InfoHash::get(key_name(network_id_, topic));
    std::string slot_key(topic);
    slot_key += '\0';
    slot_key += slot;

    std::lock_guard lock(stop_mutex_);   // runner_ stays alive for the call; guards slots_
    if (!runner_ || !running_) {
        publish_refused_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    auto held = slots_.find(slot_key);
    if (held == slots_.end() && slots_.size() >= kDhtSlotsMax) {
        publish_refused_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    if (held != slots_.end() && held->second == id) return;   // the same bytes: already announced (permanent)
    // Permanent: OpenDHT keeps refreshing it on the storing nodes until it is replaced here or stop() runs, so a
    // record that is not re-published (a name) stays on the DHT while this node is up.
    runner_->put(key, std::move(v), dht::DoneCallbackSimple{}, dht::time_point::max(), true);
    if (held != slots_.end()) {
        // The slot's older value: stop announcing it here. Storing nodes drop it kValueExpiration after its last
        // refresh (OpenDHT has no remote delete for unsigned values).
        runner_->cancelPut(key, held->second);
        held->second = id;
    } else {
        slots_.emplace(std::move(slot_key), id);
    }
    publishes_.fetch_add(1, std::memory_order_relaxed);
}

void DhtBackend::listen(std::string_view topic, std::function<void(std::span<const uint8_t>)> on_value) {
    std::lock_guard lock(stop_mutex_);
    if (!runner_ || !running_ || !on_value) return;
    // The callback keeps returning true: a listen lasts until stop(). Expiry notices (expired == true) are not
    // values; the caller learns liveness from the records' own expiry.
    runner_->listen(
        dht::InfoHash::get(key_name(network_id_, topic)),
        [this, fn = std::move(on_value)](const std::vector<std::shared_ptr<dht::Value>>& values, bool expired) {
            if (expired) return true;
            for (const auto& v : values) {
                if (!v || !ours(*v)) {
                    values_ignored_.fetch_add(1, std::memory_order_relaxed);
                    continue;
                }
                values_received_.fetch_add(1, std::memory_order_relaxed);
                deliver(fn, v->data);
            }
            return true;
        });
}

void DhtBackend::get(std::string_view topic, std::function<void(std::span<const uint8_t>)> on_value,
                     std::function<void()> done) {
    std::unique_lock lock(stop_mutex_);
    if (!runner_ || !running_) {
        lock.unlock();
        if (done) done();
        return;
    }
    runner_->get(
        dht::InfoHash::get(key_name(network_id_, topic)),
        [this, fn = std::move(on_value)](const std::vector<std::shared_ptr<dht::Value>>& values) {
            for (const auto& v : values) {
                if (!v || !ours(*v)) {
                    values_ignored_.fetch_add(1, std::memory_order_relaxed);
                    continue;
                }
                values_received_.fetch_add(1, std::memory_order_relaxed);
                if (fn) deliver(fn, v->data);
            }
            return true;
        },
        [this, done = std::move(done)](bool) {
            if (!done) return;
            try {
                done();
            } catch (...) {
                callback_errors_.fetch_add(1, std::memory_order_relaxed);
            }
        });
}

nlohmann::json DhtBackend::stats() const {
    nlohmann::json j = {
        {"port", port_},
        {"network_id", network_id_},
        {"values_received", values_received_.load()},
        {"publishes", publishes_.load()},
        {"publish_refused", publish_refused_.load()},
        {"values_ignored", values_ignored_.load()},
        {"callback_errors", callback_errors_.load()},
        {"running", false},
        {"node_id", ""},
        {"good_nodes", 0},
        {"dubious_nodes", 0},
    };
    std::lock_guard lock(stop_mutex_);   // the runner is torn down under this mutex
    if (runner_ && running_) {
        try {
            unsigned good = 0, dubious = 0;
            runner_->getNodesStats(AF_INET, &good, &dubious, nullptr, nullptr);
            unsigned good6 = 0, dubious6 = 0;
            runner_->getNodesStats(AF_INET6, &good6, &dubious6, nullptr, nullptr);
            j["good_nodes"] = good + good6;
            j["dubious_nodes"] = dubious + dubious6;
            j["node_id"] = runner_->getNodeId().toString();
            j["running"] = true;
        } catch (...) {
        }
    }
    return j;
}

}  // namespace voxa::registry
