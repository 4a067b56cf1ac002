// Three real nodes wired by hand, origin -> relay -> destination, one 1-hop circuit, for measuring and testing
// one relay's work on a cell in isolation (BM_RelayPeel, the no-allocation test). The origin's forward cells to
// the relay can be captured and replayed into the relay; whatever the relay sends on is counted and discarded.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "common/clock.h"
#include "crypto/identity.h"
#include "node/node.h"
#include "sim/port.h"

namespace voxa::sim {

class RelayLine {
public:
    // `window_cells` of the origin's flow control; large values let one message fill a whole capture.
    explicit RelayLine(uint32_t window_cells = 1u << 20);
    ~RelayLine();

    // Builds the circuit by delivering one small message end to end. False if it did not arrive.
    bool warm_up();
    // Sends a message of `message_bytes` and returns the origin's full-size datagrams to the relay.
    std::vector<std::vector<uint8_t>> capture_forward_cells(std::size_t message_bytes);
    // Hands one captured datagram to the relay (decrypted and re-encrypted in place).
    void relay(std::vector<uint8_t>& datagram);

    node::Node& origin() { return *nodes_[0]; }
    node::Node& relay_node() { return *nodes_[1]; }
    uint64_t relay_output_datagrams() const noexcept { return discarded_; }

private:
    friend class Port<RelayLine>;
    struct Packet {
        uint32_t from, to;
        std::vector<uint8_t> bytes;
    };
    void transmit(uint32_t from, const Endpoint& to, std::span<const uint8_t> bytes);
    void pump(int rounds);

    ManualClock clock_;
    SystemWallClock wall_;
    std::vector<crypto::Identity> ids_;
    std::vector<std::unique_ptr<Port<RelayLine>>> ports_;
    std::vector<std::unique_ptr<node::Node>> nodes_;
    std::deque<Packet> queue_;
    bool capturing_ = false;
    std::vector<std::vector<uint8_t>> captured_;
    uint64_t discarded_ = 0;
};

}  // namespace voxa::sim
