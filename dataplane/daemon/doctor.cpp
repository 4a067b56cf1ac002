#include "daemon/doctor.h"

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace voxa::daemon {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    if (!in) return {};
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::vector<std::string> list_dir(const fs::path& p) {
    std::vector<std::string> out;
    std::error_code ec;
    for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) out.push_back(it->path().filename());
    std::sort(out.begin(), out.end());
    return out;
}

struct Checker {
    std::vector<DoctorLine> lines;
    void add(Finding f, std::string area, std::string text) { lines.push_back({f, std::move(area), std::move(text)}); }
};

void check_hugepages(Checker& c, const std::string& root, bool required) {
    uint64_t total_pages = 0, free_pages = 0;
    for (const auto& size : list_dir(root + "/sys/kernel/mm/hugepages")) {
        fs::path const dir = fs::path(root + "/sys/kernel/mm/hugepages") / size;
        std::string const total = read_text(dir / "nr_hugepages"), free = read_text(dir / "free_hugepages");
        uint64_t const t = total.empty() ? 0 : std::stoull(total), f = free.empty() ? 0 : std::stoull(free);
        total_pages += t;
        free_pages += f;
        c.add(t > 0 ? Finding::kOk : Finding::kWarn, "hugepages",
              size + ": " + std::to_string(t) + " total, " + std::to_string(f) + " free" +
                  (t > 0 ? ""
                   : size == "hugepages-2048kB" ? " -> scripts/hugepages.sh reserve 512"
                                                : " (optional: reserved at boot with hugepagesz=1G hugepages=N)"));
    }
    bool mounted = false;
    std::istringstream mounts(read_text(root + "/proc/mounts"));
    for (std::string line; std::getline(mounts, line);) {
        if (line.find(" hugetlbfs ") != std::string::npos) {
            mounted = true;
            c.add(Finding::kOk, "hugepages", "hugetlbfs mounted: " + line.substr(0, line.find(" hugetlbfs")));
        }
    }
    if (!mounted) c.add(Finding::kWarn, "hugepages", "no hugetlbfs mounted -> scripts/hugepages.sh reserve N mounts one");
    if (free_pages == 0) {
        c.add(required ? Finding::kFail : Finding::kWarn, "hugepages",
              std::string("no free hugepages") +
                  (required ? " and dpdk.no_huge is false -> scripts/hugepages.sh reserve 512, or set dpdk.no_huge "
                              "(tests only: slower, no physical addresses)"
                            : " (needed by the dpdk backend unless dpdk.no_huge)"));
    }
}

void check_iommu_vfio(Checker& c, const std::string& root) {
    std::size_t const groups = list_dir(root + "/sys/kernel/iommu_groups").size();
    c.add(groups > 0 ? Finding::kOk : Finding::kWarn, "iommu",
          std::to_string(groups) + " IOMMU groups" +
              (groups > 0 ? "" : " -> enable VT-d/AMD-Vi and boot with intel_iommu=on iommu=pt to bind NICs to "
                                 "vfio-pci (virtual devices need none)"));
    for (const char* mod : {"vfio", "vfio_pci", "vfio_iommu_type1"}) {
        bool const loaded = fs::exists(root + "/sys/module/" + mod);
        c.add(loaded ? Finding::kOk : Finding::kWarn, "vfio",
              std::string(mod) + (loaded ? " loaded" : " not loaded -> modprobe vfio-pci (for physical NICs)"));
    }
    std::string const noiommu = read_text(root + "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode");
    if (noiommu == "Y") c.add(Finding::kWarn, "vfio", "unsafe no-IOMMU mode is on (no DMA isolation)");
}

void check_nics(Checker& c, const std::string& root) {
    for (const auto& ifname : list_dir(root + "/sys/class/net")) {
        fs::path const dev = fs::path(root + "/sys/class/net") / ifname / "device";
        std::error_code ec;
        if (!fs::exists(dev, ec)) continue;   // virtual (lo, veth, bridge): not a DPDK candidate
        fs::path const driver = fs::read_symlink(dev / "driver", ec);
        fs::path const pci = fs::read_symlink(dev, ec);
        c.add(Finding::kOk, "nics",
              ifname + ": " + pci.filename().string() + ", driver " +
                  (driver.empty() ? std::string("none") : driver.filename().string()) +
                  " (kernel-owned: usable by io_uring, or by DPDK through net_af_packet; bind to vfio-pci with "
                  "dpdk-devbind.py for a PCI port)");
    }
    auto const bound = list_dir(root + "/sys/bus/pci/drivers/vfio-pci");
    std::size_t n = 0;
    for (const auto& e : bound) {
        if (e.find(':') == std::string::npos) continue;
        ++n;
        c.add(Finding::kOk, "nics", e + ": bound to vfio-pci (a DPDK PCI port: list it as dpdk.ports[].device)");
    }
    if (n == 0) c.add(Finding::kOk, "nics", "no PCI function bound to vfio-pci (DPDK can use vdevs: net_af_packet, net_tap, net_memif)");
}

