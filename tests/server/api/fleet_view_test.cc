// Health filters, the fleet summary and WatchTerminals, against a real PostgreSQL: presence and
// health are written the way the link ingest writes them (Store::ApplyLinkReports).

#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "tests/support/api_harness.h"
#include "tests/support/wait.h"

namespace posfleet {
namespace {

using testing::ApiHarness;
using testing::WaitFor;

core::HealthReport Health(const std::string& id, int battery, const std::string& paper,
                          const std::string& app_version, int64_t uptime = 1) {
  core::HealthReport r{id, 1, {}};
  r.health.battery_percent = battery;
  r.health.paper = paper;
  r.health.uptime_seconds = uptime;
  if (!app_version.empty()) r.health.versions["payment-app"] = app_version;
  return r;
}

class FleetViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tenant_ = h_.CreateTenant("acme");
    merchant_ = h_.CreateMerchant(tenant_.id(), "M1");
    op_ = h_.CreateToken(v1::ROLE_OPERATOR, tenant_.id());
    viewer_ = h_.CreateToken(v1::ROLE_VIEWER, tenant_.id());
  }

  std::string Serials(v1::ListTerminalsRequest r, grpc::Status* status = nullptr) {
    v1::ListTerminalsResponse resp;
    grpc::Status s = h_.terminals->ListTerminals(ApiHarness::As(viewer_).get(), r, &resp);
    if (status) *status = s;
    std::string out;
    for (const auto& t : resp.terminals()) out += t.serial();
    return out;
  }

  ApiHarness h_;
  v1::Tenant tenant_;
  v1::Merchant merchant_;
  std::string op_, viewer_;
};

