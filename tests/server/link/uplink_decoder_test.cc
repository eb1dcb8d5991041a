#include "server/link/uplink_decoder.h"

#include <gtest/gtest.h>

#include "posfleet/v1/link.pb.h"

namespace posfleet::link {
namespace {

constexpr char kId[] = "trm_abcdefghijklmnopqrst";
const std::string kTopic = std::string("posfleet/v1/t/") + kId;

std::string HeartbeatBytes(const std::string& id = kId, int battery = 80) {
  v1::Heartbeat hb;
  hb.set_terminal_id(id);
  hb.set_session(3);
  hb.set_battery_percent(battery);
  hb.set_temperature_c(41);
  hb.set_paper(v1::Heartbeat::PAPER_LOW);
  hb.set_signal_dbm(-71);
  hb.set_network("4g");
  hb.set_uptime_seconds(3600);
  (*hb.mutable_versions())["payment-app"] = "3.2.1";
  return hb.SerializeAsString();
}

std::string Reason(const absl::StatusOr<Uplink>& r) {
  return r.ok() ? "ok" : RejectReason(r.status());
}

TEST(UplinkDecoderTest, DecodesStatusAndHeartbeat) {
  v1::Status s;
  s.set_terminal_id(kId);
  s.set_online(true);
  s.set_session(7);
  s.set_agent_version("0.1.0");
  auto status = DecodeUplink(kTopic + "/up/status", s.SerializeAsString());
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(status->status.has_value());
  EXPECT_TRUE(status->status->online);
  EXPECT_EQ(status->status->session, 7);

  auto hb = DecodeUplink(kTopic + "/up/heartbeat", HeartbeatBytes());
  ASSERT_TRUE(hb.ok()) << hb.status();
  ASSERT_TRUE(hb->heartbeat.has_value());
  EXPECT_EQ(hb->heartbeat->health.battery_percent, 80);
  EXPECT_EQ(hb->heartbeat->health.paper, "low");
  EXPECT_EQ(hb->heartbeat->health.versions.at("payment-app"), "3.2.1");
}

TEST(UplinkDecoderTest, RejectsEachKindOfBadInputWithItsReason) {
  EXPECT_EQ(Reason(DecodeUplink("posfleet/v1/t/x/up/heartbeat", HeartbeatBytes())), "topic");
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/down/heartbeat", HeartbeatBytes())), "topic");
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/heartbeat/extra", HeartbeatBytes())), "topic");
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/selfie", HeartbeatBytes())), "topic");
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/heartbeat", std::string(70000, 'x'))), "size");
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/status", "")), "empty");
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/heartbeat", "\xff\xff\xff garbage")), "payload");
  EXPECT_EQ(
      Reason(DecodeUplink(kTopic + "/up/heartbeat", HeartbeatBytes("trm_bbbbbbbbbbbbbbbbbbbb"))),
      "terminal_id");
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/heartbeat", HeartbeatBytes(kId, 250))), "range");
  v1::Heartbeat pan;
  pan.ParseFromString(HeartbeatBytes());
  (*pan.mutable_versions())["note"] = "4111.1111.1111.1111";
  auto r = DecodeUplink(kTopic + "/up/heartbeat", pan.SerializeAsString());
  EXPECT_EQ(Reason(r), "text");
  EXPECT_EQ(r.status().message().find("4111"), absl::string_view::npos);
  EXPECT_NE(r.status().message().find("versions[note]"), absl::string_view::npos);
  // The same rule for every field: control characters, a card number in a Status.
  v1::Heartbeat nul;
  nul.ParseFromString(HeartbeatBytes());
  nul.set_network(std::string("lte\0x", 5));
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/heartbeat", nul.SerializeAsString())), "text");
  v1::Status status;
  status.set_terminal_id(kId);
  status.set_session(1);
  status.set_agent_version("4111 1111  1111 1111");
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/status", status.SerializeAsString())), "text");
  v1::Status zero;
  zero.set_terminal_id(kId);
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/status", zero.SerializeAsString())), "range");
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/txn", "x")), "payload");
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/event", "x")), "unsupported");
}

v1::TxnRecord Record(uint64_t seq, const std::string& txn_id) {
  v1::TxnRecord r;
  r.set_seq(seq);
  r.set_txn_id(txn_id);
  r.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  r.set_type(v1::TXN_TYPE_SALE);
  r.set_result(v1::TXN_RESULT_DECLINED);
  r.set_amount_minor(500);
  r.set_currency("GBP");
  r.set_masked_pan("476173******0119");
  return r;
}

// Every refusal reaches the server, even of a payload that was no set at all (no revision, no
// hash); an applied report must name both.
TEST(UplinkDecoderTest, AConfigRefusalMayNameNoSetButAnApplicationMust) {
  auto report = [](uint64_t revision, const std::string& hash, bool applied) {
    v1::ConfigReport r;
    r.set_terminal_id(kId);
    r.set_revision(revision);
    r.set_hash(hash);
    r.set_applied(applied);
    if (!applied) r.set_error("not a parameter set (3 bytes)");
    return DecodeUplink(kTopic + "/up/config-report", r.SerializeAsString());
  };
  const std::string hash(64, 'a');
  auto refused = report(0, "", false);
  ASSERT_TRUE(refused.ok()) << refused.status();
  ASSERT_TRUE(refused->config_report.has_value());
  EXPECT_FALSE(refused->config_report->applied);
  EXPECT_EQ(refused->config_report->revision, 0);
  EXPECT_EQ(Reason(report(7, hash, true)), "ok");
  EXPECT_EQ(Reason(report(7, hash, false)), "ok");
  EXPECT_EQ(Reason(report(0, hash, true)), "range");
  EXPECT_EQ(Reason(report(7, "", true)), "range");
  EXPECT_EQ(Reason(report(7, "ABC", false)), "range");
}

TEST(UplinkDecoderTest, ATxnBatchKeepsGoodRecordsAndSaysWhyOthersAreRefused) {
  v1::TxnBatch batch;
  batch.set_terminal_id(kId);
  batch.set_batch_id(7);
  *batch.add_records() = Record(1, "ok-1");
  v1::TxnRecord bad_currency = Record(2, "bad-2");
  bad_currency.set_currency("ZZZ");
  *batch.add_records() = bad_currency;
  v1::TxnRecord pan = Record(3, "pan-3");
  pan.set_auth_code("4111111111111111");  // too long anyway, but the card number comes first
  *batch.add_records() = pan;
  v1::TxnRecord pan_id = Record(4, "4111111111111111");
  *batch.add_records() = pan_id;
  v1::TxnRecord old = Record(5, "old-5");
  old.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(24 * 500)));
  *batch.add_records() = old;
  v1::TxnRecord negative = Record(6, "neg-6");
  negative.set_amount_minor(-1);
  *batch.add_records() = negative;
  DecodeLimits limits;
  limits.txn_earliest = absl::Now() - absl::Hours(24 * 400);
  limits.txn_latest = absl::Now() + absl::Hours(24);

