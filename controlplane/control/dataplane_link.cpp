#include "dataplane_link.h"

#include <cerrno>

#include "common/log.h"
#include "directory/names.h"
#include "store.h"

namespace voxa::cp {

using nlohmann::json;

namespace {


int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool from_hex(std::string_view text, std::vector<uint8_t>* out) {
    if (text.size() % 2 != 0) return false;
    out->clear();
    for (std::size_t i = 0; i < text.size(); i += 2) {
        int const hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out->push_back(uint8_t(hi << 4 | lo));
    }
    return true;
}

// obj[key] as an unsigned integer in lo..hi; false with *error naming the field.
bool read_uint(const json& obj, const char* key, uint64_t lo, uint64_t hi, uint64_t* out, std::string* error) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_number_integer() || (it->is_number_integer() && !it->is_number_unsigned() &&
                                                        it->get<int64_t>() < 0) ||
        it->get<uint64_t>() < lo || it->get<uint64_t>() > hi) {
        *error = std::string("\"") + key + "\": expected an integer " + std::to_string(lo) + ".." + std::to_string(hi);
        return false;
    }
    *out = it->get<uint64_t>();
    return true;
}

bool only_keys(const json& obj, std::initializer_list<const char*> keys, std::string* error) {
    for (const auto& item : obj.items()) {
        bool known = false;
        for (const char* k : keys) known = known || item.key() == k;
        if (!known) {
            *error = "\"" + item.key() + "\": unknown field for this command type";
            return false;
        }
    }
    return true;
}

// obj[key] as a name the data plane resolves (directory::valid_name), copied into *storage so the command's
// borrowed view stays valid; false with *error naming the field.
bool read_name(const json& obj, const char* key, std::vector<std::vector<uint8_t>>* storage, std::string_view* out,
               std::string* error) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_string() || !directory::valid_name(it->get_ref<const std::string&>())) {
        *error = std::string("\"") + key + "\": expected a name of 1.." + std::to_string(directory::kNameBytesMax) +
                 " bytes of lowercase a-z, 0-9, '.', '-'";
        return false;
    }
    const std::string& name = it->get_ref<const std::string&>();
    storage->emplace_back(name.begin(), name.end());
    *out = std::string_view(reinterpret_cast<const char*>(storage->back().data()), storage->back().size());
    return true;
}

const char* resource_name(shm::OverloadResource r) {
    switch (r) {
        case shm::OverloadResource::kCommandRing: return "command_ring";
        case shm::OverloadResource::kTxQueue: return "tx_queue";
        case shm::OverloadResource::kReassemblyMemory: return "reassembly_memory";
        default: return "unknown";
    }
}

}  // namespace

