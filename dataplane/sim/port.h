// A node's TxSink inside an in-process network: it tags each datagram with the sending node's index and hands it
// to the network, which decides what becomes of it. `Net` must have a (possibly private, then friend this class)
// member `void transmit(uint32_t from, const Endpoint& to, std::span<const uint8_t> bytes)`.
#pragma once

#include <cstdint>
#include <span>

#include "common/endpoint.h"
#include "link/endpoint.h"

namespace voxa::sim {

template <class Net>
class Port final : public link::TxSink {
public:
    Port(Net& net, uint32_t index) : net_(net), index_(index) {}
    void transmit(const Endpoint& to, std::span<const uint8_t> datagram) noexcept override {
        net_.transmit(index_, to, datagram);
    }

private:
    Net& net_;        // outlives the port
    uint32_t index_;  // the sending node
};

}  // namespace voxa::sim
