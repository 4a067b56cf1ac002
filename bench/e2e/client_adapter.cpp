#include "client_adapter.h"

#include "local/client.h"

namespace voxa::bench {

BenchClient::BenchClient() = default;
BenchClient::~BenchClient() = default;

bool BenchClient::connect(const std::string& path, std::string& error) {
    client_ = local::Client::connect(path, &error);
    if (!client_) error = path + ": " + error;
    return client_ != nullptr;
}

bool BenchClient::send(const NodeId& destination, std::span<const uint8_t> bytes, std::string& error) {
    return client_->send(destination, bytes, /*report=*/true, &error).has_value();
}

bool BenchClient::subscribe(std::string& error) { return client_->subscribe(&error); }

BenchClient::Event BenchClient::next(int timeout_ms) {
    Event event;
    std::string error;
    auto incoming = client_->next(timeout_ms, &error);
    if (!incoming) {
        if (!error.empty()) {
            event.kind = Kind::kClosed;
            event.error = std::move(error);
        }
        return event;
    }
    if (incoming->type == local::FrameType::kResult) {
        event.kind = Kind::kResult;
        event.state = incoming->state;
        event.error = std::move(incoming->error);
    } else if (incoming->type == local::FrameType::kMessage) {
        event.kind = Kind::kMessage;
        last_message_ = std::move(incoming->bytes);   // outlives this call, until the next
        event.bytes = last_message_;
    }
    return event;
}

std::optional<std::string> BenchClient::stats_json(std::string& error) { return client_->stats_json(&error); }

std::optional<nlohmann::json> node_stats(const std::string& socket, std::string& error) {
    BenchClient client;
    if (!client.connect(socket, error)) return std::nullopt;
    auto const text = client.stats_json(error);
    if (!text) return std::nullopt;
    auto doc = nlohmann::json::parse(*text, nullptr, false);
    if (!doc.is_object() || !doc.contains("node") || !doc["node"].is_object()) {
        error = "stats without a \"node\" object";
        return std::nullopt;
    }
    return doc;
}

double cells_relayed(const nlohmann::json& stats) {
    auto const& node = stats["node"];
    return node.value("cells_relayed_forward", 0.0) + node.value("cells_relayed_backward", 0.0);
}

}  // namespace voxa::bench
