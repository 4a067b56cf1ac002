// voxa-dataplane --doctor on a fake /sys and /proc tree: what is a FAIL for which backend, and that each line says
// what to fix.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "daemon/doctor.h"

namespace voxa::daemon {
namespace {

namespace fs = std::filesystem;

struct FakeRoot {
    fs::path dir = fs::temp_directory_path() / ("voxa-doctor-" + std::to_string(getpid()));
    FakeRoot() { fs::create_directories(dir); }
    ~FakeRoot() { fs::remove_all(dir); }
    void write(const std::string& rel, const std::string& text) {
        fs::create_directories((dir / rel).parent_path());
        std::ofstream(dir / rel) << text << "\n";
    }
};

bool has(const std::vector<DoctorLine>& lines, Finding f, const std::string& area, const std::string& text) {
    for (const auto& l : lines) {
        if (l.finding == f && l.area == area && l.text.find(text) != std::string::npos) return true;
    }
    return false;
}

bool any_fail(const std::vector<DoctorLine>& lines, const std::string& area) {
    for (const auto& l : lines) {
        if (l.finding == Finding::kFail && l.area == area) return true;
    }
    return false;
}

TEST(Doctor, NoHugepagesFailsOnlyForDpdkWithHugepages) {
    FakeRoot r;
    r.write("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "0");
    r.write("sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "0");
    r.write("proc/mounts", "proc /proc proc rw 0 0");
    r.write("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/vda1");
    DoctorOptions o;
    o.backend = "dpdk";
    auto lines = doctor_checks(o, r.dir.string());
    EXPECT_TRUE(any_fail(lines, "hugepages"));
    EXPECT_TRUE(has(lines, Finding::kFail, "hugepages", "scripts/hugepages.sh reserve"));
    EXPECT_TRUE(has(lines, Finding::kWarn, "hugepages", "no hugetlbfs mounted"));
    EXPECT_TRUE(has(lines, Finding::kWarn, "cores", "isolcpus="));
    EXPECT_TRUE(has(lines, Finding::kWarn, "iommu", "0 IOMMU groups"));
    o.dpdk_no_huge = true;
    EXPECT_FALSE(any_fail(doctor_checks(o, r.dir.string()), "hugepages"));
    o.backend = "io_uring";
    o.dpdk_no_huge = false;
    EXPECT_FALSE(any_fail(doctor_checks(o, r.dir.string()), "hugepages"));
}

TEST(Doctor, ReportsReservedPagesIsolatedCoresAndVfio) {
    FakeRoot r;
    r.write("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "512");
    r.write("sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "500");
    r.write("proc/mounts", "nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0");
    r.write("sys/devices/system/cpu/isolated", "2-3");
    r.write("proc/cmdline", "root=/dev/sda isolcpus=2-3 nohz_full=2-3");
    r.write("sys/module/vfio_pci/refcnt", "0");
    r.write("sys/kernel/iommu_groups/0/type", "DMA");
    r.write("sys/devices/system/node/node0/cpulist", "0-3");
    r.write("sys/bus/pci/drivers/vfio-pci/0000:03:00.0/x", "");
    DoctorOptions o;
    o.backend = "dpdk";
    auto lines = doctor_checks(o, r.dir.string());
    EXPECT_FALSE(any_fail(lines, "hugepages"));
    EXPECT_TRUE(has(lines, Finding::kOk, "hugepages", "hugepages-2048kB: 512 total, 500 free"));
    EXPECT_TRUE(has(lines, Finding::kOk, "hugepages", "hugetlbfs mounted: nodev /dev/hugepages"));
    EXPECT_TRUE(has(lines, Finding::kOk, "cores", "isolated cpus: 2-3"));
    EXPECT_TRUE(has(lines, Finding::kOk, "cores", "nohz_full=2-3"));
    EXPECT_TRUE(has(lines, Finding::kOk, "vfio", "vfio_pci loaded"));
    EXPECT_TRUE(has(lines, Finding::kOk, "iommu", "1 IOMMU groups"));
    EXPECT_TRUE(has(lines, Finding::kOk, "numa", "node0: cpus 0-3"));
    EXPECT_TRUE(has(lines, Finding::kOk, "nics", "0000:03:00.0: bound to vfio-pci"));
}

TEST(Doctor, IoUringIsProbedOnThisKernel) {
    DoctorOptions o;
    auto lines = doctor_checks(o);
    bool probed = false;
    for (const auto& l : lines) probed = probed || (l.area == "io_uring" && l.text.find("ring") != std::string::npos);
    EXPECT_TRUE(probed);
    // The exit code follows the FAIL lines.
    bool fail = false;
    for (const auto& l : lines) fail = fail || l.finding == Finding::kFail;
    std::FILE* devnull = std::fopen("/dev/null", "w");
    ASSERT_NE(devnull, nullptr);
    EXPECT_EQ(run_doctor(o, devnull), fail ? 1 : 0);
    std::fclose(devnull);
}

}  // namespace
}  // namespace voxa::daemon
