// The voxactl binary (path in $VOXACTL, set by meson) against a real Server with the loopback handler: text and
// file transfers end to end (send, recv rebuilding the file, its SHA-256), replies, failures and exit codes.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <cstring>
#include <sstream>

#include <nlohmann/json.hpp>

#include "local_fixture.h"
#include "support/test_support.h"

namespace voxa::local {
namespace {

using namespace voxa::local::fixture;

// The whole file (stdio: the istreambuf_iterator route trips gcc 12's -Wnull-dereference).
std::string slurp(const fs::path& path) {
    std::string out;
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return out;
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out;
}

struct CliRun {
    int code = -1;
    std::string out;
};

class Voxactl : public LocalServer {
protected:
    void SetUp() override {
        const char* path = std::getenv("VOXACTL");
        if (path == nullptr || *path == '\0') GTEST_SKIP() << "VOXACTL is not set (run through meson test)";
        binary_ = path;
        start();
    }
    // Runs voxactl with `args` against the test server; returns its exit code and stdout (stderr is appended
    // after a "--stderr--" line for failure messages).
    CliRun voxactl(const std::string& args) {
        std::string const err = (dir_.path() / "stderr").string();
        std::string const cmd =
            binary_ + " --socket " + config_.socket_path.string() + " " + args + " 2>" + err;
        CliRun r;
        FILE* p = ::popen(cmd.c_str(), "r");
        VOXA_CHECK(p != nullptr);
        char buf[4096];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
        int const status = ::pclose(p);
        r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        r.out += "--stderr--\n" + slurp(err);
        return r;
    }
    std::string binary_;
};

std::string sha256_hex(const std::vector<uint8_t>& bytes) {
    std::array<uint8_t, 32> d{};
    unsigned int len = 0;
    EVP_Digest(bytes.data(), bytes.size(), d.data(), &len, EVP_sha256(), nullptr);
    return to_hex(d);
}

TEST_F(Voxactl, SendsTextAndWaitsForDelivery) {
    auto rx = connect();
    std::string error;
    ASSERT_TRUE(rx->subscribe(&error)) << error;
    CliRun const r = voxactl("send " + to_hex(handler_.self) + " --data 'hello relay'");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("delivered "), std::string::npos) << r.out;
    auto const m = rx->next(2000, &error);
    ASSERT_TRUE(m) << error;
    EXPECT_EQ(std::string(m->bytes.begin(), m->bytes.end()), "hello relay");   // sent raw, no VXF1 header
    EXPECT_NE(r.out.find("message " + to_hex(m->id)), std::string::npos) << r.out;