  absl::StatusOr<Uplink> up = DecodeUplink(kTopic + "/up/txn", batch.SerializeAsString(), limits);
  ASSERT_TRUE(up.ok()) << up.status();
  ASSERT_TRUE(up->txn.has_value());
  EXPECT_EQ(up->txn->batch_id, 7u);
  ASSERT_EQ(up->txn->records.size(), 1u);
  EXPECT_EQ(up->txn->records[0].txn_id, "ok-1");
  EXPECT_EQ(up->txn->records[0].terminal_id, kId);
  EXPECT_EQ(up->txn->records[0].currency, "GBP");
  ASSERT_EQ(up->txn->rejected.size(), 5u);
  const auto& r = up->txn->rejected;
  EXPECT_EQ(r[0].field, "currency");
  EXPECT_FALSE(r[0].card_number);
  EXPECT_EQ(r[1].field, "auth_code");
  EXPECT_TRUE(r[1].card_number);
  EXPECT_EQ(r[1].txn_id, "pan-3");
  EXPECT_EQ(r[2].field, "txn_id");
  EXPECT_TRUE(r[2].card_number);
  EXPECT_EQ(r[2].txn_id, "");  // never echoed
  EXPECT_EQ(r[3].field, "time");
  EXPECT_EQ(r[4].field, "amount_minor");
  for (const TxnRejection& x : r) EXPECT_EQ(x.reason.find("4111"), std::string::npos);
}

TEST(UplinkDecoderTest, AnUnreadableTxnBatchIsRefusedWhole) {
  v1::TxnBatch batch;
  batch.set_terminal_id(kId);
  batch.set_batch_id(1);
  *batch.add_records() = Record(1, "a");
  *batch.add_records() = Record(1, "b");  // the same seq twice: cannot be acknowledged
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/txn", batch.SerializeAsString())), "range");
  batch.clear_records();
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/txn", batch.SerializeAsString())), "range");
  *batch.add_records() = Record(1, "a");
  batch.set_terminal_id("trm_bbbbbbbbbbbbbbbbbbbb");
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/txn", batch.SerializeAsString())), "terminal_id");
}

}  // namespace
}  // namespace posfleet::link
