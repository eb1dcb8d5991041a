#include "agent/config_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/param_set_hash.h"
#include "common/param_spec_proto.h"
#include "tests/support/simulated_env.h"
#include "tests/support/temp_dir.h"

namespace posfleet::agent {
namespace {

constexpr char kTerminal[] = "trm_abcdefghijklmnopqrst";

ParamSpec Integer(const std::string& key, double min, double max) {
  ParamSpec s;
  s.key = key;
  s.type = ParamType::kInteger;
  s.min = min;
  s.max = max;
  return s;
}

ParamSpec Secret(const std::string& key) {
  ParamSpec s;
  s.key = key;
  s.secret = true;
  s.pattern = "[0-9a-f]{8}";
  return s;
}

void Add(v1::ConfigSet& set, const ParamSpec& spec, const std::string& value) {
  v1::ConfigSet::Param* p = set.add_params();
  ToProto(spec, p->mutable_spec());
  p->set_value(value);
}

constexpr char kHashKey[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

// The hash the server gives `set` (common/param_set_hash.h), its params being in key order.
std::string HashOf(const v1::ConfigSet& set) {
  std::vector<std::string> specs;
  std::vector<std::string> values;
  for (const v1::ConfigSet::Param& p : set.params()) {
    const ParamSpec spec = *FromProto(p.spec());
    specs.push_back(EncodeSpecForHash(spec));
    values.push_back(spec.secret ? SecretDigest(set.hash_key(), p.value()) : p.value());
  }
  std::vector<HashedParam> hashed;
  for (size_t i = 0; i < specs.size(); ++i) hashed.push_back(HashedParam{specs[i], values[i]});
  return ParamSetHash(hashed);
}

// A well-formed set: a contactless limit and a secret host key, with the server's hash.
v1::ConfigSet Set(uint64_t revision, const std::string& limit) {
  v1::ConfigSet set;
  set.set_terminal_id(kTerminal);
  set.set_revision(revision);
  set.set_schema_version(1);
  set.set_hash_key(kHashKey);
  Add(set, Integer("contactless.limit", 0, 500), limit);
  Add(set, Secret("host.key"), "0badc0de");
  set.set_hash(HashOf(set));
  return set;
}

class ConfigStoreTest : public ::testing::Test {
 protected:
  std::string File() const { return root_ + "/" + ConfigStore::kFile; }

  testing::SimulatedEnv env_{absl::FromUnixSeconds(1800000000)};
  testing::TempDir tmp_{"posfleet-config-store"};
  const std::string root_ = tmp_.path();
};

TEST(CheckConfigSetTest, RefusesEachKindOfBadSetNamingTheProblem) {
  ASSERT_TRUE(CheckConfigSet(Set(3, "45"), kTerminal).ok());

  auto expect_refused = [](const v1::ConfigSet& set, const std::string& words) {
    const absl::Status s = CheckConfigSet(set, kTerminal);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_NE(s.message().find(words), std::string::npos) << s << " should say: " << words;
  };
  v1::ConfigSet other = Set(3, "45");
  other.set_terminal_id("trm_zzzzzzzzzzzzzzzzzzzz");
  expect_refused(other, "another terminal");
  v1::ConfigSet no_revision = Set(3, "45");
  no_revision.set_revision(0);
  expect_refused(no_revision, "revision");
  v1::ConfigSet bad_hash = Set(3, "45");
  bad_hash.set_hash("ABC");
  expect_refused(bad_hash, "hash");
  v1::ConfigSet twice = Set(3, "45");
  Add(twice, Integer("contactless.limit", 0, 500), "50");
  expect_refused(twice, "given twice");
  v1::ConfigSet bad_spec = Set(3, "45");
  Add(bad_spec, Integer("tip.max", 10, 1), "5");  // min above max
  expect_refused(bad_spec, "min is greater than max");
  expect_refused(Set(3, "900"), "at most 500");
  expect_refused(Set(3, "forty"), "not an integer");
  expect_refused(Set(3, "045"), "canonical");
}

// The agent recomputes the hash over what it received: a value, a spec or a secret changed on
// the way (or a set made up by someone who is not the server) no longer matches.
TEST(CheckConfigSetTest, ASetWhoseContentDoesNotMatchItsHashIsRefused) {
  auto expect_mismatch = [](const v1::ConfigSet& set) {
    const absl::Status s = CheckConfigSet(set, kTerminal);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_NE(s.message().find("does not match"), std::string::npos) << s;
  };
  v1::ConfigSet value = Set(3, "45");
  value.mutable_params(0)->set_value("40");
  expect_mismatch(value);
  v1::ConfigSet spec = Set(3, "45");
  spec.mutable_params(0)->mutable_spec()->set_max(400);
  expect_mismatch(spec);
  v1::ConfigSet secret = Set(3, "45");
  secret.mutable_params(1)->set_value("deadbeef");
  expect_mismatch(secret);
  v1::ConfigSet key = Set(3, "45");
  key.set_hash_key(std::string(64, 'f'));
  expect_mismatch(key);
  v1::ConfigSet dropped = Set(3, "45");
  dropped.mutable_params()->RemoveLast();
  expect_mismatch(dropped);
  // The same content in another order is the same set.
  v1::ConfigSet reordered = Set(3, "45");
  reordered.mutable_params()->SwapElements(0, 1);
  EXPECT_TRUE(CheckConfigSet(reordered, kTerminal).ok());
  // A secret without the key to digest it cannot be checked at all.
  v1::ConfigSet keyless = Set(3, "45");
  keyless.clear_hash_key();
  const absl::Status s = CheckConfigSet(keyless, kTerminal);
  EXPECT_NE(s.message().find("no hash key"), std::string::npos) << s;
}

TEST(CheckConfigSetTest, ARefusedSecretIsNeverEchoed) {
  v1::ConfigSet set = Set(3, "45");
  set.mutable_params(1)->set_value("hunter2-the-password");
  const absl::Status s = CheckConfigSet(set, kTerminal);
  ASSERT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("host.key"), std::string::npos) << s;
  EXPECT_EQ(s.message().find("hunter2"), std::string::npos) << s;
}

TEST_F(ConfigStoreTest, AnAppliedSetIsPrivateOnDiskAndSurvivesARestart) {
  StateDir dir(root_);
  ConfigStore store(dir, env_);
  ASSERT_TRUE(store.Load().ok());
  EXPECT_FALSE(store.Current().has_value());  // a new terminal has none

  const v1::ConfigSet set = Set(3, "45");
  auto report = store.Apply(set.SerializeAsString(), kTerminal);
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->applied()) << report->error();
  EXPECT_EQ(report->revision(), 3u);
  EXPECT_EQ(report->hash(), set.hash());
  EXPECT_EQ(report->terminal_id(), kTerminal);
  EXPECT_EQ(report->time().seconds(), 1800000000);  // the agent's Env, not the wall clock
  struct stat st {};
  ASSERT_EQ(stat(File().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);  // it holds the secret

  StateDir again_dir(root_);  // a restarted agent
  ConfigStore again(again_dir, env_);
  ASSERT_TRUE(again.Load().ok());
  ASSERT_TRUE(again.Current().has_value());
  EXPECT_EQ(again.Current()->hash(), set.hash());
  EXPECT_EQ(again.Current()->params(0).value(), "45");
}

TEST_F(ConfigStoreTest, ARefusedSetLeavesThePreviousOneInForceOnDiskToo) {
  StateDir dir(root_);
  ConfigStore store(dir, env_);
  ASSERT_TRUE(store.Load().ok());
  const v1::ConfigSet good = Set(3, "45");
  ASSERT_TRUE(store.Apply(good.SerializeAsString(), kTerminal)->applied());

  auto report = store.Apply(Set(4, "900").SerializeAsString(), kTerminal);
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->applied());
  EXPECT_EQ(report->revision(), 4u);  // the server learns which revision was refused, and why
  EXPECT_NE(report->error().find("at most 500"), std::string::npos) << report->error();
  EXPECT_EQ(store.Current()->hash(), good.hash());

