// The contract of the presence and transaction repositories: what the terminal link writes.

#include "tests/server/contract/contract_fixture.h"

namespace posfleet::testing {
namespace {

using core::TerminalState;

core::HealthReport Heartbeat(const std::string& terminal_id, int64_t session, int battery = 80) {
  core::HealthReport r;
  r.terminal_id = terminal_id;
  r.session = session;
  r.health.battery_percent = battery;
  r.health.paper = "ok";
  r.health.versions = {{"app", "1.0"}};
  return r;
}

core::StatusReport Status(const std::string& terminal_id, bool online, int64_t session) {
  return {terminal_id, online, session, online ? "agent/1" : ""};
}

core::Txn Record(const std::string& terminal_id, const std::string& txn_id, int64_t amount,
                 absl::Time time) {
  core::Txn t;
  t.terminal_id = terminal_id;
  t.txn_id = txn_id;
  t.seq = 1;
  t.time = absl::FromUnixMicros(absl::ToUnixMicros(time));
  t.type = 1;
  t.result = 1;
  t.amount_minor = amount;
  t.currency = "EUR";
  t.response_code = "00";
  t.masked_pan = "411111******1111";
  return t;
}

TEST_P(ContractTest, AHeartbeatMakesAnActiveTerminalOnlineAndOthersAreDropped) {
  const core::Tenant a = NewTenant();
  const core::Merchant m = NewMerchant(a.id);
  const core::Terminal active = NewTerminal(m, "S1");
  const core::Terminal suspended = NewTerminal(m, "S2", TerminalState::kSuspended);
  auto written = presence().ApplyLinkReports(
      {}, {Heartbeat(active.id, 1), Heartbeat(suspended.id, 1), Heartbeat("trm_unknown", 1)},
      core::kNoHistory);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->refused_inactive, 1);
  EXPECT_EQ(written->samples, 0);
  auto t = terminals().GetTerminal({}, active.id);
  ASSERT_TRUE(t.ok() && t->presence.has_value());
  EXPECT_TRUE(t->presence->online);
  EXPECT_EQ(t->presence->session, 1);
  ASSERT_TRUE(t->presence->health.has_value());
  EXPECT_EQ(t->presence->health->battery_percent, 80);
  EXPECT_FALSE(terminals().GetTerminal({}, suspended.id)->presence.has_value());
  // The refusal is audited once per terminal, however often it reports.
  ASSERT_TRUE(
      presence().ApplyLinkReports({Status(suspended.id, true, 2)}, {}, core::kNoHistory).ok());
  int refusals = 0;
  for (const core::AuditEntry& e : AuditOf(a.id)) {
    if (e.method == "Link.Uplink") {
      ++refusals;
      EXPECT_EQ(e.target_id, suspended.id);
      EXPECT_EQ(e.result, "PERMISSION_DENIED");
    }
  }
  EXPECT_EQ(refusals, 1);
}

TEST_P(ContractTest, ALateWillOfAnEarlierSessionChangesNothing) {
  const core::Tenant a = NewTenant();
  const core::Terminal t = NewTerminal(NewMerchant(a.id), "S1");
  ASSERT_TRUE(presence().ApplyLinkReports({Status(t.id, true, 5)}, {}, core::kNoHistory).ok());
  ASSERT_TRUE(presence().ApplyLinkReports({Status(t.id, false, 4)}, {}, core::kNoHistory).ok());
  auto p = terminals().GetTerminal({}, t.id)->presence;
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->online);
  EXPECT_EQ(p->session, 5);
  EXPECT_EQ(p->agent_version, "agent/1");
  // A jump of more than 100000 sessions is refused, so a terminal cannot pin its presence.
  ASSERT_TRUE(
      presence().ApplyLinkReports({Status(t.id, false, 5 + 100001)}, {}, core::kNoHistory).ok());
  EXPECT_TRUE(terminals().GetTerminal({}, t.id)->presence->online);
  // Its own session's Will takes it offline; an empty version keeps the one recorded.
  ASSERT_TRUE(presence().ApplyLinkReports({Status(t.id, false, 5)}, {}, core::kNoHistory).ok());
  p = terminals().GetTerminal({}, t.id)->presence;
  EXPECT_FALSE(p->online);
  EXPECT_EQ(p->agent_version, "agent/1");
}

