#include "common/endpoint.h"

#include <arpa/inet.h>

namespace voxa {

std::string Endpoint::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    switch (family) {
        case Family::kIpv4:
            inet_ntop(AF_INET, addr.data(), buf, sizeof buf);
            return std::string(buf) + ":" + std::to_string(port);
        case Family::kIpv6:
            inet_ntop(AF_INET6, addr.data(), buf, sizeof buf);
        {
            // Built step by step: gcc 12 -O3 warns falsely (-Wrestrict) on the chained operator+ form.
            std::string out = "[";
            out += buf;
            out += "]:";
            out += std::to_string(port);
            return out;
        }
        case Family::kSim:
            return "sim:" + std::to_string(sim_index());
        case Family::kNone:
            break;
    }
    return "none";
}

}  // namespace voxa
