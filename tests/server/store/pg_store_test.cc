#include "server/store/pg_store.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <random>
#include <set>
#include <thread>

#include "common/random.h"
#include "server/core/label_selector.h"
#include "server/core/params.h"
#include "server/store/migrator.h"
#include "server/store/rows.h"
#include "tests/support/test_postgres.h"
#include "tests/support/wait.h"

namespace posfleet::store {
namespace {

using testing::TestPostgres;

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    owner_url_ = TestPostgres::Get().CreateDatabase();
    ASSERT_TRUE(MigrateUp(owner_url_, EmbeddedMigrations()).ok());
    url_ = testing::RuntimeUrl(owner_url_);  // as the server runs
    pool_ = std::make_unique<PgPool>(url_, 2);
    store_ = std::make_unique<PgStore>(*pool_);
  }

  core::AuditEntry Audit(const std::string& method) {
    core::AuditEntry e;
    e.actor_id = "tok_test";
    e.actor_name = "test";
    e.role = core::Role::kAdmin;
    e.method = method;
    e.target_type = "test";
    return e;
  }

  core::Tenant NewTenant(const std::string& name) {
    auto t = store_->CreateTenant({NewId("ten"), name, {}, {}}, Audit("CreateTenant"));
    EXPECT_TRUE(t.ok()) << t.status();
    return *t;
  }

  core::Merchant NewMerchant(const std::string& tenant_id, const std::string& mid) {
    core::Merchant m{NewId("mer"), tenant_id, "m", mid, "", {}, {}};
    auto created = store_->CreateMerchant(m, Audit("CreateMerchant"));
    EXPECT_TRUE(created.ok()) << created.status();
    return *created;
  }

  core::Terminal Spec(const std::string& merchant_id, const std::string& serial,
                      core::Labels labels = {}) {
    core::Terminal t;
    t.id = NewId("trm");
    t.merchant_id = merchant_id;
    t.vendor = "PAX";
    t.model = "A920";
    t.serial = serial;
    t.labels = std::move(labels);
    t.state = core::TerminalState::kActive;  // as after enrollment: the link accepts only these
    return t;
  }

  std::string owner_url_, url_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<PgStore> store_;
};

TEST_F(PgStoreTest, AuditLogRefusesUpdateDeleteAndTruncate) {
  ASSERT_TRUE(store_->AppendAudit(Audit("X")).ok());
  // Even its owner cannot rewrite it without first disabling the triggers.
  pqxx::connection conn(owner_url_);
  for (const char* sql : {"UPDATE audit_log SET summary = 'rewritten'", "DELETE FROM audit_log",
                          "TRUNCATE audit_log"}) {
    pqxx::work txn(conn);
    EXPECT_THROW(txn.exec(sql), pqxx::sql_error) << sql;
  }
  pqxx::work txn(conn);
  EXPECT_EQ(txn.exec("SELECT count(*) FROM audit_log")[0][0].as<int>(), 1);
}