bool parse_command(std::string_view command_json, std::size_t body_bytes_max, std::vector<shm::Command>* out,
                   std::vector<std::vector<uint8_t>>* storage, std::string* error) {
    out->clear();
    json const j = json::parse(command_json, nullptr, false);
    if (!j.is_object()) {
        *error = "a command is a JSON object with a \"type\"";
        return false;
    }
    auto type_it = j.find("type");
    if (type_it == j.end() || !type_it->is_string()) {
        *error = "\"type\": expected one of circuit_policy, drain, log_level, shutdown, peer_remove, peer_update, "
                 "name_set, name_remove";
        return false;
    }
    std::string const type = type_it->get<std::string>();
    uint64_t v = 0;
    if (type == "circuit_policy") {
        if (!only_keys(j, {"type", "hops", "n", "k", "rotation_s"}, error)) return false;
        shm::CircuitPolicy p;
        if (!read_uint(j, "hops", 1, shm::kPolicyHopsMax, &v, error)) return false;
        p.hops = uint8_t(v);
        if (!read_uint(j, "n", 1, shm::kPolicyPartsMax, &v, error)) return false;
        p.n = uint8_t(v);
        if (!read_uint(j, "k", 1, p.n, &v, error)) return false;
        p.k = uint8_t(v);
        if (j.contains("rotation_s")) {
            if (!read_uint(j, "rotation_s", 0, UINT32_MAX, &v, error)) return false;
            p.rotation_s = uint32_t(v);
        }
        out->push_back(p);
    } else if (type == "drain" || type == "shutdown") {
        if (!only_keys(j, {"type", "deadline_ms"}, error)) return false;
        if (!read_uint(j, "deadline_ms", 0, UINT32_MAX, &v, error)) return false;
        if (type == "drain") out->push_back(shm::Drain{uint32_t(v)});
        else out->push_back(shm::Shutdown{uint32_t(v)});
    } else if (type == "log_level") {
        if (!only_keys(j, {"type", "level"}, error)) return false;
        auto it = j.find("level");
        LogLevel level{};
        if (it == j.end() || !it->is_string() || !parse_log_level(it->get<std::string>(), &level)) {
            *error = "\"level\": expected one of \"debug\", \"info\", \"warn\", \"error\"";
            return false;
        }
        out->push_back(shm::SetLogLevel{uint8_t(level)});
    } else if (type == "peer_remove") {
        if (!only_keys(j, {"type", "node_id"}, error)) return false;
        auto it = j.find("node_id");
        std::vector<uint8_t> bytes;
        if (it == j.end() || !it->is_string() || !from_hex(it->get<std::string>(), &bytes) ||
            bytes.size() != shm::kNodeIdBytes) {
            *error = "\"node_id\": expected 64 hex digits";
            return false;
        }
        shm::PeerRemove r;
        std::copy(bytes.begin(), bytes.end(), r.node.begin());
        out->push_back(r);
    } else if (type == "peer_update") {
        if (!only_keys(j, {"type", "descriptors"}, error)) return false;
        auto it = j.find("descriptors");
        if (it == j.end() || !it->is_array() || it->empty() || it->size() > 65535) {
            *error = "\"descriptors\": expected a non-empty array of signed descriptors (264 hex digits each)";
            return false;
        }
        std::size_t const per_slot = body_bytes_max < 4 ? 0 : (body_bytes_max - 4) / shm::kDescriptorBytes;
        if (per_slot == 0) {
            *error = "the command ring's slots are too small for a descriptor";
            return false;
        }
        std::vector<uint8_t> all, one;
        for (std::size_t i = 0; i < it->size(); ++i) {
            const json& d = (*it)[i];
            if (!d.is_string() || !from_hex(d.get<std::string>(), &one) || one.size() != shm::kDescriptorBytes) {
                *error = "\"descriptors[" + std::to_string(i) + "]\": expected " +
                         std::to_string(2 * shm::kDescriptorBytes) + " hex digits (one signed descriptor)";
                return false;
            }
            all.insert(all.end(), one.begin(), one.end());
        }
        storage->push_back(std::move(all));
        const std::vector<uint8_t>& bytes = storage->back();
        std::size_t const count = bytes.size() / shm::kDescriptorBytes;
        for (std::size_t first = 0; first < count; first += per_slot) {
            std::size_t const n = std::min(per_slot, count - first);
            shm::PeerUpdate u;
            u.count = uint16_t(n);
            u.descriptors = std::span<const uint8_t>(bytes).subspan(first * shm::kDescriptorBytes,
                                                                      n * shm::kDescriptorBytes);
            out->push_back(u);
        }
    } else if (type == "name_set") {
        if (!only_keys(j, {"type", "name", "node_id", "expires_s"}, error)) return false;
        shm::NameSet m;
        if (!read_name(j, "name", storage, &m.name, error)) return false;
        auto it = j.find("node_id");
        std::vector<uint8_t> bytes;
        if (it == j.end() || !it->is_string() || !from_hex(it->get<std::string>(), &bytes) ||
            bytes.size() != shm::kNodeIdBytes) {
            *error = "\"node_id\": expected 64 hex digits";
            return false;
        }
        std::copy(bytes.begin(), bytes.end(), m.node.begin());
        if (!read_uint(j, "expires_s", 0, UINT64_MAX, &v, error)) return false;
        m.expires_s = v;
        if (48 + m.name.size() > body_bytes_max) {
            *error = "\"name\": too long for the command ring's slots (" + std::to_string(body_bytes_max - 48) +
                     " bytes at most)";
            return false;
        }
        out->push_back(m);
    } else if (type == "name_remove") {
        if (!only_keys(j, {"type", "name"}, error)) return false;
        shm::NameRemove m;
        if (!read_name(j, "name", storage, &m.name, error)) return false;
        out->push_back(m);
    } else {
        *error = "\"type\": unknown command \"" + type +
                 "\" (expected circuit_policy, drain, log_level, shutdown, peer_remove, peer_update, name_set or "
                 "name_remove)";
        return false;
    }
    return true;
}

std::string_view event_topic(const shm::Event& event) {
    switch (event.index()) {
        case 0: return "dataplane.session_up";
        case 1: return "dataplane.session_down";
        case 2: return "dataplane.circuit_up";
        case 3: return "dataplane.circuit_down";
        case 4: return "dataplane.overload";
        default: return "dataplane.error";
    }
}

