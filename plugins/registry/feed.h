// The feed: keeps the data plane's directory equal to the registry's live set. Each sync() is given the live
// descriptors (node id -> the record's 132-byte link descriptor, this node excluded), diffs them against what
// was pushed before and sends the difference as data-plane commands (include/voxa/plugin_abi.h):
//   {"type":"peer_update","descriptors":["<264 hex>", ...]}   new or changed descriptors, at most 3 per
//   command
//   {"type":"peer_remove","node_id":"<64 hex>"}                 ids that left the live set (down, expired,
//   removed)
// Names go the same way (sync_names), so that the data plane's local endpoint can RESOLVE them:
//   {"type":"name_set","name":"...","node_id":"<64 hex>","expires_s":N}   new or changed names
//   {"type":"name_remove","name":"..."}                                  names that expired or went
// A command the data plane refuses (-EAGAIN: down or ring full) is not counted as pushed, so the next sync
// retries it; resend_all() makes the next sync push every live descriptor again (the data plane restarted, or
// the periodic full refresh) while still removing what left.
//
// Owned by the Registry; thread-safe (one mutex), called from the host's timers and from service threads.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "directory/descriptor.h"
#include "voxa/types.h"

namespace voxa::registry {

using LinkDescriptor = std::array<uint8_t, directory::kDescriptorBytes>;

class Feed {
public:
    // Sends one command's JSON; 0 once queued, negative errno otherwise.
    using SendFn = std::function<int(const std::string& command_json)>;
    static constexpr std::size_t kDescriptorsPerCommand = 3;  // keeps each command well inside one ring slot

    explicit Feed(SendFn send) : send_(std::move(send)) {}

    struct Result {
        std::size_t updated = 0, removed = 0,
                    failed = 0;  // descriptors pushed, ids removed, commands refused
    };
    Result sync(const std::map<NodeId, LinkDescriptor>& live);
    // A name's target as the data plane holds it.
    struct NameTarget {
        NodeId node{};
        uint64_t expires_s = 0;
        friend bool operator==(const NameTarget&, const NameTarget&) = default;
    };
    Result sync_names(const std::map<std::string, NameTarget>& live);
    void resend_all();
    std::size_t pushed() const;

private:
    SendFn send_;
    mutable std::mutex mutex_;
    std::map<NodeId, LinkDescriptor> pushed_;  // what the data plane holds, as far as we know
    std::map<std::string, NameTarget> pushed_names_;
    bool resend_ = false, resend_names_ = false;
};

}  // namespace voxa::registry
