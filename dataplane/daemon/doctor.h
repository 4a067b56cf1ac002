// `voxa-dataplane --doctor`: checks this host for what the data plane's backends need and prints one line per
// finding, "OK   <area>: <what>", "WARN <area>: <what> -> <what to do>" or "FAIL <area>: ...". Areas: hugepages
// (per size: total/free, a mounted hugetlbfs), iommu (/sys/kernel/iommu_groups), vfio (modules), nics (each
// network interface's driver; PCI functions bound to vfio-pci), numa (nodes), cores (isolated cpus, isolcpus /
// nohz_full on the kernel command line), io_uring (a ring, multishot receive, provided-buffer rings, UDP GSO and
// GRO on a test socket), dpdk (built in or not).
// A finding is a FAIL only where the configured backend cannot run: io_uring without io_uring, dpdk without DPDK
// in the build, or without hugepages while dpdk.no_huge is false. Everything else is a WARN (performance or a
// feature that falls back). Reads /sys and /proc only; creates one io_uring and two UDP sockets, then closes them.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace voxa::daemon {

enum class Finding : unsigned char { kOk, kWarn, kFail };

struct DoctorLine {
    Finding finding = Finding::kOk;
    std::string area;
    std::string text;
};

struct DoctorOptions {
    std::string backend = "io_uring";   // the configured dataplane.backend
    bool dpdk_no_huge = false;          // dataplane.dpdk.no_huge: hugepages are then not required
};

// Every check's lines (allocates; start-up / CLI only). `root` prefixes /sys and /proc paths (tests use a fake tree).
std::vector<DoctorLine> doctor_checks(const DoctorOptions& options, const std::string& root = "");
// Prints the lines to `out`; returns the exit code: 1 when any line is a FAIL, else 0.
int run_doctor(const DoctorOptions& options, std::FILE* out);

}  // namespace voxa::daemon
