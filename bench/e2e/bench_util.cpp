#include "common/size.h"
#include "bench_util.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace voxa::bench {

std::optional<Devnet> load_devnet(const std::string& dir, std::string& error) {
    std::ifstream in(dir + "/nodes.json");
    if (!in) {
        error = dir + "/nodes.json: cannot open (is the devnet running? scripts/devnet.sh start ...)";
        return std::nullopt;
    }
    auto const doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_array() || doc.empty()) {
        error = dir + "/nodes.json: expected a non-empty JSON array";
        return std::nullopt;
    }
    Devnet devnet;
    devnet.dir = dir;
    for (auto const& item : doc) {
        if (!item.is_object() || !item.contains("node_id") || !item["node_id"].is_string() || !item.contains("pid")) {
            error = dir + "/nodes.json: an entry lacks node_id or pid";
            return std::nullopt;
        }
        DevnetNode node;
        node.index = item.value("index", 0);
        node.id_hex = item["node_id"].get<std::string>();
        auto const id = parse_node_id(node.id_hex);
        if (!id) {
            error = dir + "/nodes.json: bad node_id " + node.id_hex;
            return std::nullopt;
        }
        node.id = *id;
        node.host = item.value("host", "");
        node.port = item.value("port", uint16_t{0});
        node.netns = item.value("netns", "");
        node.relay = item.value("relay", false);
        node.backend = item.value("backend", "io_uring");
        node.pid = item.value("pid", 0);
        node.data = item.value("data", "");
        node.socket = item.value("socket", node.data + "/run/voxa.sock");
        if (node.index != static_cast<int>(devnet.nodes.size())) {
            error = dir + "/nodes.json: entries out of order";
            return std::nullopt;
        }
        devnet.nodes.push_back(std::move(node));
    }
    return devnet;
}

uint64_t now_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

std::optional<uint64_t> process_cpu_ns(pid_t pid) { return stat_cpu_ns("/proc/" + std::to_string(pid) + "/stat"); }