  StateDir again_dir(root_);
  ConfigStore again(again_dir, env_);
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.Current()->hash(), good.hash());

  // Not a ConfigSet at all: reported too (so the server publishes again), nothing changes.
  auto garbage = store.Apply("\xff\xff\xff", kTerminal);
  ASSERT_TRUE(garbage.has_value());
  EXPECT_FALSE(garbage->applied());
  EXPECT_EQ(garbage->terminal_id(), kTerminal);
  EXPECT_NE(garbage->error().find("not a parameter set"), std::string::npos) << garbage->error();
  EXPECT_EQ(store.Current()->hash(), good.hash());
}

// A payload larger than any set the server sends is refused unread (the 30 MB set once grew the
// agent by 126 MB), and reported.
TEST_F(ConfigStoreTest, AnOversizedPayloadIsRefusedUnreadAndReported) {
  StateDir dir(root_);
  ConfigStore store(dir, env_);
  ASSERT_TRUE(store.Load().ok());
  const v1::ConfigSet good = Set(3, "45");
  ASSERT_TRUE(store.Apply(good.SerializeAsString(), kTerminal)->applied());
  auto report = store.Apply(std::string(kMaxConfigSetBytes + 1, 'x'), kTerminal);
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->applied());
  EXPECT_NE(report->error().find("more than the 196608"), std::string::npos) << report->error();
  EXPECT_EQ(store.Current()->hash(), good.hash());
}

