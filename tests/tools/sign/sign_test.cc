// posfleet-sign as a key ceremony runs it: keys made and never overwritten, a root and a release
// signed by each key holder in turn, checked against the root; then the binary itself.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/release_trust.h"
#include "tools/sign/sign_commands.h"

namespace posfleet::sign {
namespace {

class SignTest : public ::testing::Test {
 protected:
  SignTest() {
    char tmpl[] = "/tmp/posfleet-sign-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~SignTest() override {
    if (std::system(absl::StrCat("rm -rf '", dir_, "'").c_str()) != 0) ADD_FAILURE() << dir_;
  }

  std::string Path(const std::string& name) const { return absl::StrCat(dir_, "/", name); }

  // Runs one command line in-process; returns the exit code, with its output in out_/err_.
  int Sign(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    Context ctx;
    ctx.out = &out_;
    ctx.err = &err_;
    CLI::App app;
    app.require_subcommand(1);
    AddSignCommands(app, ctx);
    std::vector<const char*> argv{"posfleet-sign"};
    for (const std::string& a : args) argv.push_back(a.c_str());
    try {
      app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
      err_ << e.what();
      return 2;
    }
    return ctx.exit_code;
  }

  void Keygen(const std::string& name, const std::string& scheme = "ecdsa-p256") {
    ASSERT_EQ(Sign({"keygen", "--out", Path(name), "--scheme", scheme}), 0) << err_.str();
  }

  // Root version `version` of root keys r1 r2 (threshold 2), targets t1 t2 (2), director d.
  int MakeRoot(const std::string& out, int version, const std::string& r1, const std::string& r2) {
    return Sign({"root", "--version", absl::StrCat(version), "--root-key", Path(r1 + ".pub"),
                 "--root-key", Path(r2 + ".pub"), "--root-threshold", "2", "--targets-key",
                 Path("t1.pub"), "--targets-key", Path("t2.pub"), "--targets-threshold", "2",
                 "--director-key", Path("d.pub"), "--out", Path(out)});
  }

  void WriteImage(const std::string& name, size_t bytes) {
    std::ofstream f(Path(name), std::ios::binary);
    for (size_t i = 0; i < bytes; ++i) f.put(static_cast<char>((i * 7919) % 251));
  }

