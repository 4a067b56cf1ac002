// voxactl's local verbs: the data plane's delivery socket <data>/run/voxa.sock (docs/API.md, "Local delivery
// socket"). send and reply messages or files, receive them, ask a message's state, resolve a name the registry
// pushed to the data plane (resolve; send takes a name too) and the data plane's own counters (local-stats). These
// work without voxa-control (a name resolves while its pushed entry is unexpired).
//
// Files travel as chunks, each one message whose body is
//   | "VXF1" | transfer id[16] | offset u64 | total u64 | name_len u16 | name | chunk bytes |
// sent pipelined (up to 8 awaiting their RESULT); `recv` writes each chunk at its offset and reports the file when
// every byte is in.
#include <fcntl.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cli.h"
#include "common/bytes.h"
#include "common/size.h"
#include "local/client.h"
#include "voxa/types.h"

namespace voxa::ctl {
namespace {

using local::Client;

constexpr std::size_t kChunkDefaultBytes = 16u << 20;
constexpr std::size_t kInFlightMax = 8;
constexpr char kMagic[4] = {'V', 'X', 'F', '1'};
constexpr std::size_t kChunkHeadBytes = 4 + kMessageIdBytes + 8 + 8 + 2;   // + name
constexpr std::size_t kPrintableMax = 200;

constexpr const char* kSendHelp =
    "usage: voxactl [--data DIR | --socket PATH] send (<node-id-hex> | NAME) (--data TEXT | --file PATH)\n"
    "               [--chunk BYTES] [--no-wait] [--timeout SECONDS]\n"
    "  Sends TEXT or a file (in VXF1 chunks of --chunk bytes, default 16M) to a node through the local data plane\n"
    "  and waits until every message is delivered (unless --no-wait). Prints `message <id>` per message,\n"
    "  `delivered <id>` per delivery and a `sent ...` summary for files. A NAME (not 64 hex digits) is resolved\n"
    "  first by the data plane (see resolve).\n";
constexpr const char* kReplyHelp =
    "usage: voxactl [--data DIR | --socket PATH] reply <message-id-hex> (--data TEXT | --file PATH) [--chunk BYTES]\n"
    "               [--no-wait] [--timeout SECONDS]\n"
    "  Answers a received message (its id from recv) over the circuits it came on.\n";
constexpr const char* kRecvHelp =
    "usage: voxactl [--data DIR | --socket PATH] recv [--count N] [--timeout SECONDS] [--out-dir DIR] [--json]\n"
    "  Receives messages delivered to this node. Prints `message <id> <in-reply-to|-> <bytes> [text]` per message and\n"
    "  `file <name> <bytes> <sha256> <id> <in-reply-to|->` per completed file (written into --out-dir).\n"
    "  Ends after N messages/files (exit 1 if the timeout comes first) or, without --count, at the timeout.\n";
constexpr const char* kMessageStatusHelp =
    "usage: voxactl [--data DIR | --socket PATH] message-status <message-id-hex>\n"
    "  Prints the state of a message sent through this node (pending, delivered, failed, ...).\n"
    "  (`status <message-id-hex>` still works: with an id, status means message-status.)\n";
constexpr const char* kResolveHelp =
    "usage: voxactl [--data DIR | --socket PATH] [--json] resolve NAME\n"
    "  Asks the local data plane which node NAME points to (names the registry pushed to it). Prints\n"
    "  `<node-id-hex> expires <unix-seconds>` (--json: {\"name\",\"node_id\",\"expires_s\"}); exit 1 for an unknown\n"
    "  name. `names resolve NAME` asks the registry over REST instead.\n";
constexpr const char* kLocalStatsHelp =
    "usage: voxactl [--data DIR | --socket PATH] local-stats\n"
    "  Prints the data plane's own STATS JSON from its local socket (directory, sessions, circuits, drops); works\n"
    "  without voxa-control. For the control plane's view use `stats`.\n";

std::optional<uint64_t> parse_size(std::string_view text) { return parse_byte_size(text); }

template <std::size_t N>
std::optional<std::array<uint8_t, N>> parse_hex(std::string_view text) {
    std::array<uint8_t, N> out{};
    if (text.size() != 2 * N) return std::nullopt;
    std::size_t bin_len = 0;
    if (sodium_hex2bin(out.data(), N, text.data(), text.size(), nullptr, &bin_len, nullptr) != 0 || bin_len != N)
        return std::nullopt;
    return out;
}


std::optional<double> parse_seconds(std::string_view text) {
    std::string const s(text);
    char* end = nullptr;
    double const v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !(v >= 0) || v > 1e7) return std::nullopt;
    return v;
}

bool printable(std::span<const uint8_t> bytes) {
    if (bytes.size() > kPrintableMax) return false;
    for (uint8_t b : bytes)
        if (b < 0x20 || b > 0x7e) return false;
    return true;
}

double since_s(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Milliseconds left of a deadline for Client::next (-1: no deadline).
int left_ms(std::optional<std::chrono::steady_clock::time_point> deadline) {
    if (!deadline) return -1;
    auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
    return left.count() <= 0 ? 0 : int(std::min<int64_t>(left.count(), INT32_MAX));
}

// ---- send / reply ----

struct SendOptions {
    std::optional<std::string> text;
    std::optional<std::string> file;
    uint64_t chunk_bytes = kChunkDefaultBytes;
    bool wait = true;
    std::optional<double> timeout_s;
};

// Parses the options after the target of send/reply. Returns kExitOk or a usage exit.
int parse_send_options(const std::vector<std::string>& args, std::size_t at, SendOptions* o, const char* help) {
    for (; at < args.size(); ++at) {
        std::string const& a = args[at];
        bool const has_value = at + 1 < args.size();
        if (a == "--data" && has_value) {
            o->text = args[++at];
        } else if (a == "--file" && has_value) {
            o->file = args[++at];
        } else if (a == "--chunk" && has_value) {
            auto const v = parse_size(args[++at]);
            if (!v || *v == 0 || *v > (1u << 30)) return usage_error("--chunk wants a size in bytes (1 .. 1G)", help);
            o->chunk_bytes = *v;
        } else if (a == "--no-wait") {
            o->wait = false;
        } else if (a == "--timeout" && has_value) {
            o->timeout_s = parse_seconds(args[++at]);
            if (!o->timeout_s) return usage_error("--timeout wants seconds", help);
        } else {
            return usage_error("unknown or incomplete option " + a, help);
        }
    }
    if (o->text.has_value() == o->file.has_value()) return usage_error("give exactly one of --data TEXT and --file PATH", help);
    return kExitOk;
}

// Sends one message (to a node or as a reply, per `submit`), or a file as VXF1 chunks, and by default waits for
// every RESULT. Prints one `message <id>` line per message.
template <typename Submit>
int transmit(Client& client, const SendOptions& o, Submit submit) {
    std::string error;
    auto const t0 = std::chrono::steady_clock::now();
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (o.timeout_s) deadline = t0 + std::chrono::milliseconds(int64_t(*o.timeout_s * 1000));
    std::set<MessageId> outstanding;
    std::size_t failed = 0;

    // Takes one RESULT off the connection. False on timeout or a broken connection.
    auto collect_one = [&]() -> bool {
        auto const in = client.next(left_ms(deadline), &error);
        if (!in) {
            if (error.empty()) error = "timed out waiting for delivery";
            return false;
        }
        if (in->type != local::FrameType::kResult || outstanding.erase(in->id) == 0) return true;
        if (in->state == uint8_t(local::MessageState::kDelivered)) {
            std::printf("delivered %s\n", to_hex(in->id).c_str());
        } else {
            ++failed;
            std::fprintf(stderr, "voxactl: message %s failed: %s\n", to_hex(in->id).c_str(), in->error.c_str());
        }
        std::fflush(stdout);
        return true;
    };
    auto submit_one = [&](std::span<const uint8_t> body) -> bool {
        while (o.wait && outstanding.size() >= kInFlightMax)
            if (!collect_one()) return false;
        auto const id = submit(body, o.wait, &error);
        if (!id) return false;
        std::printf("message %s\n", to_hex(*id).c_str());
        std::fflush(stdout);
        if (o.wait) outstanding.insert(*id);
        return true;
    };

    uint64_t total = 0;
    std::size_t messages = 0;
    std::string name;
    if (o.text) {
        if (!submit_one(local::as_bytes(*o.text))) return failure(error);
        total = o.text->size();
        messages = 1;
    } else {
        int const fd = ::open(o.file->c_str(), O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            if (fd >= 0) ::close(fd);
            return failure("cannot read file " + *o.file + ": " + (fd < 0 ? std::strerror(errno) : "not a regular file"));
        }
        total = uint64_t(st.st_size);
        name = std::filesystem::path(*o.file).filename().string();
        if (name.size() > 255) name.resize(255);
        MessageId transfer;
        randombytes_buf(transfer.data(), transfer.size());
        std::vector<uint8_t> body;
        uint64_t offset = 0;
        do {
            std::size_t const len = std::size_t(std::min<uint64_t>(o.chunk_bytes, total - offset));
            body.resize(kChunkHeadBytes + name.size() + len);
            uint8_t* p = body.data();
            std::memcpy(p, kMagic, 4);
            std::memcpy(p + 4, transfer.data(), kMessageIdBytes);
            store_u64(p + 4 + kMessageIdBytes, offset);
            store_u64(p + 12 + kMessageIdBytes, total);
            store_u16(p + 20 + kMessageIdBytes, uint16_t(name.size()));
            std::memcpy(p + kChunkHeadBytes, name.data(), name.size());
            uint8_t* const data = p + kChunkHeadBytes + name.size();
            std::size_t got = 0;
            while (got < len) {
                ssize_t const n = ::pread(fd, data + got, len - got, off_t(offset + got));
                if (n <= 0) {
                    ::close(fd);
                    return failure("read " + *o.file + ": " + (n < 0 ? std::strerror(errno) : "file shrank"));
                }
                got += std::size_t(n);
            }
            if (!submit_one(body)) {
                ::close(fd);
                return failure(error);
            }
            ++messages;
            offset += len;
        } while (offset < total);
        ::close(fd);
    }
    while (!outstanding.empty())
        if (!collect_one()) return failure(error + " (" + std::to_string(outstanding.size()) + " undelivered)");
    double const seconds = since_s(t0);
    if (o.file) {
        std::printf("sent %s bytes=%llu messages=%zu seconds=%.3f mbit_s=%.1f%s\n", name.c_str(),
                    static_cast<unsigned long long>(total), messages, seconds,
                    seconds > 0 ? double(total) * 8 / seconds / 1e6 : 0.0, o.wait ? "" : " (accepted, not awaited)");
    }
    if (failed > 0) return failure(std::to_string(failed) + " of " + std::to_string(messages) + " messages failed");
    return kExitOk;
}

// ---- recv ----

struct Transfer {
    std::string name;
    std::filesystem::path path;
    uint64_t total = 0;
    uint64_t received = 0;
    std::set<uint64_t> offsets;   // chunks already written (a duplicate is not counted twice)
    int fd = -1;
};

std::optional<std::string> sha256_file(const std::filesystem::path& path) {
    int const fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    EVP_MD_CTX* const ctx = EVP_MD_CTX_new();
    bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1;
    std::vector<uint8_t> buf(1u << 20);
    for (;;) {
        if (!ok) break;
        ssize_t const n = ::read(fd, buf.data(), buf.size());
        if (n < 0) ok = false;
        if (n <= 0) break;
        ok = EVP_DigestUpdate(ctx, buf.data(), std::size_t(n)) == 1;
    }
    std::array<uint8_t, 32> digest{};
    unsigned int len = 0;
    ok = ok && EVP_DigestFinal_ex(ctx, digest.data(), &len) == 1 && len == digest.size();
    EVP_MD_CTX_free(ctx);
    ::close(fd);
    if (!ok) return std::nullopt;
    return to_hex(digest);
}

// A file name that stays inside the output directory and prints as one word: '/', "." and ".." would escape
// it, so such names become the transfer id; spaces and control characters become '_'.
std::string safe_name(std::string_view name, const MessageId& transfer) {
    if (name.empty() || name == "." || name == ".." || name.size() > 255 ||
        name.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos)
        return "transfer-" + to_hex(transfer);
    std::string out(name);
    for (char& c : out)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) c = '_';
    return out;
}

struct RecvOptions {
    uint64_t count = 0;
    std::optional<double> timeout_s;
    std::filesystem::path out_dir = ".";
    bool json = false;
};

int parse_recv_options(const std::vector<std::string>& args, std::size_t at, RecvOptions* o) {
    for (; at < args.size(); ++at) {
        std::string const& a = args[at];
        bool const has_value = at + 1 < args.size();
        if (a == "--count" && has_value) {
            auto const v = parse_size(args[++at]);
            if (!v) return usage_error("--count wants a number", kRecvHelp);
            o->count = *v;
        } else if (a == "--timeout" && has_value) {
            o->timeout_s = parse_seconds(args[++at]);
            if (!o->timeout_s) return usage_error("--timeout wants seconds", kRecvHelp);
        } else if (a == "--out-dir" && has_value) {
            o->out_dir = args[++at];
        } else if (a == "--json") {
            o->json = true;
        } else {
            return usage_error("unknown or incomplete option " + a, kRecvHelp);
        }
    }
    return kExitOk;
}

int recv(Client& client, const RecvOptions& o) {
    uint64_t const count = o.count;
    std::optional<double> const timeout_s = o.timeout_s;
    std::filesystem::path const& out_dir = o.out_dir;
    bool const json = o.json;
    std::string error;
    if (!client.subscribe(&error)) return failure(error);
    auto const t0 = std::chrono::steady_clock::now();
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (timeout_s) deadline = t0 + std::chrono::milliseconds(int64_t(*timeout_s * 1000));

    std::map<MessageId, Transfer> transfers;
    uint64_t done = 0;
    auto close_all = [&] {
        for (auto& [tid, t] : transfers)
            if (t.fd >= 0) ::close(t.fd);
    };
    while (count == 0 || done < count) {
        auto const in = client.next(left_ms(deadline), &error);
        if (!in) {
            close_all();
            if (!error.empty()) return failure(error);
            if (count > 0)
                return failure("timed out after " + std::to_string(done) + " of " + std::to_string(count) +
                               " messages");
            return kExitOk;
        }
        if (in->type != local::FrameType::kMessage) continue;
        std::span<const uint8_t> const b = in->bytes;
        std::string const reply_to = in->is_reply ? to_hex(in->in_reply_to) : "-";

        bool chunk = b.size() >= kChunkHeadBytes && std::memcmp(b.data(), kMagic, 4) == 0;
        MessageId tid{};
        uint64_t offset = 0, total = 0;
        std::size_t name_len = 0;
        if (chunk) {
            std::memcpy(tid.data(), b.data() + 4, kMessageIdBytes);
            offset = load_u64(b.data() + 4 + kMessageIdBytes);
            total = load_u64(b.data() + 12 + kMessageIdBytes);
            name_len = load_u16(b.data() + 20 + kMessageIdBytes);
            chunk = kChunkHeadBytes + name_len <= b.size() && offset <= total &&
                    b.size() - kChunkHeadBytes - name_len <= total - offset;
        }
        if (!chunk) {
            ++done;
            if (json) {
                nlohmann::json j = {{"type", "message"}, {"id", to_hex(in->id)}, {"is_reply", in->is_reply},
                                    {"in_reply_to", in->is_reply ? nlohmann::json(reply_to) : nlohmann::json()},
                                    {"bytes", b.size()}};
                if (printable(b)) j["text"] = std::string(local::as_text(b));
                std::printf("%s\n", j.dump().c_str());
            } else {
                std::printf("message %s %s %zu%s%s\n", to_hex(in->id).c_str(), reply_to.c_str(), b.size(),
                            printable(b) ? " " : "", printable(b) ? std::string(local::as_text(b)).c_str() : "");
            }
            std::fflush(stdout);
            continue;
        }
        auto const data = b.subspan(kChunkHeadBytes + name_len);
        Transfer& t = transfers[tid];
        if (t.fd < 0 && t.path.empty()) {
            t.name = safe_name(local::as_text(b.subspan(kChunkHeadBytes, name_len)), tid);
            t.total = total;
            std::error_code ec;
            std::filesystem::create_directories(out_dir, ec);
            t.path = out_dir / t.name;
            t.fd = ::open(t.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (t.fd < 0) {
                close_all();
                return failure("cannot write " + t.path.string() + ": " + std::strerror(errno));
            }
        }
        if (total != t.total) continue;   // a chunk that contradicts its transfer: ignored
        if (t.offsets.insert(offset).second) {
            std::size_t put = 0;
            while (put < data.size()) {
                ssize_t const n = ::pwrite(t.fd, data.data() + put, data.size() - put, off_t(offset + put));
                if (n <= 0) {
                    close_all();
                    return failure("write " + t.path.string() + ": " + std::strerror(errno));
                }
                put += std::size_t(n);
            }
            t.received += data.size();
        }
        if (t.received < t.total && !(t.total == 0 && !t.offsets.empty())) continue;
        ::close(t.fd);
        t.fd = -1;
        auto const sha = sha256_file(t.path);
        if (!sha) {
            close_all();
            return failure("cannot hash " + t.path.string());
        }
        ++done;
        if (json) {
            nlohmann::json const j = {{"type", "file"},   {"name", t.name},     {"path", t.path.string()},
                                      {"bytes", t.total}, {"sha256", *sha},     {"id", to_hex(in->id)},
                                      {"is_reply", in->is_reply},
                                      {"in_reply_to", in->is_reply ? nlohmann::json(reply_to) : nlohmann::json()}};
            std::printf("%s\n", j.dump().c_str());
        } else {
            std::printf("file %s %llu %s %s %s\n", t.name.c_str(), static_cast<unsigned long long>(t.total),
                        sha->c_str(), to_hex(in->id).c_str(), reply_to.c_str());
        }
        std::fflush(stdout);
        transfers.erase(tid);
    }
    close_all();
    return kExitOk;
}


}  // namespace

bool is_local_verb(const std::string& verb) {
    return verb == "send" || verb == "reply" || verb == "recv" || verb == "message-status" || verb == "local-stats" ||
           verb == "resolve";
}

const char* local_verb_help(const std::string& verb) {
    if (verb == "send") return kSendHelp;
    if (verb == "reply") return kReplyHelp;
    if (verb == "recv") return kRecvHelp;
    if (verb == "message-status") return kMessageStatusHelp;
    if (verb == "local-stats") return kLocalStatsHelp;
    if (verb == "resolve") return kResolveHelp;
    return nullptr;
}

int run_local_verb(const Globals& g, const std::string& verb, std::vector<std::string> args) {
    const char* const help = local_verb_help(verb);
    if (help == nullptr) return usage_error("unknown verb " + verb, nullptr);
    if (wants_help(args)) {
        std::fputs(help, stdout);
        return kExitOk;
    }
    std::filesystem::path const socket_path = g.socket ? *g.socket : g.data_dir / "run" / "voxa.sock";

    // Check the arguments before connecting, so a typo is a usage error whether or not a daemon runs.
    std::size_t at = 0;
    std::optional<NodeId> node;
    std::optional<MessageId> message;
    std::string name_arg;   // send NAME / resolve NAME
    SendOptions send_options;
    RecvOptions recv_options;
    recv_options.json = g.json;
    if (verb == "send" || verb == "reply" || verb == "message-status") {
        if (at >= args.size()) return usage_error(verb + " wants a " + (verb == "send" ? "node id" : "message id"), help);
        if (verb == "send") node = parse_hex<kNodeIdBytes>(args[at]);
        else message = parse_hex<kMessageIdBytes>(args[at]);
        // send: anything that is not 64 hex digits is a name, when it is spelled like one (a 64-digit hex string is
        // always a node id, so the two never clash).
        if (verb == "send" && !node && local::parse_resolve(local::as_bytes(args[at])))
            name_arg = args[at];
        if (!node && !message && name_arg.empty())
            return usage_error("bad id " + args[at] + " (want " +
                                   std::to_string(2 * (verb == "send" ? kNodeIdBytes : kMessageIdBytes)) +
                                   " hex digits" +
                                   (verb == "send" ? ", or a name of lowercase a-z, 0-9, '.', '-')" : ")"),
                               help);
        ++at;
        if (verb == "message-status") {
            if (at != args.size()) return usage_error("message-status takes only a message id", help);
        } else if (int const rc = parse_send_options(args, at, &send_options, help); rc != kExitOk) {
            return rc;
        }
    } else if (verb == "recv") {
        if (int const rc = parse_recv_options(args, at, &recv_options); rc != kExitOk) return rc;
    } else if (verb == "resolve") {
        if (args.size() != 1) return usage_error("resolve takes one name", help);
        if (!local::parse_resolve(local::as_bytes(args[0])))
            return usage_error("bad name " + args[0] + " (want 1..253 bytes of lowercase a-z, 0-9, '.', '-')", help);
        name_arg = args[0];
    } else if (!args.empty()) {
        return usage_error(verb + " takes no arguments", help);
    }

    std::string error;
    auto client = Client::connect(socket_path, &error);
    if (!client) return failure(error);

    if (verb == "resolve") {
        auto const r = client->resolve(name_arg, &error);
        if (!r) return failure("resolve " + name_arg + ": " + error);
        if (g.json) {
            nlohmann::json const j{{"name", name_arg}, {"node_id", to_hex(r->node)}, {"expires_s", r->expires_s}};
            std::printf("%s\n", j.dump().c_str());
        } else {
            std::printf("%s expires %llu\n", to_hex(r->node).c_str(), static_cast<unsigned long long>(r->expires_s));
        }
        return kExitOk;
    }
    if (verb == "send" && !name_arg.empty()) {
        auto const r = client->resolve(name_arg, &error);
        if (!r) return failure("cannot send to " + name_arg + ": the local data plane cannot resolve it: " + error);
        node = r->node;
    }
    if (verb == "send") {
        return transmit(*client, send_options, [&](std::span<const uint8_t> body, bool report, std::string* e) {
            return client->send(*node, body, report, e);
        });
    }
    if (verb == "reply") {
        return transmit(*client, send_options, [&](std::span<const uint8_t> body, bool report, std::string* e) {
            return client->reply(*message, body, report, e);
        });
    }
    if (verb == "recv") return recv(*client, recv_options);
    if (verb == "message-status") {
        auto const state = client->status(*message, &error);
        if (!state) return failure(error);
        std::string const name(local::state_name(*state));
        if (g.json) {
            std::printf("%s\n", nlohmann::json{{"id", to_hex(*message)}, {"state", name}}.dump().c_str());
        } else {
            std::printf("%s\n", name.c_str());
        }
        return kExitOk;
    }
    auto const text = client->stats_json(&error);
    if (!text) return failure(error);
    auto const j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded()) return failure("the data plane's stats are not JSON: " + *text);
    std::printf("%s\n", g.json ? j.dump().c_str() : j.dump(2).c_str());
    return kExitOk;
}

}  // namespace voxa::ctl