TEST_P(ContractTest, InOneBatchTheNewestSessionWins) {
  const core::Tenant a = NewTenant();
  const core::Terminal t = NewTerminal(NewMerchant(a.id), "S1");
  ASSERT_TRUE(presence()
                  .ApplyLinkReports({Status(t.id, true, 3), Status(t.id, false, 2)},
                                    {Heartbeat(t.id, 3, 40), Heartbeat(t.id, 3, 30)},
                                    core::kNoHistory)
                  .ok());
  auto p = terminals().GetTerminal({}, t.id)->presence;
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->online);
  EXPECT_EQ(p->health->battery_percent, 30);  // the last one on a tie
}

TEST_P(ContractTest, SilentTerminalsGoOfflineOnlyAfterTheTimeout) {
  const core::Tenant a = NewTenant();
  const core::Merchant m = NewMerchant(a.id);
  const core::Terminal t1 = NewTerminal(m, "S1");
  const core::Terminal t2 = NewTerminal(m, "S2");
  ASSERT_TRUE(
      presence()
          .ApplyLinkReports({}, {Heartbeat(t1.id, 1), Heartbeat(t2.id, 1)}, core::kNoHistory)
          .ok());
  EXPECT_EQ(*presence().MarkSilentOffline(absl::Hours(1)), 0);
  EXPECT_TRUE(terminals().GetTerminal({}, t1.id)->presence->online);
  EXPECT_EQ(*presence().MarkSilentOffline(absl::ZeroDuration()), 2);
  EXPECT_FALSE(terminals().GetTerminal({}, t1.id)->presence->online);
  EXPECT_EQ(*presence().MarkSilentOffline(absl::ZeroDuration()), 0);  // already offline
}

TEST_P(ContractTest, HealthHistoryIsSampledAndReadNewestFirstInScope) {
  const core::Tenant a = NewTenant();
  const core::Terminal t = NewTerminal(NewMerchant(a.id), "S1");
  for (int battery : {90, 80, 70}) {
    auto w = presence().ApplyLinkReports({}, {Heartbeat(t.id, 1, battery)}, absl::ZeroDuration());
    ASSERT_TRUE(w.ok()) << w.status();
    EXPECT_EQ(w->samples, 1);
  }
  // Not due: the last sample is younger than an hour.
  EXPECT_EQ(presence().ApplyLinkReports({}, {Heartbeat(t.id, 1, 60)}, absl::Hours(1))->samples, 0);
  auto page = presence().ListHealthHistory({a.id}, t.id, std::nullopt, std::nullopt, {0, 2});
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].health.battery_percent, 70);
  EXPECT_EQ(page->items[1].health.battery_percent, 80);
  EXPECT_TRUE(page->more);
  auto rest =
      presence().ListHealthHistory({a.id}, t.id, std::nullopt, std::nullopt, {page->last, 2});
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_EQ(rest->items[0].health.battery_percent, 90);
  auto before_first =
      presence().ListHealthHistory({a.id}, t.id, std::nullopt, rest->items[0].time, {0, 10});
  ASSERT_TRUE(before_first.ok());
  EXPECT_TRUE(before_first->items.empty());
  EXPECT_TRUE(absl::IsNotFound(
      presence()
          .ListHealthHistory({"ten_other"}, t.id, std::nullopt, std::nullopt, {0, 10})
          .status()));
}

TEST_P(ContractTest, ARecordIsStoredOnceAReplayIsAcknowledgedAndAConflictRefused) {
  const core::Tenant a = NewTenant();
  const core::Merchant m = NewMerchant(a.id);
  const core::Terminal t = NewTerminal(m, "S1");
  const core::Terminal off = NewTerminal(m, "S2", TerminalState::kSuspended);
  const absl::Time when = absl::Now() - absl::Hours(1);
  core::Txn first = Record(t.id, "tx-1", 1000, when);
  core::Txn replay = first;
  replay.seq = 9;  // a new outbox may number it anew: still the same record
  core::Txn conflict = Record(t.id, "tx-1", 2000, when);
  auto out = txns().IngestTransactions(
      {first, Record(off.id, "tx-9", 5, when), Record("trm_unknown", "tx-8", 5, when)});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->committed, (std::vector<bool>{true, false, false}));
  EXPECT_EQ(out->inserted, 1);
  EXPECT_EQ(out->inactive_terminal, 1);
  EXPECT_EQ(out->unknown_terminal, 1);
  out = txns().IngestTransactions({replay, conflict});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->committed, (std::vector<bool>{true, false}));
  EXPECT_EQ(out->conflict, (std::vector<bool>{false, true}));
  EXPECT_EQ(out->inserted, 0);
  EXPECT_EQ(out->duplicates, 1);
  EXPECT_EQ(out->conflicts, 1);

  core::TxnFilter f;
  f.scope = {a.id};
  f.start_time = when - absl::Hours(1);
  f.end_time = when + absl::Hours(1);
  auto listed = txns().ListTransactions(f, {0, 10});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 1u);
  const core::Txn& stored = listed->items[0];
  EXPECT_EQ(stored.amount_minor, 1000);
  EXPECT_EQ(stored.tenant_id, a.id);
  EXPECT_EQ(stored.merchant_id, m.id);
  EXPECT_EQ(stored.time, first.time);
  EXPECT_EQ(stored.masked_pan, "411111******1111");
  f.scope = {"ten_other"};
  EXPECT_TRUE(txns().ListTransactions(f, {0, 10})->items.empty());
}