TEST_F(FleetViewTest, HealthFilters) {
  const v1::Terminal a = h_.CreateTerminal(op_, merchant_.id(), "A");
  const v1::Terminal b = h_.CreateTerminal(op_, merchant_.id(), "B");
  const v1::Terminal c = h_.CreateTerminal(op_, merchant_.id(), "C");
  h_.CreateTerminal(op_, merchant_.id(), "D");  // never connects
  h_.MarkActive({a.id(), b.id(), c.id()});
  ASSERT_TRUE(
      h_.store
          ->ApplyLinkReports({},
                             {Health(a.id(), 12, "out", "2.4.0"),
                              Health(b.id(), 80, "low", "2.3.1"), Health(c.id(), -1, "ok", "")},
                             core::kNoHistory)
          .ok());
  v1::ListTerminalsRequest r;
  r.set_battery_below(20);
  EXPECT_EQ(Serials(r), "A");
  r.set_battery_below(100);
  EXPECT_EQ(Serials(r), "AB");  // C has no battery, D never reported
  r.clear_battery_below();
  r.set_paper("out");
  EXPECT_EQ(Serials(r), "A");
  r.set_paper("low");
  EXPECT_EQ(Serials(r), "B");
  r.clear_paper();
  r.set_software("payment-app=2.4.0");
  EXPECT_EQ(Serials(r), "A");
  r.set_software("payment-app!=2.4.0");
  EXPECT_EQ(Serials(r), "BCD");  // what an update to 2.4.0 still has to reach
  r.set_paper("low");
  EXPECT_EQ(Serials(r), "B");  // filters combine

  grpc::Status status;
  for (const char* bad : {"payment-app", "=2.4.0", "payment-app=", "a b=1", "a=b=c"}) {
    v1::ListTerminalsRequest bad_req;
    bad_req.set_software(bad);
    Serials(bad_req, &status);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_NE(status.error_message().find("software"), std::string::npos) << bad;
  }
  v1::ListTerminalsRequest bad_paper;
  bad_paper.set_paper("jammed");
  Serials(bad_paper, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::ListTerminalsRequest bad_battery;
  bad_battery.set_battery_below(101);
  Serials(bad_battery, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(FleetViewTest, HealthHistoryPagesNewestFirstWithinTheTenant) {
  const v1::Terminal a = h_.CreateTerminal(op_, merchant_.id(), "A");
  h_.MarkActive({a.id()});
  ASSERT_TRUE(h_.store->MaintainHealthHistory(absl::Now(), 1, absl::Hours(24)).ok());
  for (int battery : {70, 60, 50}) {
    ASSERT_TRUE(
        h_.store
            ->ApplyLinkReports({}, {Health(a.id(), battery, "ok", "2.4.0")}, absl::ZeroDuration())
            .ok());
  }
  v1::ListHealthHistoryRequest req;
  req.set_id(a.id());
  req.set_page_size(2);
  v1::ListHealthHistoryResponse page;
  grpc::Status s = h_.terminals->ListHealthHistory(ApiHarness::As(viewer_).get(), req, &page);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(page.samples_size(), 2);
  EXPECT_EQ(page.samples(0).health().battery_percent(), 50);
  EXPECT_EQ(page.samples(0).health().versions().at("payment-app"), "2.4.0");
  EXPECT_EQ(page.samples(1).health().battery_percent(), 60);
  ASSERT_FALSE(page.next_page_token().empty());
  req.set_page_token(page.next_page_token());
  v1::ListHealthHistoryResponse rest;
  ASSERT_TRUE(h_.terminals->ListHealthHistory(ApiHarness::As(viewer_).get(), req, &rest).ok());
  ASSERT_EQ(rest.samples_size(), 1);
  EXPECT_EQ(rest.samples(0).health().battery_percent(), 70);
  EXPECT_TRUE(rest.next_page_token().empty());

  // The token belongs to these filters; another range needs a fresh start.
  req.mutable_start_time()->set_seconds(1);
  EXPECT_EQ(h_.terminals->ListHealthHistory(ApiHarness::As(viewer_).get(), req, &rest).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // An empty or backwards range is refused.
  req.clear_page_token();
  req.mutable_end_time()->set_seconds(1);
  s = h_.terminals->ListHealthHistory(ApiHarness::As(viewer_).get(), req, &rest);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("start_time"), std::string::npos);

  // Another tenant's technician cannot tell the terminal exists.
  const v1::Tenant other = h_.CreateTenant("other");
  const std::string tech = h_.CreateToken(v1::ROLE_TECHNICIAN, other.id());
  v1::ListHealthHistoryRequest foreign;
  foreign.set_id(a.id());
  EXPECT_EQ(
      h_.terminals->ListHealthHistory(ApiHarness::As(tech).get(), foreign, &rest).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(FleetViewTest, SummaryCountsOnlyTheCallersTenant) {
  const v1::Terminal a = h_.CreateTerminal(op_, merchant_.id(), "A", {{"region", "north"}});
  const v1::Terminal b = h_.CreateTerminal(op_, merchant_.id(), "B", {{"region", "north"}});
  const v1::Terminal c = h_.CreateTerminal(op_, merchant_.id(), "C", {{"region", "south"}});
  h_.MarkActive({a.id(), b.id(), c.id()});
  ASSERT_TRUE(
      h_.store
          ->ApplyLinkReports({{c.id(), false, 1, ""}},
                             {Health(a.id(), 5, "out", "2.4.0"), Health(b.id(), 50, "low", "2.3.1"),
                              Health(c.id(), 90, "ok", "2.4.0")},
                             core::kNoHistory)
          .ok());
  // Another tenant's terminal must not be counted.
  const v1::Tenant other = h_.CreateTenant("other");
  const v1::Merchant other_m = h_.CreateMerchant(other.id(), "M9");
  const std::string other_op = h_.CreateToken(v1::ROLE_OPERATOR, other.id());
  const v1::Terminal x = h_.CreateTerminal(other_op, other_m.id(), "X");
  h_.MarkActive({x.id()});
  ASSERT_TRUE(
      h_.store->ApplyLinkReports({}, {Health(x.id(), 1, "out", "9.9.9")}, core::kNoHistory).ok());

  v1::SummarizeFleetRequest req;
  v1::FleetSummary s;
  grpc::Status status = h_.terminals->SummarizeFleet(ApiHarness::As(viewer_).get(), req, &s);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(s.terminals(), 3);
  EXPECT_EQ(s.by_state().at("active"), 3);
  EXPECT_EQ(s.online(), 2);
  EXPECT_EQ(s.offline(), 1);
  EXPECT_EQ(s.never_seen(), 0);
  EXPECT_EQ(s.battery_low(), 1);
  EXPECT_EQ(s.paper_low(), 1);
  EXPECT_EQ(s.paper_out(), 1);
  ASSERT_EQ(s.software_size(), 2);
  EXPECT_EQ(s.software(0).version(), "2.3.1");
  EXPECT_EQ(s.software(0).terminals(), 1);
  EXPECT_EQ(s.software(1).version(), "2.4.0");
  EXPECT_EQ(s.software(1).terminals(), 2);
  ASSERT_EQ(s.by_model().size(), 1u);
  EXPECT_EQ(s.by_model().begin()->second, 3);

  req.set_label_selector("region=north");
  ASSERT_TRUE(h_.terminals->SummarizeFleet(ApiHarness::As(viewer_).get(), req, &s).ok());
  EXPECT_EQ(s.terminals(), 2);
  EXPECT_EQ(s.offline(), 0);
  req.set_label_selector("region in (");
  EXPECT_EQ(h_.terminals->SummarizeFleet(ApiHarness::As(viewer_).get(), req, &s).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// Reads a watch stream on its own thread and keeps what arrives.
class WatchReader {
 public:
  WatchReader(ApiHarness& h, const std::string& token, v1::WatchTerminalsRequest req)
      : ctx_(ApiHarness::As(token)) {
    reader_ = h.terminals->WatchTerminals(ctx_.get(), req);
    thread_ = std::thread([this] {
      v1::TerminalEvent e;
      while (reader_->Read(&e)) {
        absl::MutexLock lock(&mu_);
        events_.push_back(e);
      }
      grpc::Status s = reader_->Finish();
      absl::MutexLock lock(&mu_);
      status_ = s;
      done_ = true;
    });
  }
  ~WatchReader() {
    ctx_->TryCancel();
    thread_.join();
  }
  std::vector<v1::TerminalEvent> Events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  // Waits until an event satisfies `pred`; returns its index or -1.
  int WaitForEvent(const std::function<bool(const v1::TerminalEvent&)>& pred, size_t from = 0) {
    int found = -1;
    WaitFor([&] {
      std::vector<v1::TerminalEvent> events = Events();
      for (size_t i = from; i < events.size(); ++i) {
        if (pred(events[i])) {
          found = static_cast<int>(i);
          return true;
        }
      }
      return false;
    });
    return found;
  }
  bool Done(grpc::Status* status) {
    absl::MutexLock lock(&mu_);
    if (done_) *status = status_;
    return done_;
  }

 private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReader<v1::TerminalEvent>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<v1::TerminalEvent> events_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

bool Is(const v1::TerminalEvent& e, v1::TerminalEvent::Kind kind, const std::string& id = "") {
  return e.kind() == kind && (id.empty() || e.terminal().id() == id);
}

TEST_F(FleetViewTest, WatchSendsSnapshotThenOnlyMeaningfulChangesInTheSelector) {
  const v1::Terminal a = h_.CreateTerminal(op_, merchant_.id(), "A", {{"region", "north"}});
  const v1::Terminal b = h_.CreateTerminal(op_, merchant_.id(), "B", {{"region", "north"}});
  const v1::Terminal s = h_.CreateTerminal(op_, merchant_.id(), "S", {{"region", "south"}});
  h_.MarkActive({a.id(), b.id(), s.id()});
  ASSERT_TRUE(h_.store->ApplyLinkReports({{a.id(), true, 1, "1.0"}}, {}, core::kNoHistory).ok());
  // A terminal of another tenant, in a "north" region of its own.
  const v1::Tenant other = h_.CreateTenant("other");
  const v1::Merchant other_m = h_.CreateMerchant(other.id(), "M9");
  const v1::Terminal x = h_.CreateTerminal(h_.CreateToken(v1::ROLE_OPERATOR, other.id()),
                                           other_m.id(), "X", {{"region", "north"}});
  h_.MarkActive({x.id()});

  v1::WatchTerminalsRequest req;
  req.set_label_selector("region=north");
  req.set_snapshot(true);
  WatchReader watch(h_, viewer_, req);
  const int synced =
      watch.WaitForEvent([](const auto& e) { return Is(e, v1::TerminalEvent::KIND_SYNCED); });
  ASSERT_EQ(synced, 2) << "a snapshot of A and B, then SYNCED";
  std::vector<v1::TerminalEvent> events = watch.Events();
  EXPECT_TRUE(Is(events[0], v1::TerminalEvent::KIND_SNAPSHOT, a.id()));
  EXPECT_TRUE(events[0].terminal().presence().online());
  EXPECT_TRUE(Is(events[1], v1::TerminalEvent::KIND_SNAPSHOT, b.id()));

  // B comes online: one CHANGED event.
  ASSERT_TRUE(h_.store->ApplyLinkReports({{b.id(), true, 1, "1.0"}}, {}, core::kNoHistory).ok());
  int i = watch.WaitForEvent(
      [&](const auto& e) { return Is(e, v1::TerminalEvent::KIND_CHANGED, b.id()); }, 3);
  ASSERT_GE(i, 3);
  EXPECT_TRUE(watch.Events()[i].terminal().presence().online());

  // Uptime alone, a terminal outside the selector and another tenant's terminal: nothing is sent,
  // which shows as the next event being A's battery change.
  ASSERT_TRUE(
      h_.store->ApplyLinkReports({}, {Health(b.id(), -1, "", "", 5)}, core::kNoHistory).ok());
  ASSERT_TRUE(
      h_.store->ApplyLinkReports({}, {Health(b.id(), -1, "", "", 6)}, core::kNoHistory).ok());
  ASSERT_TRUE(
      h_.store->ApplyLinkReports({}, {Health(s.id(), 40, "ok", "1.0")}, core::kNoHistory).ok());
  ASSERT_TRUE(
      h_.store->ApplyLinkReports({}, {Health(x.id(), 40, "ok", "1.0")}, core::kNoHistory).ok());
  ASSERT_TRUE(
      h_.store->ApplyLinkReports({}, {Health(a.id(), 15, "ok", "1.0")}, core::kNoHistory).ok());
  const int battery = watch.WaitForEvent(
      [&](const auto& e) {
        return Is(e, v1::TerminalEvent::KIND_CHANGED, a.id()) &&
               e.terminal().presence().health().battery_percent() == 15;
      },
      i + 1);
  ASSERT_GE(battery, 0);
  events = watch.Events();
  // B's first heartbeat (health appears) may show; nothing from S or X, and B at most once.
  int b_events = 0;
  for (size_t k = i + 1; k < events.size(); ++k) {
    EXPECT_NE(events[k].terminal().id(), s.id());
    EXPECT_NE(events[k].terminal().id(), x.id());
    if (events[k].terminal().id() == b.id()) ++b_events;
  }
  EXPECT_LE(b_events, 1) << "an uptime-only heartbeat was sent as a change";

  // Silence: the sweep marks A offline and the watch says so.
  {
    pqxx::connection conn(h_.db_url);
    pqxx::nontransaction txn(conn);
    txn.exec_params(
        "UPDATE terminal_status SET last_seen = now() - interval '1 hour' "
        "WHERE terminal_id = $1",
        a.id());
  }
  ASSERT_EQ(*h_.store->MarkSilentOffline(absl::Minutes(5)), 1);
  EXPECT_GE(watch.WaitForEvent(
                [&](const auto& e) {
                  return Is(e, v1::TerminalEvent::KIND_CHANGED, a.id()) &&
                         !e.terminal().presence().online();
                },
                battery + 1),
            0);
}

TEST_F(FleetViewTest, WatchSurvivesTheFeedLosingItsDatabaseConnection) {
  const v1::Terminal a = h_.CreateTerminal(op_, merchant_.id(), "A");
  h_.MarkActive({a.id()});
  WatchReader watch(h_, viewer_, v1::WatchTerminalsRequest());
  ASSERT_EQ(watch.WaitForEvent([](const auto& e) { return Is(e, v1::TerminalEvent::KIND_SYNCED); }),
            0);
  {
    pqxx::connection conn(h_.db_url);
    pqxx::nontransaction txn(conn);
    const pqxx::result killed = txn.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND query LIKE 'LISTEN%'");
    ASSERT_EQ(killed.size(), 1u);
  }
  // Written while the feed may be down: the feed's resync after reconnecting still reports it.
  ASSERT_TRUE(h_.store->ApplyLinkReports({{a.id(), true, 3, "1.0"}}, {}, core::kNoHistory).ok());
  EXPECT_GE(watch.WaitForEvent([&](const auto& e) {
    return Is(e, v1::TerminalEvent::KIND_CHANGED, a.id()) && e.terminal().presence().online();
  }),
            1);
}

TEST_F(FleetViewTest, WatchWithoutSnapshotAndItsErrors) {
  const v1::Terminal a = h_.CreateTerminal(op_, merchant_.id(), "A");
  h_.MarkActive({a.id()});
  v1::WatchTerminalsRequest req;
  WatchReader watch(h_, viewer_, req);
  ASSERT_EQ(watch.WaitForEvent([](const auto& e) { return Is(e, v1::TerminalEvent::KIND_SYNCED); }),
            0);
  ASSERT_TRUE(h_.store->ApplyLinkReports({{a.id(), true, 7, "1.0"}}, {}, core::kNoHistory).ok());
  EXPECT_EQ(watch.WaitForEvent(
                [&](const auto& e) { return Is(e, v1::TerminalEvent::KIND_CHANGED, a.id()); }),
            1);

  req.set_label_selector("region in (");
  WatchReader bad(h_, viewer_, req);
  grpc::Status status;
  ASSERT_TRUE(WaitFor([&] { return bad.Done(&status); }));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  WatchReader anonymous(h_, "pft_not_a_token", v1::WatchTerminalsRequest());
  ASSERT_TRUE(WaitFor([&] { return anonymous.Done(&status); }));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace posfleet

namespace posfleet {
namespace {

// A long-lived stream re-checks its token: revoked, or its tenant deleted, the watch ends
// UNAUTHENTICATED within seconds instead of delivering events forever.
TEST(WatchCredentialsTest, AWatchEndsWhenItsTokenIsRevokedOrItsTenantDeleted) {
  ApiHarness h;
  const v1::Tenant tenant = h.CreateTenant("acme");
  const std::string viewer = h.CreateToken(v1::ROLE_VIEWER, tenant.id());
  v1::Token me;
  ASSERT_TRUE(h.tokens->WhoAmI(ApiHarness::As(viewer).get(), v1::WhoAmIRequest(), &me).ok());
  WatchReader revoked(h, viewer, v1::WatchTerminalsRequest());
  ASSERT_EQ(
      revoked.WaitForEvent([](const auto& e) { return Is(e, v1::TerminalEvent::KIND_SYNCED); }), 0);
  v1::RevokeTokenRequest r;
  r.set_id(me.id());
  v1::Token out;
  ASSERT_TRUE(h.tokens->RevokeToken(ApiHarness::As(h.admin).get(), r, &out).ok());
  grpc::Status status;
  ASSERT_TRUE(WaitFor([&] { return revoked.Done(&status); }, std::chrono::seconds(10)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();

  const v1::Tenant doomed = h.CreateTenant("doomed");
  const std::string other = h.CreateToken(v1::ROLE_VIEWER, doomed.id());
  WatchReader deleted(h, other, v1::WatchTerminalsRequest());
  ASSERT_EQ(
      deleted.WaitForEvent([](const auto& e) { return Is(e, v1::TerminalEvent::KIND_SYNCED); }), 0);
  v1::DeleteTenantRequest d;
  d.set_id(doomed.id());
  google::protobuf::Empty empty;
  ASSERT_TRUE(h.tenants->DeleteTenant(ApiHarness::As(h.admin).get(), d, &empty).ok());
  ASSERT_TRUE(WaitFor([&] { return deleted.Done(&status); }, std::chrono::seconds(10)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
}

}  // namespace
}  // namespace posfleet