// The role the server runs as cannot change or remove an audit row by any SQL: not directly, not
// by disabling or dropping the triggers, altering, renaming or dropping the table, not through a
// rule, a function of its own, another role or a partition trick. It can append and read.
TEST_F(PgStoreTest, TheRuntimeRoleCannotChangeOrRemoveAnAuditRow) {
  ASSERT_TRUE(store_->AppendAudit(Audit("X")).ok());
  pqxx::connection conn(url_);
  const char* attempts[] = {
      "UPDATE audit_log SET summary = 'rewritten'",
      "DELETE FROM audit_log",
      "TRUNCATE audit_log",
      "WITH gone AS (DELETE FROM audit_log RETURNING 1) SELECT count(*) FROM gone",
      "ALTER TABLE audit_log DISABLE TRIGGER ALL",
      "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete",
      "DROP TRIGGER audit_log_no_update_delete ON audit_log",
      "ALTER TABLE audit_log RENAME TO audit_log_old",
      "ALTER TABLE audit_log DROP COLUMN summary",
      "DROP TABLE audit_log",
      "CREATE RULE r AS ON INSERT TO audit_log DO INSTEAD NOTHING",
      "CREATE OR REPLACE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql "
      "AS $$ BEGIN RETURN NEW; END $$",
      "SET ROLE posfleet_owner",
      "SET session_replication_role = replica",
      // A GRANT it has no right to make only warns; the UPDATE after it still fails.
      "GRANT UPDATE ON audit_log TO posfleet_runtime; UPDATE audit_log SET summary = 'x'",
      "ALTER TABLE audit_log OWNER TO posfleet_app",
      "SELECT posfleet_drop_partition('audit_log', 'audit_log')",
      "CREATE TABLE x (LIKE audit_log)",
  };
  for (const char* sql : attempts) {
    pqxx::work txn(conn);
    EXPECT_THROW(txn.exec(sql), pqxx::sql_error) << sql;
  }
  pqxx::work txn(conn);
  EXPECT_EQ(txn.exec("SELECT count(*), min(summary) FROM audit_log")[0][0].as<int>(), 1);
  // What it may do: append and read.
  txn.exec(
      "INSERT INTO audit_log (actor_id, actor_name, role, method, target_type, target_id, "
      "summary, result) VALUES ('a', 'a', 'admin', 'M', 't', 'i', 's', 'OK')");
  EXPECT_EQ(txn.exec("SELECT count(*) FROM audit_log")[0][0].as<int>(), 2);
}

TEST_F(PgStoreTest, SchemaRefusesATerminalWhoseMerchantIsInAnotherTenant) {
  core::Tenant a = NewTenant("a"), b = NewTenant("b");
  core::Merchant mb = NewMerchant(b.id, "M1");
  pqxx::connection conn(url_);
  pqxx::work txn(conn);
  EXPECT_THROW(txn.exec_params("INSERT INTO terminals (id, tenant_id, merchant_id, vendor, model, "
                               "serial, state) VALUES ($1, $2, $3, 'V', 'M', 'S', 'provisioned')",
                               NewId("trm"), a.id, mb.id),
               pqxx::foreign_key_violation);
}

TEST_F(PgStoreTest, CreateTerminalOutsideScopeIsNotFoundAndWritesNothing) {
  core::Tenant a = NewTenant("a"), b = NewTenant("b");
  core::Merchant mb = NewMerchant(b.id, "M1");
  core::AuditEntry audit = Audit("CreateTerminal");
  auto r = store_->CreateTerminal(core::Scope{a.id}, Spec(mb.id, "S1"), audit);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  pqxx::connection conn(url_);
  pqxx::work txn(conn);
  EXPECT_EQ(txn.exec("SELECT count(*) FROM terminals")[0][0].as<int>(), 0);
  EXPECT_EQ(
      txn.exec("SELECT count(*) FROM audit_log WHERE method = 'CreateTerminal'")[0][0].as<int>(),
      0);
}

