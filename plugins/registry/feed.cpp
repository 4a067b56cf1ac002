// The diff-and-push of the live set to the data plane (feed.h).
#include "registry/feed.h"

#include <nlohmann/json.hpp>
#include <vector>

namespace voxa::registry {

Feed::Result Feed::sync(const std::map<NodeId, LinkDescriptor>& live) {
    std::lock_guard lock(mutex_);
    Result r;
    // Removals first: a node that went down must stop being chosen before anything new is offered.
    for (auto it = pushed_.begin(); it != pushed_.end();) {
        if (live.count(it->first) != 0) {
            ++it;
            continue;
        }
        nlohmann::json const cmd = {{"type", "peer_remove"}, {"node_id", to_hex(it->first)}};
        if (send_(cmd.dump()) == 0) {
            ++r.removed;
            it = pushed_.erase(it);
        } else {
            ++r.failed;
            ++it;
        }
    }
    std::vector<std::pair<NodeId, LinkDescriptor>> batch;
    auto flush = [&] {
        if (batch.empty())
            return;
        nlohmann::json list = nlohmann::json::array();
        for (const auto& [id, d] : batch) list.push_back(to_hex(d));
        nlohmann::json const cmd = {{"type", "peer_update"}, {"descriptors", std::move(list)}};
        if (send_(cmd.dump()) == 0) {
            for (const auto& [id, d] : batch) pushed_[id] = d;
            r.updated += batch.size();
        } else {
            ++r.failed;
        }
        batch.clear();
    };
    for (const auto& [id, d] : live) {
        auto it = pushed_.find(id);
        if (!resend_ && it != pushed_.end() && it->second == d)
            continue;
        batch.emplace_back(id, d);
        if (batch.size() == kDescriptorsPerCommand)
            flush();
    }
    flush();
    if (r.failed == 0)
        resend_ = false;
    return r;
}

void Feed::resend_all() {
    std::lock_guard lock(mutex_);
    resend_ = true;
}

std::size_t Feed::pushed() const {
    std::lock_guard lock(mutex_);
    return pushed_.size();
}

}  // namespace voxa::registry