  std::string dir_;
  std::ostringstream out_, err_;
};

TEST_F(SignTest, AKeyIsWrittenPrivatelyOnceWithItsPublicHalf) {
  Keygen("k");
  struct stat st;
  ASSERT_EQ(stat(Path("k").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(Path("k.pub").c_str(), &st), 0);
  EXPECT_NE(out_.str().find("key "), std::string::npos);
  EXPECT_EQ(Sign({"keygen", "--out", Path("k")}), 1);
  EXPECT_NE(err_.str().find("exists; not overwritten"), std::string::npos);
  EXPECT_EQ(Sign({"keygen", "--out", Path("x"), "--scheme", "rsa"}), 2);
}

TEST_F(SignTest, ACeremonySignsARootAndAReleaseThatVerifyOnlyWithEveryThreshold) {
  for (const char* k : {"r1", "r2", "t1", "t2", "d"}) Keygen(k);
  Keygen("r3", "ed25519");
  ASSERT_EQ(MakeRoot("root.1", 1, "r1", "r2"), 0) << err_.str();
  EXPECT_EQ(Sign({"verify", "--root", Path("root.1")}), 1);  // unsigned
  EXPECT_NE(err_.str().find("signed by 0 of the 2"), std::string::npos) << err_.str();
  ASSERT_EQ(Sign({"sign", "--key", Path("r1"), "--in", Path("root.1")}), 0) << err_.str();
  EXPECT_EQ(Sign({"sign", "--key", Path("r1"), "--in", Path("root.1")}), 1);  // once per key
  EXPECT_NE(err_.str().find("already signed"), std::string::npos);
  ASSERT_EQ(Sign({"sign", "--key", Path("r2"), "--in", Path("root.1")}), 0);
  ASSERT_EQ(Sign({"verify", "--root", Path("root.1")}), 0) << err_.str();
  EXPECT_NE(out_.str().find("root version 1: trusted"), std::string::npos);

  WriteImage("app.img", 3 * (1 << 20) + 12345);
  ASSERT_EQ(Sign({"release", "--image", Path("app.img"), "--name", "payment-app", "--version",
                  "4.2.1", "--counter", "42", "--model", "PAX/A920", "--out", Path("app.rel")}),
            0)
      << err_.str();
  EXPECT_NE(out_.str().find("in 4 chunks"), std::string::npos) << out_.str();
  ASSERT_EQ(Sign({"sign", "--key", Path("t1"), "--in", Path("app.rel")}), 0);
  EXPECT_EQ(Sign({"verify", "--root", Path("root.1"), "--in", Path("app.rel")}), 1);
  EXPECT_NE(err_.str().find("signed by 1 of the 2"), std::string::npos) << err_.str();
  // A director or root signature does not make up for a missing targets one.
  ASSERT_EQ(Sign({"sign", "--key", Path("d"), "--in", Path("app.rel")}), 0);
  EXPECT_EQ(Sign({"verify", "--root", Path("root.1"), "--in", Path("app.rel")}), 1);
  ASSERT_EQ(Sign({"sign", "--key", Path("t2"), "--in", Path("app.rel")}), 0);
  ASSERT_EQ(Sign({"verify", "--root", Path("root.1"), "--in", Path("app.rel")}), 0) << err_.str();
  EXPECT_NE(out_.str().find("release payment-app 4.2.1 (counter 42"), std::string::npos);

  // What the document says of the image is what the image is.
  std::ifstream image(Path("app.img"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(image)),
                          std::istreambuf_iterator<char>());
  ASSERT_EQ(Sign({"show", "--in", Path("app.rel")}), 0);
  EXPECT_NE(out_.str().find(Sha256Hex(bytes)), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find(absl::StrCat("\"length\": \"", bytes.size(), "\"")), std::string::npos)
      << out_.str();

  // A downgrade to it, signed by both targets keys.
  ASSERT_EQ(Sign({"downgrade", "--release", Path("app.rel"), "--reason", "4.3 declines EMV",
                  "--out", Path("down")}),
            0)
      << err_.str();
  ASSERT_EQ(Sign({"sign", "--key", Path("t1"), "--in", Path("down")}), 0);
  ASSERT_EQ(Sign({"sign", "--key", Path("t2"), "--in", Path("down")}), 0);
  EXPECT_EQ(Sign({"verify", "--root", Path("root.1"), "--in", Path("down")}), 0) << err_.str();

  // Rotation: version 2 replaces r1 by r3; it needs two old and two new root signatures.
  ASSERT_EQ(MakeRoot("root.2", 2, "r2", "r3"), 0) << err_.str();
  ASSERT_EQ(Sign({"sign", "--key", Path("r2"), "--in", Path("root.2")}), 0);
  ASSERT_EQ(Sign({"sign", "--key", Path("r3"), "--in", Path("root.2")}), 0);
  EXPECT_EQ(Sign({"verify", "--root", Path("root.1"), "--next-root", Path("root.2")}), 1);
  EXPECT_NE(err_.str().find("by the keys of version 1"), std::string::npos) << err_.str();
  ASSERT_EQ(Sign({"sign", "--key", Path("r1"), "--in", Path("root.2")}), 0);
  ASSERT_EQ(Sign({"verify", "--root", Path("root.1"), "--next-root", Path("root.2")}), 0)
      << err_.str();
  EXPECT_NE(out_.str().find("root version 2: trusted"), std::string::npos);
  EXPECT_EQ(Sign({"verify", "--root", Path("root.1"), "--next-root", Path("root.2"), "--in",
                  Path("app.rel")}),
            0);
}

TEST_F(SignTest, BadInputIsRefusedWithAMessage) {
  Keygen("t1");
  WriteImage("empty.img", 0);
  EXPECT_EQ(Sign({"release", "--image", Path("empty.img"), "--name", "app", "--version", "1",
                  "--counter", "1", "--model", "PAX/A920", "--out", Path("r")}),
            1);
  EXPECT_NE(err_.str().find("empty"), std::string::npos) << err_.str();
  EXPECT_EQ(Sign({"release", "--image", Path("missing"), "--name", "app", "--version", "1",
                  "--counter", "1", "--model", "PAX/A920", "--out", Path("r")}),
            2);
  WriteImage("img", 100);
  EXPECT_EQ(Sign({"release", "--image", Path("img"), "--name", "app", "--version", "1", "--counter",
                  "0", "--model", "PAX/A920", "--out", Path("r")}),
            2);
  ASSERT_EQ(Sign({"root", "--root-key", Path("t1.pub"), "--targets-key", Path("t1.pub"),
                  "--director-key", Path("t1.pub"), "--out", Path("root")}),
            0)
      << err_.str();
  EXPECT_EQ(Sign({"root", "--root-key", Path("img"), "--targets-key", Path("t1.pub"),
                  "--director-key", Path("t1.pub"), "--out", Path("root2")}),
            1);
  EXPECT_NE(err_.str().find("not a PEM public key"), std::string::npos) << err_.str();
  EXPECT_EQ(Sign({"sign", "--key", Path("img"), "--in", Path("root")}), 1);
  EXPECT_NE(err_.str().find("not a PEM private key"), std::string::npos) << err_.str();
  EXPECT_EQ(Sign({"sign", "--key", Path("t1"), "--in", Path("img")}), 1);
  EXPECT_NE(err_.str().find("not a signed document"), std::string::npos) << err_.str();
}

TEST(SignBinaryTest, TheBinaryMakesAKeyAndReportsUsageErrors) {
  char tmpl[] = "/tmp/posfleet-sign-bin-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string bin = POSFLEET_SIGN_BINARY;
  FILE* p = popen(absl::StrCat(bin, " keygen --out ", dir, "/k 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[512] = {0};
  const size_t n = fread(buf, 1, sizeof(buf) - 1, p);
  EXPECT_EQ(pclose(p), 0);
  EXPECT_NE(std::string(buf, n).find("key "), std::string::npos);
  EXPECT_EQ(WEXITSTATUS(std::system(absl::StrCat(bin, " keygen >/dev/null 2>&1").c_str())), 2);
  EXPECT_EQ(WEXITSTATUS(std::system(
                absl::StrCat(bin, " keygen --out ", dir, "/k >/dev/null 2>&1").c_str())),
            1);
  EXPECT_EQ(std::system(absl::StrCat("rm -rf '", dir, "'").c_str()), 0);
}

}  // namespace
}  // namespace posfleet::sign
