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
  (*pan.mutable_versions())["note"] = "4111111111111111";
  auto r = DecodeUplink(kTopic + "/up/heartbeat", pan.SerializeAsString());
  EXPECT_EQ(Reason(r), "range");
  EXPECT_EQ(r.status().message().find("4111"), absl::string_view::npos);
  v1::Status zero;
  zero.set_terminal_id(kId);
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/status", zero.SerializeAsString())), "range");
  EXPECT_EQ(Reason(DecodeUplink(kTopic + "/up/txn", "x")), "unsupported");
}

}  // namespace
}  // namespace posfleet::link
