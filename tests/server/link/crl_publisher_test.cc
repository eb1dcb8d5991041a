// Revocation end to end: a terminal enrolled through the API connects to a real broker; once it is
// retired and the CRL publisher has run, the broker refuses it, while other terminals still
// connect.

#include "server/link/crl_publisher.h"

#include <gtest/gtest.h>

#include <fstream>

#include "posfleet/v1/enrollment.grpc.pb.h"
#include "tests/support/api_harness.h"
#include "tests/support/test_broker.h"
#include "tests/support/test_postgres.h"
#include "tests/support/wait.h"

namespace posfleet {
namespace {

using testing::ApiHarness;
using testing::ClientCert;
using testing::TestBroker;

// Enrolls `serial` through the API and writes the agent's certificate and key to files.
ClientCert EnrollTerminal(ApiHarness& h, const std::string& merchant_id, const std::string& serial,
                          const std::string& dir, std::string* terminal_id) {
  *terminal_id = h.CreateTerminal(h.admin, merchant_id, serial).id();
  const ApiHarness::Enrolled enrolled = h.Enroll(*terminal_id, serial);
  const std::string base = dir + "/" + serial;
  std::ofstream(base + ".pem") << enrolled.certificate_pem;
  std::ofstream(base + ".key") << enrolled.key_pem;
  return {base + ".pem", base + ".key", pki::InspectCert(enrolled.certificate_pem)->serial};
}

TEST(CrlPublisherTest, ARetiredTerminalIsRefusedByTheBroker) {
  auto fleet_ca = pki::CreateCa("fleet CA", absl::Hours(24));
  ASSERT_TRUE(fleet_ca.ok());
  TestBroker broker(&*fleet_ca);
  ApiHarness h(&*fleet_ca);
  link::CrlPublisher publisher(*h.store, *fleet_ca, RealEnv(),
                               {broker.crl_file(), broker.pid_file(), absl::Seconds(1)});
  const v1::Tenant tenant = h.CreateTenant("acme");
  const v1::Merchant merchant = h.CreateMerchant(tenant.id(), "M1");
  char tmpl[] = "/tmp/posfleet-crl-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string retired_id, kept_id;
  const ClientCert retired = EnrollTerminal(h, merchant.id(), "SN1", tmpl, &retired_id);
  const ClientCert kept = EnrollTerminal(h, merchant.id(), "SN2", tmpl, &kept_id);
  EXPECT_NO_THROW(broker.Connect(retired, retired_id)->disconnect());

  v1::LifecycleRequest lr;
  lr.set_id(retired_id);
  v1::Terminal t;
  ASSERT_TRUE(h.terminals->RetireTerminal(ApiHarness::As(h.admin).get(), lr, &t).ok());
  auto wrote = publisher.PublishOnce();
  ASSERT_TRUE(wrote.ok()) << wrote.status();
  EXPECT_TRUE(*wrote);
  EXPECT_FALSE(*publisher.PublishOnce());  // nothing changed since

  EXPECT_TRUE(testing::WaitFor([&] {
    try {
      broker.Connect(retired, retired_id, 2)->disconnect();
      return false;
    } catch (const mqtt::exception&) {
      return true;
    }
  }));
  EXPECT_NO_THROW(broker.Connect(kept, kept_id)->disconnect());
  testing::Run(std::string("rm -rf ") + tmpl);
}

}  // namespace
}  // namespace posfleet