// An empty retained message is the server clearing its set, not a set for another terminal.
TEST_F(ConfigStoreTest, AnEmptyPayloadIsNoSetAndLeavesTheOneInForce) {
  StateDir dir(root_);
  ConfigStore store(dir, env_);
  ASSERT_TRUE(store.Load().ok());
  const v1::ConfigSet good = Set(3, "45");
  ASSERT_TRUE(store.Apply(good.SerializeAsString(), kTerminal)->applied());
  EXPECT_FALSE(store.Apply("", kTerminal).has_value());
  EXPECT_EQ(store.Current()->hash(), good.hash());
}

// A stale or replayed set (an older revision, valid in itself) never replaces a newer one, even
// after a restart; the refusal names both revisions.
TEST_F(ConfigStoreTest, AnOlderRevisionIsRefusedAndTheNewerOneStays) {
  StateDir dir(root_);
  ConfigStore store(dir, env_);
  ASSERT_TRUE(store.Load().ok());
  const v1::ConfigSet newer = Set(233, "45");
  ASSERT_TRUE(store.Apply(newer.SerializeAsString(), kTerminal)->applied());
  const v1::ConfigSet older = Set(5, "40");
  auto report = store.Apply(older.SerializeAsString(), kTerminal);
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->applied());
  EXPECT_EQ(report->revision(), 5u);
  EXPECT_EQ(report->hash(), older.hash());
  EXPECT_NE(report->error().find("revision 5 is older than revision 233"), std::string::npos)
      << report->error();
  EXPECT_EQ(store.Current()->hash(), newer.hash());

  StateDir again_dir(root_);
  ConfigStore again(again_dir, env_);
  ASSERT_TRUE(again.Load().ok());
  EXPECT_FALSE(again.Apply(older.SerializeAsString(), kTerminal)->applied());
  EXPECT_EQ(again.Current()->hash(), newer.hash());
  // A newer revision still applies.
  EXPECT_TRUE(again.Apply(Set(234, "35").SerializeAsString(), kTerminal)->applied());
}

TEST_F(ConfigStoreTest, TheSameSetAgainIsReportedWithoutRewritingTheFile) {
  StateDir dir(root_);
  ConfigStore store(dir, env_);
  ASSERT_TRUE(store.Load().ok());
  const v1::ConfigSet set = Set(3, "45");
  ASSERT_TRUE(store.Apply(set.SerializeAsString(), kTerminal)->applied());
  struct stat before {};
  ASSERT_EQ(stat(File().c_str(), &before), 0);
  // The retained message arrives again at every reconnect.
  auto report = store.Apply(set.SerializeAsString(), kTerminal);
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->applied());
  struct stat after {};
  ASSERT_EQ(stat(File().c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);  // an atomic write would have renamed a new file in
}

TEST_F(ConfigStoreTest, ACorruptFileIsDataLossNotACrash) {
  { std::ofstream(File()) << "not a protobuf \xff\xff\xff"; }
  StateDir dir(root_);
  ConfigStore store(dir, env_);
  EXPECT_TRUE(absl::IsDataLoss(store.Load()));
  EXPECT_FALSE(store.Current().has_value());
}

TEST_F(ConfigStoreTest, WaitForChangeWakesWhenANewSetIsApplied) {
  StateDir dir(root_);
  ConfigStore store(dir, env_);
  ASSERT_TRUE(store.Load().ok());
  const v1::ConfigSet first = Set(3, "45");
  ASSERT_TRUE(store.Apply(first.SerializeAsString(), kTerminal)->applied());

  // Nothing new: the current set once the deadline passes, by the Env's time.
  std::optional<v1::ConfigSet> unchanged;
  std::thread idle([&] { unchanged = store.WaitForChange(first.hash(), absl::Minutes(5)); });
  ASSERT_TRUE(env_.AwaitWaiting(1));
  env_.Advance(absl::Minutes(5));
  idle.join();
  ASSERT_TRUE(unchanged.has_value());
  EXPECT_EQ(unchanged->hash(), first.hash());

  // A payment app waiting on the old hash sees the new set; the deadline is far, so returning
  // at all means it was woken (or the set was already there when it started waiting).
  const v1::ConfigSet second = Set(4, "60");
  std::optional<v1::ConfigSet> seen;
  std::thread waiter([&] { seen = store.WaitForChange(first.hash(), absl::Minutes(5)); });
  ASSERT_TRUE(store.Apply(second.SerializeAsString(), kTerminal)->applied());
  waiter.join();
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->hash(), second.hash());
  EXPECT_EQ(seen->params(0).value(), "60");
}

}  // namespace
}  // namespace posfleet::agent