TEST_P(ContractTest, TransactionsListNewestArrivalFirstAndTotalPerDay) {
  const core::Tenant a = NewTenant();
  const core::Merchant m = NewMerchant(a.id);
  const core::Terminal t = NewTerminal(m, "S1");
  const absl::Time day = absl::FromCivil(absl::CivilDay(2026, 11, 20), absl::UTCTimeZone());
  for (int i = 0; i < 3; ++i) {
    core::Txn r = Record(t.id, absl::StrCat("tx-", i), 100 * (i + 1), day + absl::Hours(i));
    if (i == 2) r.result = 2;
    ASSERT_TRUE(txns().IngestTransactions({r}).ok());
  }
  core::TxnFilter f;
  f.scope = {a.id};
  f.start_time = day;
  f.end_time = day + absl::Hours(24);
  auto page = txns().ListTransactions(f, {0, 2});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].txn_id, "tx-2");
  EXPECT_TRUE(page->more);
  auto rest = txns().ListTransactions(f, {page->last, 2});
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_EQ(rest->items[0].txn_id, "tx-0");
  f.result = 2;
  EXPECT_EQ(txns().ListTransactions(f, {0, 10})->items.size(), 1u);

  core::TxnReportFilter r;
  r.scope = {a.id};
  r.start_time = day;
  r.end_time = day + absl::Hours(24);
  auto totals = txns().DailyTotals(r);
  ASSERT_TRUE(totals.ok());
  ASSERT_EQ(totals->size(), 2u);
  EXPECT_EQ((*totals)[0].day, "2026-11-20");
  EXPECT_EQ((*totals)[0].result, 1);
  EXPECT_EQ((*totals)[0].count, 2);
  EXPECT_EQ((*totals)[0].amount_minor, 300);
  EXPECT_EQ((*totals)[0].terminal_id, "");
  EXPECT_EQ((*totals)[1].count, 1);
  r.by_terminal = true;
  EXPECT_EQ(txns().DailyTotals(r)->at(0).terminal_id, t.id);
}

TEST_P(ContractTest, AnOnlineTerminalWithoutRecentRecordsIsSilent) {
  const core::Tenant a = NewTenant();
  const core::Merchant m = NewMerchant(a.id);
  const core::Terminal busy = NewTerminal(m, "S1");
  const core::Terminal quiet = NewTerminal(m, "S2");
  NewTerminal(m, "S3");  // never online: not listed
  ASSERT_TRUE(
      presence()
          .ApplyLinkReports({}, {Heartbeat(busy.id, 1), Heartbeat(quiet.id, 1)}, core::kNoHistory)
          .ok());
  ASSERT_TRUE(txns().IngestTransactions({Record(busy.id, "tx-1", 1, absl::Now())}).ok());
  auto silent = txns().ListSilentTerminals({a.id}, "", absl::Hours(1), {0, 10});
  ASSERT_TRUE(silent.ok()) << silent.status();
  ASSERT_EQ(silent->items.size(), 1u);
  EXPECT_EQ(silent->items[0].terminal_id, quiet.id);
  EXPECT_FALSE(silent->items[0].last_transaction_time.has_value());
  EXPECT_TRUE(
      txns().ListSilentTerminals({"ten_other"}, "", absl::Hours(1), {0, 10})->items.empty());
}

}  // namespace
}  // namespace posfleet::testing
