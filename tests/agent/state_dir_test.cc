#include "agent/state_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

namespace posfleet::agent {
namespace {

class StateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/posfleet-state-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + root_).c_str()); }
  std::string root_;
};

TEST_F(StateDirTest, IdentityRoundTripsWithAPrivateKey) {
  StateDir dir(root_ + "/agent");
  ASSERT_TRUE(dir.Init().ok());
  auto none = dir.LoadIdentity();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  Identity id{"trm_abcdefghijklmnopqrst", "CERT", "KEY", "CA", "ssl://broker:8883"};
  ASSERT_TRUE(dir.SaveIdentity(id).ok());
  auto loaded = dir.LoadIdentity();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->terminal_id, id.terminal_id);
  EXPECT_EQ((*loaded)->key_pem, "KEY");
  EXPECT_EQ((*loaded)->broker_address, "ssl://broker:8883");
  struct stat st {};
  ASSERT_EQ(stat(dir.key_file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(stat((root_ + "/agent").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700);
  // No temporary files are left behind.
  EXPECT_NE(stat((dir.key_file() + ".tmp").c_str(), &st), 0);
}

TEST_F(StateDirTest, SessionsIncreaseAcrossRestarts) {
  {
    StateDir dir(root_);
    EXPECT_EQ(*dir.NextSession(), 1u);
    EXPECT_EQ(*dir.NextSession(), 2u);
  }
  StateDir again(root_);  // a restarted agent
  EXPECT_EQ(*again.NextSession(), 3u);
}

TEST_F(StateDirTest, CorruptFilesAreDataLossNotACrash) {
  StateDir dir(root_);
  std::ofstream(root_ + "/identity") << "only-one-line";
  EXPECT_EQ(dir.LoadIdentity().status().code(), absl::StatusCode::kDataLoss);
  std::ofstream(root_ + "/identity") << "trm_x\nssl://b:1\n";  // key.pem missing
  EXPECT_EQ(dir.LoadIdentity().status().code(), absl::StatusCode::kDataLoss);
  std::ofstream(root_ + "/session") << "not a number";
  EXPECT_EQ(dir.NextSession().status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace posfleet::agent
