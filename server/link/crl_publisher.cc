#include "server/link/crl_publisher.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/logging.h"

namespace posfleet::link {

CrlPublisher::CrlPublisher(core::EnrollmentRepository& store, pki::CertAndKey ca, Env& env,
                           CrlPublisherOptions options)
    : store_(store), ca_(std::move(ca)), env_(env), options_(std::move(options)) {}

CrlPublisher::~CrlPublisher() { Stop(); }

absl::StatusOr<bool> CrlPublisher::PublishOnce() {
  absl::StatusOr<std::vector<pki::Revoked>> revoked = store_.RevokedCertificates();
  if (!revoked.ok()) return revoked.status();
  std::string fingerprint;
  for (const pki::Revoked& r : *revoked) absl::StrAppend(&fingerprint, r.serial, ";");
  absl::MutexLock lock(&mu_);
  const bool fresh = env_.Now() - last_write_ < options_.validity / 2;
  if (fingerprint == last_fingerprint_ && fresh) return false;
  absl::StatusOr<std::string> crl = pki::MakeCrl(ca_, *revoked, options_.validity);
  if (!crl.ok()) return crl.status();
  if (absl::Status s = Write(*crl); !s.ok()) return s;
  const bool changed = fingerprint != last_fingerprint_;
  last_fingerprint_ = fingerprint;
  last_write_ = env_.Now();
  if (absl::Status s = SignalBroker(); !s.ok()) return s;
  if (changed) spdlog::info("CRL published: {} revoked certificate(s)", revoked->size());
  return true;
}

absl::Status CrlPublisher::Write(const std::string& pem) {
  // Write a sibling and rename it over the target: the broker never reads half a CRL.
  const std::string tmp = options_.crl_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << pem;
    out.flush();
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), options_.crl_file.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot replace ", options_.crl_file));
  }
  return absl::OkStatus();
}

absl::Status CrlPublisher::SignalBroker() {
  if (options_.broker_pid_file.empty()) return absl::OkStatus();
  std::ifstream in(options_.broker_pid_file);
  std::string text;
  std::getline(in, text);
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid) || pid <= 1) {
    return absl::UnavailableError(
        absl::StrCat("broker pid file ", options_.broker_pid_file, " holds no pid"));
  }
  if (kill(pid, SIGHUP) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot signal the broker (pid ", pid, ")"));
  }
  return absl::OkStatus();
}

void CrlPublisher::RunLogged() {
  absl::StatusOr<bool> wrote = PublishOnce();
  if (!wrote.ok()) spdlog::warn("CRL not published: {}", wrote.status().ToString());
}

void CrlPublisher::Start() { loop_.Start(); }

void CrlPublisher::Stop() { loop_.Stop(); }

}  // namespace posfleet::link
