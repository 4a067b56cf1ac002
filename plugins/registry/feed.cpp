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

Feed::Result Feed::sync_names(const std::map<std::string, NameTarget>& live) {
    std::lock_guard lock(mutex_);
    Result r;
    for (auto it = pushed_names_.begin(); it != pushed_names_.end();) {
        if (live.count(it->first) != 0) {
            ++it;
            continue;
        }
        nlohmann::json const cmd = {{"type", "name_remove"}, {"name", it->first}};
        if (send_(cmd.dump()) == 0) {
            ++r.removed;
            it = pushed_names_.erase(it);
        } else {
            ++r.failed;
            ++it;
        }
    }
    for (const auto& [name, target] : live) {
        auto it = pushed_names_.find(name);
        if (!resend_names_ && it != pushed_names_.end() && it->second == target)
            continue;
        nlohmann::json const cmd = {{"type", "name_set"},
                                    {"name", name},
                                    {"node_id", to_hex(target.node)},
                                    {"expires_s", target.expires_s}};
        if (send_(cmd.dump()) == 0) {
            pushed_names_[name] = target;
            ++r.updated;
        } else {
            ++r.failed;
        }
    }
    if (r.failed == 0)
        resend_names_ = false;
    return r;
}

void Feed::resend_all() {
    std::lock_guard lock(mutex_);
    resend_ = true;
    resend_names_ = true;
}

std::size_t Feed::pushed() const {
    std::lock_guard lock(mutex_);
    return pushed_.size();
}

}  // namespace voxa::registry