json event_json(const shm::Event& event, uint32_t worker) {
    json j = {{"worker", worker}};
    if (const auto* e = std::get_if<shm::SessionUp>(&event)) {
        j["peer"] = to_hex(e->peer);
    } else if (const auto* e1 = std::get_if<shm::SessionDown>(&event)) {
        j["peer"] = to_hex(e1->peer);
        j["reason"] = e1->reason;
    } else if (const auto* e2 = std::get_if<shm::CircuitUp>(&event)) {
        j["circuit"] = e2->circuit;
        j["hops"] = e2->hops;
    } else if (const auto* e3 = std::get_if<shm::CircuitDown>(&event)) {
        j["circuit"] = e3->circuit;
        j["hops"] = e3->hops;
        j["reason"] = e3->reason;
    } else if (const auto* e4 = std::get_if<shm::Overload>(&event)) {
        j["resource"] = resource_name(e4->resource);
        j["level_permille"] = e4->level_permille;
        j["value"] = e4->value;
    } else if (const auto* e5 = std::get_if<shm::ErrorEvent>(&event)) {
        j["code"] = e5->code;
        // Invalid UTF-8 from the other process must not make a later dump() throw.
        j["text"] = valid_utf8(e5->text) ? std::string(e5->text) : std::string("(invalid UTF-8)");
    }
    return j;
}

std::unique_ptr<DataplaneLink> DataplaneLink::open(const std::string& path, const shm::SegmentConfig& config,
                                                   std::string* error) {
    std::unique_ptr<shm::Segment> segment = shm::Segment::open(path, config, shm::Side::kControl, error);
    if (!segment) return nullptr;
    std::unique_ptr<DataplaneLink> link(new DataplaneLink());
    link->commands_ = segment->command_producer(0);
    for (uint32_t w = 0; w < segment->config().workers; ++w) link->events_.push_back(segment->event_consumer(w));
    link->segment_ = std::move(segment);
    return link;
}

int DataplaneLink::command(std::string_view command_json, std::string* error) {
    std::vector<shm::Command> commands;
    std::vector<std::vector<uint8_t>> storage;
    if (!parse_command(command_json, commands_.body_bytes_max(), &commands, &storage, error)) return -EINVAL;
    if (!dataplane_up(shm::monotonic_ns())) {
        *error = "the data plane is down";
        return -EAGAIN;
    }
    std::lock_guard lock(command_mutex_);
    std::size_t const free_slots = commands_.capacity() - commands_.size_approx();
    if (commands.size() > free_slots) {
        *error = "the data plane's command ring is full";
        return -EAGAIN;
    }
    for (const shm::Command& c : commands) {
        if (!shm::push_command(commands_, c)) {
            *error = "the data plane's command ring is full";
            return -EAGAIN;
        }
        commands_sent_.fetch_add(1, std::memory_order_relaxed);
    }
    return 0;
}

int DataplaneLink::command(const shm::Command& c) {
    if (!dataplane_up(shm::monotonic_ns())) return -EAGAIN;
    std::lock_guard lock(command_mutex_);
    if (!shm::push_command(commands_, c)) return -EAGAIN;
    commands_sent_.fetch_add(1, std::memory_order_relaxed);
    return 0;
}

std::size_t DataplaneLink::poll_events(const std::function<void(std::string_view, const json&)>& sink,
                                       std::size_t max_events) {
    std::size_t handed = 0;
    for (uint32_t w = 0; w < events_.size(); ++w) {
        shm::RingConsumer& ring = events_[w];
        uint64_t const skipped_before = [&] {
            uint64_t n = 0;
            for (uint64_t d : ring.stats().drops) n += d;
            return n;
        }();
        shm::SlotView slot;
        for (std::size_t i = 0; i < max_events && ring.peek(&slot); ++i) {
            shm::Event event;
            if (shm::decode_event(slot.type, slot.body, &event) == shm::DecodeError::kNone) {
                // Build the JSON before release(): decoded views borrow the slot.
                json const j = event_json(event, w);
                std::string_view const topic = event_topic(event);
                ring.release();
                sink(topic, j);
                ++handed;
            } else {
                ring.release();
                bad_slots_.fetch_add(1, std::memory_order_relaxed);
            }
        }
        uint64_t skipped_after = 0;
        for (uint64_t d : ring.stats().drops) skipped_after += d;
        bad_slots_.fetch_add(skipped_after - skipped_before, std::memory_order_relaxed);
    }
    return handed;
}

std::vector<DataplaneLink::Transition> DataplaneLink::watch(uint64_t now_ns) {
    std::vector<Transition> out;
    bool const up = dataplane_up(now_ns);
    shm::SideStatus const s = segment_->status(shm::Side::kData);
    if (was_up_ && (!up || s.epoch != last_epoch_)) out.push_back({false, last_epoch_, 0});
    if (up && (!was_up_ || s.epoch != last_epoch_)) out.push_back({true, s.epoch, s.pid});
    was_up_ = up;
    if (up) last_epoch_ = s.epoch;
    return out;
}

}  // namespace voxa::cp