    CliRun const st = voxactl("message-status " + to_hex(m->id));
    EXPECT_EQ(st.code, 0);
    EXPECT_EQ(st.out.substr(0, 10), "delivered\n");
    CliRun const stats = voxactl("local-stats");
    EXPECT_EQ(stats.code, 0);
    EXPECT_NE(stats.out.find("\"frames_in\""), std::string::npos) << stats.out;
}

TEST_F(Voxactl, FileInChunksIsRebuiltByRecv) {
    auto const content = test::random_bytes((3u << 20) + 12345);
    fs::path const src = dir_.path() / "payload.bin";
    {
        std::ofstream f(src, std::ios::binary);
        f.write(reinterpret_cast<const char*>(content.data()), std::streamsize(content.size()));
    }
    CliRun const s = voxactl("send " + to_hex(handler_.self) + " --file " + src.string() + " --chunk 1M");
    ASSERT_EQ(s.code, 0) << s.out;
    EXPECT_NE(s.out.find("sent payload.bin bytes=" + std::to_string(content.size()) + " messages=4"),
              std::string::npos)
        << s.out;
    // Nobody was subscribed: the four chunks wait in the server's queue for recv.
    fs::path const out = dir_.path() / "out";
    CliRun const r = voxactl("recv --count 1 --timeout 20 --out-dir " + out.string());
    ASSERT_EQ(r.code, 0) << r.out;
    std::istringstream line(r.out);
    std::string word, name, sha, id;
    std::size_t bytes = 0;
    line >> word >> name >> bytes >> sha >> id;
    EXPECT_EQ(word, "file");
    EXPECT_EQ(name, "payload.bin");
    EXPECT_EQ(bytes, content.size());
    EXPECT_EQ(sha, sha256_hex(content));
    std::string const got = slurp(out / "payload.bin");
    EXPECT_TRUE(got.size() == content.size() && std::memcmp(got.data(), content.data(), got.size()) == 0);

    // The id on the file line is a real, replyable message.
    CliRun const rep = voxactl("reply " + id + " --data thanks");
    EXPECT_EQ(rep.code, 0) << rep.out;
    CliRun const back = voxactl("recv --count 1 --timeout 5 --json");
    ASSERT_EQ(back.code, 0) << back.out;
    EXPECT_NE(back.out.find("\"in_reply_to\":\"" + id + "\""), std::string::npos) << back.out;
    EXPECT_NE(back.out.find("\"text\":\"thanks\""), std::string::npos) << back.out;
}

TEST_F(Voxactl, FailuresAndUsageHaveTheirExitCodes) {
    CliRun const fail = voxactl("send " + to_hex(handler_.unreachable) + " --data x");
    EXPECT_EQ(fail.code, 1) << fail.out;
    EXPECT_NE(fail.out.find("no route"), std::string::npos) << fail.out;
    EXPECT_EQ(voxactl("send " + to_hex(handler_.unreachable) + " --data x --no-wait").code, 0);
    EXPECT_EQ(voxactl("send ABC_x --data x").code, 2);   // neither 64 hex digits nor a name
    EXPECT_EQ(voxactl("send " + to_hex(handler_.self)).code, 2);
    EXPECT_EQ(voxactl("frobnicate").code, 2);
    EXPECT_EQ(voxactl("recv --count 1 --timeout 0.2").code, 1);   // nothing came
    EXPECT_EQ(voxactl("recv --timeout 0.2").code, 0);             // no count: a timeout is the normal end
    CliRun const gone = voxactl("--socket /nonexistent/voxa.sock local-stats");
    EXPECT_EQ(gone.code, 1);
}

TEST_F(Voxactl, ResolvesNamesAndSendsToThem) {
    handler_.names["alice.voxa"] = ResolvedBody{handler_.self, 1'900'000'000};
    CliRun const r = voxactl("resolve alice.voxa");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(r.out.substr(0, r.out.find('\n')), to_hex(handler_.self) + " expires 1900000000") << r.out;
    CliRun const j = voxactl("--json resolve alice.voxa");
    ASSERT_EQ(j.code, 0) << j.out;
    auto const body = nlohmann::json::parse(j.out.substr(0, j.out.find('\n')), nullptr, false);
    EXPECT_EQ(body, (nlohmann::json{{"name", "alice.voxa"}, {"node_id", to_hex(handler_.self)},
                                    {"expires_s", 1'900'000'000}}))
        << j.out;
    CliRun const unknown = voxactl("resolve bob.voxa");
    EXPECT_EQ(unknown.code, 1) << unknown.out;
    EXPECT_NE(unknown.out.find("404 unknown name"), std::string::npos) << unknown.out;
    EXPECT_EQ(voxactl("resolve Bad_Name").code, 2);
    EXPECT_EQ(voxactl("resolve").code, 2);

    // send NAME: resolved first, then sent to that node (the loopback delivers to self).
    auto rx = connect();
    std::string error;
    ASSERT_TRUE(rx->subscribe(&error)) << error;
    CliRun const sent = voxactl("send alice.voxa --data 'to a name'");
    EXPECT_EQ(sent.code, 0) << sent.out;
    EXPECT_NE(sent.out.find("delivered "), std::string::npos) << sent.out;
    auto const m = rx->next(2000, &error);
    ASSERT_TRUE(m) << error;
    EXPECT_EQ(std::string(m->bytes.begin(), m->bytes.end()), "to a name");
    CliRun const nowhere = voxactl("send bob.voxa --data x");
    EXPECT_EQ(nowhere.code, 1) << nowhere.out;
    EXPECT_NE(nowhere.out.find("cannot send to bob.voxa"), std::string::npos) << nowhere.out;
    EXPECT_NE(nowhere.out.find("unknown name"), std::string::npos) << nowhere.out;
}

}  // namespace
}  // namespace voxa::local