std::optional<uint64_t> stat_cpu_ns(const std::string& stat_path) {
    std::ifstream in(stat_path);
    std::string text;
    if (!in || !std::getline(in, text)) return std::nullopt;
    // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
    auto const close = text.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    uint64_t utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {   // field 3 is the state
        if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
        if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    static long const ticks = sysconf(_SC_CLK_TCK);
    return (utime + stime) * (1'000'000'000u / uint64_t(ticks > 0 ? ticks : 100));
}

Child::~Child() {
    stop();
    if (out_fd_ >= 0) close(out_fd_);
}

bool Child::start(const std::vector<std::string>& argv, const std::string& netns, std::string& error) {
    std::vector<std::string> full;
    if (!netns.empty()) full = {"ip", "netns", "exec", netns};
    full.insert(full.end(), argv.begin(), argv.end());
    std::vector<char*> cargv;
    for (auto& s : full) cargv.push_back(s.data());
    cargv.push_back(nullptr);

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        error = std::string("pipe: ") + std::strerror(errno);
        return false;
    }
    pid_t const pid = fork();
    if (pid < 0) {
        error = std::string("fork: ") + std::strerror(errno);
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        execvp(cargv[0], cargv.data());
        std::fprintf(stderr, "voxa-bench: exec %s: %s\n", cargv[0], std::strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    pid_ = pid;
    out_fd_ = fds[0];
    return true;
}

std::optional<std::string> Child::read_line(int timeout_ms) {
    uint64_t const deadline = now_ns() + uint64_t(timeout_ms) * 1'000'000u;
    while (true) {
        auto const nl = pending_.find('\n');
        if (nl != std::string::npos) {
            std::string line = pending_.substr(0, nl);
            pending_.erase(0, nl + 1);
            return line;
        }
        if (out_fd_ < 0) return std::nullopt;
        uint64_t const now = now_ns();
        if (now >= deadline) return std::nullopt;
        pollfd pfd{out_fd_, POLLIN, 0};
        int const left_ms = int((deadline - now) / 1'000'000u) + 1;
        if (poll(&pfd, 1, left_ms) <= 0) continue;
        char buf[4096];
        ssize_t const n = read(out_fd_, buf, sizeof buf);
        if (n <= 0) {
            close(out_fd_);
            out_fd_ = -1;
            if (!pending_.empty()) {
                std::string line = std::move(pending_);
                pending_.clear();
                return line;
            }
            return std::nullopt;
        }
        pending_.append(buf, size_t(n));
    }
}

int Child::finish(std::string& out, int timeout_ms) {
    uint64_t const deadline = now_ns() + uint64_t(timeout_ms) * 1'000'000u;
    out = std::move(pending_);
    pending_.clear();
    while (out_fd_ >= 0 && now_ns() < deadline) {
        pollfd pfd{out_fd_, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0) continue;
        char buf[4096];
        ssize_t const n = read(out_fd_, buf, sizeof buf);
        if (n <= 0) {
            close(out_fd_);
            out_fd_ = -1;
            break;
        }
        out.append(buf, size_t(n));
    }
    if (pid_ < 0) return -1;
    int status = 0;
    while (now_ns() < deadline) {
        pid_t const r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        usleep(10'000);
    }
    stop();
    return -1;
}

void Child::stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; ++i) {
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return;
        }
        usleep(10'000);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
}

std::string self_exe() {
    char buf[4096];
    ssize_t const n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "voxa-bench";
    return std::string(buf, size_t(n));
}

std::string build_dir() {
    std::string path = self_exe();
    for (int i = 0; i < 3; ++i) {
        auto const slash = path.rfind('/');
        if (slash == std::string::npos) return ".";
        path.erase(slash);
    }
    return path;
}

double percentile(std::vector<double>& values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    double const rank = p * double(values.size());
    std::size_t index = rank <= 1 ? 0 : std::size_t(rank + 0.999999) - 1;   // nearest rank, 1-based ceil
    if (index >= values.size()) index = values.size() - 1;
    return values[index];
}

double median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    std::size_t const mid = values.size() / 2;
    return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

std::optional<uint64_t> parse_size(std::string_view text) { return parse_byte_size(text); }

std::vector<uint64_t> parse_sizes(std::string_view text) {
    std::vector<uint64_t> sizes;
    while (!text.empty()) {
        auto const comma = text.find(',');
        auto const size = parse_size(text.substr(0, comma));
        if (!size || *size == 0) return {};
        sizes.push_back(*size);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return sizes;
}

std::string size_name(uint64_t bytes) {
    if (bytes >= (1u << 30) && bytes % (1u << 30) == 0) return std::to_string(bytes >> 30) + "G";
    if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + "M";
    if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + "K";
    return std::to_string(bytes);
}

std::optional<NodeId> parse_node_id(std::string_view hex) {
    NodeId id{};
    if (hex.size() != 2 * id.size()) return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < id.size(); ++i) {
        int const hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        id[i] = uint8_t(hi << 4 | lo);
    }
    return id;
}

Args::Args(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
        std::string name = argv[i];
        if (name.rfind("--", 0) != 0) {
            items_.emplace_back(name, "");   // stray positional: reported by unknown()
            continue;
        }
        name.erase(0, 2);
        auto const eq = name.find('=');
        if (eq != std::string::npos) {
            items_.emplace_back(name.substr(0, eq), name.substr(eq + 1));
        } else if (i + 1 < argc && std::string_view(argv[i + 1]).rfind("--", 0) != 0) {
            items_.emplace_back(name, argv[++i]);
        } else {
            items_.emplace_back(name, "");
        }
    }
}

bool Args::has(std::string_view name) const {
    return std::any_of(items_.begin(), items_.end(), [&](auto const& kv) { return kv.first == name; });
}

std::optional<std::string> Args::get(std::string_view name) const {
    for (auto it = items_.rbegin(); it != items_.rend(); ++it) {
        if (it->first == name) return it->second;
    }
    return std::nullopt;
}

std::string Args::get_or(std::string_view name, std::string fallback) const {
    auto value = get(name);
    return value ? *value : std::move(fallback);
}

std::vector<std::string> Args::unknown(std::initializer_list<std::string_view> known) const {
    std::vector<std::string> out;
    for (auto const& kv : items_) {
        if (std::find(known.begin(), known.end(), kv.first) == known.end()) out.push_back(kv.first);
    }
    return out;
}

std::optional<int64_t> int_option(const Args& args, std::string_view name, int64_t fallback, int64_t min,
                                  int64_t max) {
    auto const text = args.get(name);
    if (!text) return fallback;
    char* end = nullptr;
    errno = 0;
    long long const value = std::strtoll(text->c_str(), &end, 10);
    if (text->empty() || *end != '\0' || errno != 0 || value < min || value > max) {
        std::fprintf(stderr, "voxa-bench: --%.*s: expected an integer in [%lld, %lld], got '%s'\n",
                     int(name.size()), name.data(), static_cast<long long>(min), static_cast<long long>(max),
                     text->c_str());
        return std::nullopt;
    }
    return value;
}

}  // namespace voxa::bench
