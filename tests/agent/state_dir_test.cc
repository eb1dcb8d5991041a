#include "agent/state_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/pki.h"
#include "tests/support/temp_dir.h"

namespace posfleet::agent {
namespace {

class StateDirTest : public ::testing::Test {
 protected:
  testing::TempDir tmp_{"posfleet-state"};
  const std::string root_ = tmp_.path();
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

// A state directory that already existed open to everyone (0755) left the outbox, identity and
// certificate readable by any local user. It is tightened to 0700; one that is not this user's,
// or a symbolic link, is refused.
TEST_F(StateDirTest, TheDirectoryIsTheAgentsUsersAlone) {
  const std::string open_dir = root_ + "/open";
  ASSERT_EQ(mkdir(open_dir.c_str(), 0755), 0);
  ASSERT_EQ(chmod(open_dir.c_str(), 0755), 0);
  StateDir open(open_dir);
  ASSERT_TRUE(open.Init().ok());
  struct stat st;
  ASSERT_EQ(stat(open_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  const std::string link = root_ + "/link";
  ASSERT_EQ(symlink(open_dir.c_str(), link.c_str()), 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(StateDir(link).Init()));

  if (geteuid() == 0) {  // as root (CI), a directory of another user can be made to try
    const std::string foreign = root_ + "/foreign";
    ASSERT_EQ(mkdir(foreign.c_str(), 0700), 0);
    ASSERT_EQ(chown(foreign.c_str(), 65534, 65534), 0);
    const absl::Status s = StateDir(foreign).Init();
    EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
    EXPECT_NE(s.message().find("owned by uid 65534"), std::string::npos) << s;
  }
}

TEST_F(StateDirTest, WithALocalApiGroupItsMembersMayEnterAndNothingMore) {
  const std::string path = root_ + "/shared";
  ASSERT_EQ(mkdir(path.c_str(), 0775), 0);
  ASSERT_EQ(chmod(path.c_str(), 0775), 0);
  const gid_t group = getegid();  // a group this user may give a directory to without root
  StateDir dir(path);
  ASSERT_TRUE(dir.Init(group).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0710u);
  EXPECT_EQ(st.st_gid, group);
  ASSERT_TRUE(dir.WriteAtomically("key.pem", "secret", 0600).ok());
  ASSERT_EQ(stat((path + "/key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Without the group again, the directory is the user's alone once more.
  ASSERT_TRUE(dir.Init().ok());
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
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

// Real certificates: renewal switches key and certificate together, even across a power cut.
class StateDirRenewalTest : public StateDirTest {
 protected:
  void SetUp() override {
    StateDirTest::SetUp();
    ca_ = *pki::CreateCa("fleet", absl::Hours(1));
    dir_ = std::make_unique<StateDir>(root_ + "/agent");
    ASSERT_TRUE(dir_->Init().ok());
    old_key_ = *dir_->PendingKey();
    ASSERT_TRUE(
        dir_->SaveIdentity({"trm_a", Sign(old_key_), old_key_, ca_.cert_pem, "ssl://b"}).ok());
  }
  std::string Sign(const std::string& key) {
    return pki::SignCsr(ca_, *pki::MakeCsr(key, "SN1"), "trm_a", absl::Hours(1),
                        pki::Usage::kClient)
        ->cert_pem;
  }
  std::string File(const std::string& name) {
    std::ifstream in(root_ + "/agent/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  bool Exists(const std::string& name) {
    return access((root_ + "/agent/" + name).c_str(), F_OK) == 0;
  }

  pki::CertAndKey ca_;
  std::unique_ptr<StateDir> dir_;
  std::string old_key_;
};

TEST_F(StateDirRenewalTest, TheRenewalKeyIsKeptUntilTheNewCertificateIsSaved) {
  EXPECT_FALSE(Exists("pending-key.pem"));  // enrollment is done with its key
  auto key = dir_->PendingRenewalKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_NE(*key, old_key_);
  EXPECT_EQ(*dir_->PendingRenewalKey(), *key);  // a retry asks for the same key
  // Not yet renewed: a restart still has the old identity and the pending key.
  EXPECT_EQ((*dir_->LoadIdentity())->key_pem, old_key_);
  EXPECT_TRUE(Exists("renew-key.pem"));

  const std::string cert = Sign(*key);
  auto renewed = dir_->SaveRenewed(cert, ca_.cert_pem);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->key_pem, *key);
  EXPECT_EQ(renewed->certificate_pem, cert);
  EXPECT_EQ(renewed->terminal_id, "trm_a");
  EXPECT_FALSE(Exists("renew-key.pem"));
  struct stat st {};
  ASSERT_EQ(stat(dir_->key_file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_NE(*dir_->PendingRenewalKey(), *key);  // the next renewal gets a key of its own
}

TEST_F(StateDirRenewalTest, APowerCutBetweenCertificateAndKeyIsRepairedAtStart) {
  const std::string key = *dir_->PendingRenewalKey();
  const std::string cert = Sign(key);
  // The cut came after cert.pem was replaced and before key.pem was.
  std::ofstream(root_ + "/agent/cert.pem", std::ios::trunc) << cert;
  auto loaded = StateDir(root_ + "/agent").LoadIdentity();
  ASSERT_TRUE(loaded.ok() && loaded->has_value()) << loaded.status();
  EXPECT_EQ((*loaded)->certificate_pem, cert);
  EXPECT_EQ((*loaded)->key_pem, key);
  EXPECT_EQ(File("key.pem"), key);
  EXPECT_FALSE(Exists("renew-key.pem"));

  // A cut after key.pem but before the cleanup: only the leftover goes.
  const std::string next = *dir_->PendingRenewalKey();
  std::ofstream(root_ + "/agent/cert.pem", std::ios::trunc) << Sign(next);
  std::ofstream(root_ + "/agent/key.pem", std::ios::trunc) << next;
  ASSERT_TRUE(StateDir(root_ + "/agent").LoadIdentity().ok());
  EXPECT_FALSE(Exists("renew-key.pem"));
  EXPECT_EQ(File("key.pem"), next);
}

}  // namespace
}  // namespace posfleet::agent
