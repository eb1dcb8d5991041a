#include "tests/support/test_broker.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "tests/support/test_postgres.h"

namespace posfleet::testing {
namespace {

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) {
    std::cerr << "test broker: cannot write " << path << "\n";
    std::abort();
  }
}

template <typename T>
T Must(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) {
    std::cerr << "test broker: " << what << ": " << v.status() << "\n";
    std::abort();
  }
  return *std::move(v);
}

}  // namespace

TestBroker::TestBroker(const pki::CertAndKey* ca) {
  char tmpl[] = "/tmp/posfleet-mqtt-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) std::abort();
  dir_ = tmpl;
  Run("mkdir -p " + dir_ + "/certs " + dir_ + "/clients && chmod 755 " + dir_);
  ca_ = ca ? *ca : Must(pki::CreateCa("posfleet test fleet CA", absl::Hours(24)), "CA");
  const std::string key = Must(pki::NewPrivateKey(), "broker key");
  const std::string csr = Must(pki::MakeCsr(key, "broker"), "broker CSR");
  const pki::Issued broker = Must(pki::SignCsr(ca_, csr, "broker", absl::Hours(24),
                                               pki::Usage::kServer, {"127.0.0.1", "localhost"}),
                                  "broker certificate");
  Write(dir_ + "/certs/ca.pem", ca_.cert_pem);
  Write(dir_ + "/certs/broker.pem", broker.cert_pem);
  Write(dir_ + "/certs/broker.key", key);
  Write(dir_ + "/certs/crl.pem", Must(pki::MakeCrl(ca_, {}, absl::Hours(24)), "CRL"));
  port_ = FreePort();
  Start();
}

void TestBroker::Start() {
  const std::string cmd = absl::StrCat(SourceDir(), "/tools/lib/mosquitto-local start ", dir_, " ",
                                       port_, " ", BuildDir(), "/broker/posfleet_mosquitto.so");
  if (Run(cmd) != 0) {
    std::cerr << "test broker: could not start: " << cmd << "\n";
    std::abort();
  }
}

void TestBroker::Stop() {
  Run(absl::StrCat(SourceDir(), "/tools/lib/mosquitto-local stop ", dir_));
}

TestBroker::~TestBroker() {
  Run(absl::StrCat(SourceDir(), "/tools/lib/mosquitto-local stop ", dir_));
  Run("rm -rf " + dir_);
}

std::string TestBroker::address() const { return absl::StrCat("ssl://127.0.0.1:", port_); }

ClientCert TestBroker::Issue(const std::string& common_name, const pki::CertAndKey* ca,
                             pki::Usage usage, absl::Time not_before) {
  const std::string key = Must(pki::NewPrivateKey(), "client key");
  const std::string csr = Must(pki::MakeCsr(key, common_name), "client CSR");
  const pki::Issued cert =
      Must(pki::SignCsr(ca ? *ca : ca_, csr, common_name, absl::Hours(24), usage, {}, not_before),
           "client certificate");
  const std::string base = absl::StrCat(dir_, "/clients/", ++issued_);
  Write(base + ".pem", cert.cert_pem);
  Write(base + ".key", key);
  return {base + ".pem", base + ".key", cert.serial};
}

std::unique_ptr<mqtt::client> TestBroker::Connect(const ClientCert& cert,
                                                  const std::string& client_id, int timeout_seconds,
                                                  mqtt::callback* callback) const {
  auto c = std::make_unique<mqtt::client>(address(), client_id);
  if (callback != nullptr) c->set_callback(*callback);
  auto ssl = mqtt::ssl_options_builder().trust_store(ca_file()).enable_server_cert_auth(true);
  if (!cert.cert_file.empty()) ssl.key_store(cert.cert_file).private_key(cert.key_file);
  auto opts = mqtt::connect_options_builder()
                  .ssl(ssl.finalize())
                  .clean_session(true)
                  .mqtt_version(MQTTVERSION_3_1_1)  // no silent retry with 3.1
                  .connect_timeout(std::chrono::seconds(timeout_seconds))
                  .finalize();
  c->connect(opts);
  return c;
}

void TestBroker::Revoke(const std::string& serial) {
  revoked_.push_back({serial, absl::Now()});
  Write(dir_ + "/certs/crl.pem", Must(pki::MakeCrl(ca_, revoked_, absl::Hours(24)), "CRL"));
  Run(absl::StrCat(SourceDir(), "/tools/lib/mosquitto-local reload ", dir_));
}

}  // namespace posfleet::testing