TEST_F(PgStoreTest, FailedMutationRollsBackTheWholeTransaction) {
  core::Tenant a = NewTenant("a");
  core::Merchant m = NewMerchant(a.id, "M1");
  auto t = store_->CreateTerminal(core::Scope{}, Spec(m.id, "S1"), Audit("CreateTerminal"));
  ASSERT_TRUE(t.ok());
  // Move to a merchant that does not exist: the FK refuses at UPDATE time.
  auto r = store_->UpdateTerminal(
      core::Scope{}, t->id,
      [](core::Terminal& x) -> absl::StatusOr<std::string> {
        x.labels["moved"] = "yes";
        x.merchant_id = "mer_aaaaaaaaaaaaaaaaaaaa";
        return std::string("move");
      },
      Audit("UpdateTerminal"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  auto after = store_->GetTerminal(core::Scope{}, t->id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->merchant_id, m.id);
  EXPECT_FALSE(after->labels.contains("moved"));
  pqxx::connection conn(url_);
  pqxx::work txn(conn);
  EXPECT_EQ(
      txn.exec("SELECT count(*) FROM audit_log WHERE method = 'UpdateTerminal'")[0][0].as<int>(),
      0);
}

TEST_F(PgStoreTest, PresenceFollowsSessionsAndIgnoresStaleWills) {
  core::Tenant tenant = NewTenant("a");
  core::Merchant m = NewMerchant(tenant.id, "M1");
  auto t = store_->CreateTerminal(core::Scope{}, Spec(m.id, "S1"), Audit("CreateTerminal"));
  ASSERT_TRUE(t.ok());
  auto presence = [&] { return store_->GetTerminal(core::Scope{}, t->id)->presence; };
  EXPECT_FALSE(presence().has_value());  // never connected

  auto status = [&](bool online, int64_t session) {
    return core::StatusReport{t->id, online, session, "1.0.0"};
  };
  core::HealthReport hb{t->id, 1, {}};
  hb.health.battery_percent = 42;
  hb.health.paper = "low";
  hb.health.versions = {{"os", "11"}, {"payment-app", "3.2.1"}};
  ASSERT_TRUE(store_->ApplyLinkReports({status(true, 1)}, {hb}, core::kNoHistory).ok());
  ASSERT_TRUE(presence().has_value());
  EXPECT_TRUE(presence()->online);
  EXPECT_EQ(presence()->agent_version, "1.0.0");
  ASSERT_TRUE(presence()->health.has_value());
  EXPECT_EQ(presence()->health->battery_percent, 42);
  EXPECT_EQ(presence()->health->paper, "low");
  EXPECT_EQ(presence()->health->versions.at("payment-app"), "3.2.1");

  // Reconnected as session 2; then the broker delivers the Will of session 1: stale, ignored.
  ASSERT_TRUE(store_->ApplyLinkReports({status(true, 2)}, {}, core::kNoHistory).ok());
  ASSERT_TRUE(store_->ApplyLinkReports({status(false, 1)}, {}, core::kNoHistory).ok());
  EXPECT_TRUE(presence()->online);
  EXPECT_EQ(presence()->session, 2);
  // The Will of the current session counts, even after a heartbeat in the same batch.
  hb.session = 2;
  ASSERT_TRUE(store_->ApplyLinkReports({status(false, 2)}, {hb}, core::kNoHistory).ok());
  EXPECT_FALSE(presence()->online);

  // Reports about terminals that do not exist are dropped without failing the batch.
  core::HealthReport ghost{"trm_aaaaaaaaaaaaaaaaaaaa", 1, {}};
  ASSERT_TRUE(store_->ApplyLinkReports({status(true, 3)}, {ghost}, core::kNoHistory).ok());
  EXPECT_TRUE(presence()->online);

  // Silence: nothing for longer than the timeout.
  EXPECT_EQ(*store_->MarkSilentOffline(absl::Minutes(1)), 0);
  {
    pqxx::connection conn(url_);
    pqxx::nontransaction(conn).exec(
        "UPDATE terminal_status SET last_seen = now() - interval '2 minutes'");
  }
  EXPECT_EQ(*store_->MarkSilentOffline(absl::Minutes(1)), 1);
  EXPECT_FALSE(presence()->online);
  EXPECT_EQ(*store_->MarkSilentOffline(absl::Minutes(1)), 0);
}

TEST_F(PgStoreTest, TextArrayLiteralsRoundTripAnyText) {
  const std::vector<std::string> values = {
      "",     "plain",    "with,comma",    "{braces}",           "quote\"d", "back\\slash",
      "NULL", " spaced ", "{\"k\":\"v\"}", "\u00fcnicode \u20ac"};
  pqxx::connection conn(url_);
  pqxx::nontransaction txn(conn);
  pqxx::result r = txn.exec_params(
      "SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS a(x, n) "
      "ORDER BY n",
      PgTextArray(values));
  ASSERT_EQ(r.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_FALSE(r[i][0].is_null()) << i;
    EXPECT_EQ(r[i][0].c_str(), values[i]) << i;
  }
}

// The SQL form of label selectors must agree with core::Matches on every terminal, vendor and
// model coming from the terminal's fields unless a label of that name is set.
TEST_F(PgStoreTest, LabelSelectorSqlAgreesWithTheReferenceSemantics) {
  core::Tenant tenant = NewTenant("a");
  core::Merchant m = NewMerchant(tenant.id, "M1");
  std::mt19937 rng(20261121);
  const std::vector<std::string> keys = {"region", "model", "pilot", "env", "vendor"};
  const std::vector<std::string> values = {"north", "south", "A920", "yes", "", "PAX"};
  std::vector<core::Terminal> all;
  for (int i = 0; i < 150; ++i) {
    core::Labels labels;
    for (const std::string& k : keys) {
      if (rng() % 2) labels[k] = values[rng() % values.size()];
    }
    auto t = store_->CreateTerminal(core::Scope{}, Spec(m.id, "S" + std::to_string(i), labels),
                                    Audit("CreateTerminal"));
    ASSERT_TRUE(t.ok()) << t.status();
    all.push_back(*t);
  }
  const char* ops[] = {"=", "!=", " in ", " notin ", "exists", "!"};
  for (int q = 0; q < 80; ++q) {
    std::string selector;
    const int parts = 1 + rng() % 3;
    for (int p = 0; p < parts; ++p) {
      if (p) selector += ",";
      const std::string key = keys[rng() % keys.size()];
      const std::string op = ops[rng() % 6];
      const std::string v1 = values[rng() % values.size()], v2 = values[1 + rng() % 3];
      if (op == "exists")
        selector += key;
      else if (op == "!")
        selector += "!" + key;
      else if (op == "=" || op == "!=")
        selector += key + op + v1;
      else
        selector += key + op + "(" + v2 + "," + values[rng() % 4] + ")";
    }
    auto parsed = core::ParseLabelSelector(selector);
    ASSERT_TRUE(parsed.ok()) << selector << ": " << parsed.status();
    std::set<std::string> want;
    for (const core::Terminal& t : all) {
      if (core::Matches(*parsed, core::SelectorLabels(t))) want.insert(t.id);
    }
    core::TerminalFilter filter;
    filter.selector = *parsed;
    auto got = store_->ListTerminals(filter, core::Window{0, 1000});
    ASSERT_TRUE(got.ok()) << got.status();
    std::set<std::string> got_ids;
    for (const core::Terminal& t : got->items) got_ids.insert(t.id);
    EXPECT_EQ(got_ids, want) << selector;
  }
}

core::Txn Sale(const std::string& terminal_id, const std::string& txn_id, int64_t seq,
               absl::Time time, int64_t amount) {
  core::Txn t;
  t.terminal_id = terminal_id;
  t.txn_id = txn_id;
  t.seq = seq;
  t.time = absl::FromUnixSeconds(absl::ToUnixSeconds(time));
  t.type = 1;
  t.result = 1;
  t.amount_minor = amount;
  t.currency = "EUR";
  t.masked_pan = "411111******1111";
  return t;
}

// A transaction id is stored once per terminal whatever its time; the same record again (from a
// new outbox: another seq) is a duplicate, acknowledged; other content under the same id is a
// conflict, never stored. Before txn_ids, the second submission with another time was a second
// row that reports counted.
TEST_F(PgStoreTest, ATransactionIdIsStoredOncePerTerminalWhateverItsTime) {
  const core::Tenant tenant = NewTenant("acme");
  const core::Merchant m = NewMerchant(tenant.id, "M1");
  auto t = store_->CreateTerminal(core::Scope{}, Spec(m.id, "S1"), Audit("CreateTerminal"));
  ASSERT_TRUE(t.ok()) << t.status();
  const absl::Time now = absl::Now();
  ASSERT_TRUE(store_->MaintainTransactions(now, 1, 3).ok());
  const core::Txn first = Sale(t->id, "txn-1", 1, now - absl::Hours(1), 500);
  auto a = store_->IngestTransactions({first});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->inserted, 1);

  core::Txn same_later = first;  // the same record, resubmitted after a restart
  same_later.seq = 7;
  core::Txn other_time = first;  // the same id with another time and amount
  other_time.seq = 8;
  other_time.time = now - absl::Minutes(5);
  other_time.amount_minor = 900;
  core::Txn twice_new = Sale(t->id, "txn-2", 9, now, 100);
  core::Txn twice_new_other = twice_new;  // in one batch: the first copy wins
  twice_new_other.seq = 10;
  twice_new_other.amount_minor = 101;
  auto b = store_->IngestTransactions({same_later, other_time, twice_new, twice_new_other});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->committed, (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ(b->conflict, (std::vector<bool>{false, true, false, true}));
  EXPECT_EQ(b->inserted, 1);
  EXPECT_EQ(b->duplicates, 1);
  EXPECT_EQ(b->conflicts, 2);

  pqxx::connection conn(url_);
  pqxx::row r =
      pqxx::nontransaction(conn).exec1("SELECT count(*), sum(amount_minor) FROM transactions");
  EXPECT_EQ(r[0].as<int>(), 2);
  EXPECT_EQ(r[1].as<int64_t>(), 600);
}

// Parameter set hashes are stored as SHA-256 digests, 32 bytes, and nothing else fits: not hex
// text of any length a terminal might send.
TEST_F(PgStoreTest, ConfigHashesAreStoredAsThirtyTwoBytes) {
  pqxx::connection conn(owner_url_);
  pqxx::nontransaction txn(conn);
  const pqxx::result types = txn.exec(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = "
      "'terminal_config' AND column_name LIKE '%hash' ORDER BY column_name");
  ASSERT_EQ(types.size(), 4u);
  for (const pqxx::row& r : types) EXPECT_STREQ(r[1].c_str(), "bytea") << r[0].c_str();
  const core::Tenant tenant = NewTenant("acme");
  const core::Merchant m = NewMerchant(tenant.id, "M1");
  auto t = store_->CreateTerminal(core::Scope{}, Spec(m.id, "S1"), Audit("CreateTerminal"));
  ASSERT_TRUE(t.ok()) << t.status();
  txn.exec_params(
      "INSERT INTO terminal_config (terminal_id, tenant_id, desired_revision, desired_hash) "
      "VALUES ($1, $2, 1, sha256('x'))",
      t->id, tenant.id);
  for (const char* bad : {"convert_to('4111111111111111', 'UTF8')", "'\\x00'::bytea",
                          "sha256('x') || '\\x00'::bytea"}) {
    EXPECT_THROW(txn.exec_params(std::string("UPDATE terminal_config SET reported_hash = ") + bad +
                                     " WHERE terminal_id = $1",
                                 t->id),
                 pqxx::check_violation)
        << bad;
  }
}

// Time order is revision order. A change that waited for the tenant's lock started before the
// one it follows; its revision is still stamped after it. Here a competitor holds the lock and
// commits a revision while CommitConfig waits.
TEST_F(PgStoreTest, ARevisionIsNeverStampedBeforeThePreviousOne) {
  const core::Tenant tenant = NewTenant("acme");
  const core::ConfigChange nothing = [](core::TenantParams&, core::ConfigRevision&) {
    return absl::StatusOr<std::string>("nothing");
  };
  ASSERT_TRUE(
      store_->CommitConfig(core::Scope{}, tenant.id, nothing, false, 0, Audit("SetConfigValues"))
          .ok());
  pqxx::connection competitor(owner_url_);
  pqxx::work lock(competitor);
  const int64_t head =
      lock.exec_params1("SELECT revision FROM config_heads WHERE tenant_id = $1 FOR UPDATE",
                        tenant.id)[0]
          .as<int64_t>();
  absl::StatusOr<core::ConfigCommit> waited = absl::UnknownError("not run");
  std::thread second([&] {
    waited =
        store_->CommitConfig(core::Scope{}, tenant.id, nothing, false, 0, Audit("SetConfigValues"));
  });
  ASSERT_TRUE(testing::WaitFor([&] {
    pqxx::connection c(url_);
    return pqxx::nontransaction(c)
               .exec1("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")[0]
               .as<int>() > 0;
  }));
  lock.exec_params(
      "INSERT INTO config_revisions (tenant_id, revision, schema_version, author, message, "
      "summary, restored_from, terminals_changed, state, create_time) "
      "SELECT tenant_id, revision + 1, schema_version, 'competitor', '', '', 0, 0, state, "
      "clock_timestamp() FROM config_revisions WHERE tenant_id = $1 AND revision = $2",
      tenant.id, head);
  lock.exec_params("UPDATE config_heads SET revision = $2 WHERE tenant_id = $1", tenant.id,
                   head + 1);
  lock.commit();
  second.join();
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(waited->meta.revision, head + 2);
  pqxx::connection conn(url_);
  const pqxx::result times = pqxx::nontransaction(conn).exec_params(
      "SELECT revision, create_time FROM config_revisions WHERE tenant_id = $1 ORDER BY revision",
      tenant.id);
  ASSERT_EQ(times.size(), 3u);
  for (size_t i = 1; i < times.size(); ++i) {
    pqxx::connection c(url_);
    EXPECT_TRUE(pqxx::nontransaction(c)
                    .exec_params1("SELECT $1::timestamptz <= $2::timestamptz",
                                  times[i - 1][1].c_str(), times[i][1].c_str())[0]
                    .as<bool>())
        << "revision " << times[i][0].c_str() << " at " << times[i][1].c_str()
        << " is stamped before revision " << times[i - 1][0].c_str() << " at "
        << times[i - 1][1].c_str();
  }
}

// A config report counts only from an active terminal, like every other uplink.
TEST_F(PgStoreTest, AConfigReportOfASuspendedTerminalIsNotApplied) {
  const core::Tenant tenant = NewTenant("acme");
  const core::Merchant m = NewMerchant(tenant.id, "M1");
  auto t = store_->CreateTerminal(core::Scope{}, Spec(m.id, "S1"), Audit("CreateTerminal"));
  ASSERT_TRUE(t.ok()) << t.status();
  pqxx::connection conn(owner_url_);
  pqxx::nontransaction txn(conn);
  txn.exec_params(
      "INSERT INTO terminal_config (terminal_id, tenant_id, desired_revision, desired_hash) "
      "VALUES ($1, $2, 1, sha256('x'))",
      t->id, tenant.id);
  const std::string hash = txn.exec1("SELECT encode(sha256('x'), 'hex')")[0].c_str();
  auto reported = [&] {
    return !txn.exec_params1("SELECT reported_hash FROM terminal_config WHERE terminal_id = $1",
                             t->id)[0]
                .is_null();
  };
  txn.exec_params("UPDATE terminals SET state = 'suspended' WHERE id = $1", t->id);
  core::ConfigReportIn report;
  report.terminal_id = t->id;
  report.revision = 1;
  report.hash = hash;
  report.applied = true;
  ASSERT_TRUE(store_->ApplyConfigReports({report}).ok());
  EXPECT_FALSE(reported());
  txn.exec_params("UPDATE terminals SET state = 'active' WHERE id = $1", t->id);
  ASSERT_TRUE(store_->ApplyConfigReports({report}).ok());
  EXPECT_TRUE(reported());
}

// Two writers (presence and transactions) refusing the same suspended terminal at once: one
// audit row, not two. The second waits for the first's row lock and must see its mark.
TEST_F(PgStoreTest, ConcurrentRefusalsOfOneTerminalAreAuditedOnce) {
  const core::Tenant tenant = NewTenant("acme");
  const core::Merchant m = NewMerchant(tenant.id, "M1");
  auto t = store_->CreateTerminal(core::Scope{}, Spec(m.id, "S1"), Audit("CreateTerminal"));
  ASSERT_TRUE(t.ok()) << t.status();
  pqxx::connection c1(url_), c2(url_);
  pqxx::nontransaction(c1).exec_params("UPDATE terminals SET state = 'suspended' WHERE id = $1",
                                       t->id);
  pqxx::work first(c1);
  EXPECT_EQ(RecordRefusedUplinks(first, {t->id}).size(), 1u);
  std::thread second([&] {
    pqxx::work w(c2);
    RecordRefusedUplinks(w, {t->id});  // waits for `first`'s row lock
    w.commit();
  });
  // Commit once the second writer is waiting on the lock.
  ASSERT_TRUE(testing::WaitFor([&] {
    pqxx::connection c(url_);
    return pqxx::nontransaction(c)
               .exec1("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")[0]
               .as<int>() > 0;
  }));
  first.commit();
  second.join();
  pqxx::connection c(url_);
  EXPECT_EQ(pqxx::nontransaction(c)
                .exec_params1("SELECT count(*) FROM audit_log WHERE target_id = $1 AND "
                              "method = 'Link.Uplink'",
                              t->id)[0]
                .as<int>(),
            1);
}

}  // namespace
}  // namespace posfleet::store
