// The relay path allocates nothing: after a circuit is up, a relay receiving, peeling and forwarding cells makes
// no heap allocation at all (DESIGN §4: fixed tables, crypto in place). Checked by counting operator new.
#include <gtest/gtest.h>

#include "sim/relay_line.h"
#include "support/alloc_counter.h"

namespace voxa::sim {
namespace {

TEST(RelayPath, ForwardingCellsAllocatesNothing) {
    ASSERT_TRUE(crypto::init());
    RelayLine line;
    ASSERT_TRUE(line.warm_up());
    const std::size_t at_capture = test::allocations_on_this_thread();
    auto cells = line.capture_forward_cells(1u << 20);
    ASSERT_GT(cells.size(), 800u);
    ASSERT_GT(test::allocations_on_this_thread(), at_capture + cells.size()) << "the counter sees the capture's own allocations";
    // The first cell may meet lazily grown state (none is expected, but it is not what this test is about).
    line.relay(cells[0]);
    const uint64_t relayed_before = line.relay_node().stats().cells_relayed_forward;
    const uint64_t out_before = line.relay_output_datagrams();
    const std::size_t before = test::allocations_on_this_thread();
    for (std::size_t i = 1; i < cells.size(); ++i) line.relay(cells[i]);
    const std::size_t allocations = test::allocations_on_this_thread() - before;
    EXPECT_EQ(line.relay_node().stats().cells_relayed_forward - relayed_before, cells.size() - 1);
    EXPECT_EQ(line.relay_output_datagrams() - out_before, cells.size() - 1);
    EXPECT_EQ(allocations, 0u) << "allocations while relaying " << cells.size() - 1 << " cells";
}

}  // namespace
}  // namespace voxa::sim