void check_numa_cores(Checker& c, const std::string& root) {
    std::size_t nodes = 0;
    for (const auto& e : list_dir(root + "/sys/devices/system/node")) {
        if (e.rfind("node", 0) == 0 && e.size() > 4 && std::isdigit(static_cast<unsigned char>(e[4]))) {
            ++nodes;
            c.add(Finding::kOk, "numa", e + ": cpus " + read_text(fs::path(root + "/sys/devices/system/node") / e / "cpulist"));
        }
    }
    if (nodes == 0) c.add(Finding::kOk, "numa", "no NUMA information (one node)");
    std::string const isolated = read_text(root + "/sys/devices/system/cpu/isolated");
    c.add(isolated.empty() ? Finding::kWarn : Finding::kOk, "cores",
          isolated.empty() ? "no isolated cpus -> for dedicated workers boot with isolcpus=<cores> nohz_full=<cores> "
                             "and list those cores in dataplane.cores"
                           : "isolated cpus: " + isolated);
    std::string const cmdline = read_text(root + "/proc/cmdline");
    for (const char* key : {"isolcpus=", "nohz_full=", "rcu_nocbs="}) {
        std::size_t const at = cmdline.find(key);
        if (at != std::string::npos) {
            c.add(Finding::kOk, "cores", "kernel command line: " + cmdline.substr(at, cmdline.find(' ', at) - at));
        }
    }
}

void check_io_uring(Checker& c, bool required) {
    io_uring ring{};
    int const rc = io_uring_queue_init(8, &ring, 0);
    if (rc < 0) {
        c.add(required ? Finding::kFail : Finding::kWarn, "io_uring",
              std::string("io_uring_queue_init failed: ") + std::strerror(-rc) +
                  " -> kernel 5.19+ with io_uring enabled (sysctl kernel.io_uring_disabled=0, no seccomp filter)");
        return;
    }
    c.add(Finding::kOk, "io_uring", "a ring can be created");
    if (io_uring_probe* probe = io_uring_get_probe_ring(&ring)) {
        bool const recvmsg = io_uring_opcode_supported(probe, IORING_OP_RECVMSG);
        c.add(recvmsg ? Finding::kOk : Finding::kWarn, "io_uring", recvmsg ? "recvmsg supported" : "no recvmsg opcode");
        io_uring_free_probe(probe);
    }
    // Provided-buffer ring: what multishot receive consumes (kernel 5.19+).
    io_uring_buf_reg reg{};
    void* mem = nullptr;
    if (posix_memalign(&mem, 4096, 4096) == 0) {
        reg.ring_addr = reinterpret_cast<uint64_t>(mem);
        reg.ring_entries = 8;
        reg.bgid = 0;
        int const brc = io_uring_register_buf_ring(&ring, &reg, 0);
        c.add(brc == 0 ? Finding::kOk : Finding::kWarn, "io_uring",
              brc == 0 ? "provided-buffer rings (bufring) and multishot receive available"
                       : std::string("no provided-buffer ring (") + std::strerror(-brc) +
                             "): the backend falls back to single-shot receive -> kernel 6.0+");
        if (brc == 0) io_uring_unregister_buf_ring(&ring, 0);
        std::free(mem);
    }
    io_uring_queue_exit(&ring);
    struct utsname u {};
    if (uname(&u) == 0) c.add(Finding::kOk, "io_uring", std::string("kernel ") + u.release);
    int const fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd >= 0) {
        int one = 1, seg = 1280;
        bool const gro = setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof one) == 0;
        bool const gso = setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &seg, sizeof seg) == 0;
        c.add(gso ? Finding::kOk : Finding::kWarn, "io_uring", gso ? "UDP GSO available" : "no UDP GSO: one send per datagram");
        c.add(gro ? Finding::kOk : Finding::kWarn, "io_uring", gro ? "UDP GRO available" : "no UDP GRO: one datagram per receive");
        ::close(fd);
    }
}

}  // namespace

std::vector<DoctorLine> doctor_checks(const DoctorOptions& o, const std::string& root) {
    Checker c;
    bool const dpdk = o.backend == "dpdk";
#ifdef VOXA_HAVE_DPDK
    c.add(Finding::kOk, "dpdk", "built with DPDK (backend \"dpdk\" available)");
#else
    c.add(dpdk ? Finding::kFail : Finding::kWarn, "dpdk",
          "built without DPDK -> apt-get install libdpdk-dev, then meson configure -Ddpdk=enabled and rebuild");
#endif
    check_hugepages(c, root, dpdk && !o.dpdk_no_huge);
    check_iommu_vfio(c, root);
    check_nics(c, root);
    check_numa_cores(c, root);
    check_io_uring(c, o.backend == "io_uring");
    return c.lines;
}

int run_doctor(const DoctorOptions& options, std::FILE* out) {
    int rc = 0;
    std::fprintf(out, "voxa-dataplane doctor: configured backend %s\n", options.backend.c_str());
    for (const DoctorLine& l : doctor_checks(options)) {
        const char* tag = l.finding == Finding::kOk ? "OK  " : l.finding == Finding::kWarn ? "WARN" : "FAIL";
        if (l.finding == Finding::kFail) rc = 1;
        std::fprintf(out, "%s %s: %s\n", tag, l.area.c_str(), l.text.c_str());
    }
    return rc;
}

}  // namespace voxa::daemon
