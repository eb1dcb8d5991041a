#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/env.h"
#include "common/periodic.h"
#include "common/pki.h"
#include "server/core/repositories/enrollment.h"

namespace posfleet::link {

struct CrlPublisherOptions {
  std::string crl_file;         // where the broker reads its CRL (written atomically)
  std::string broker_pid_file;  // the broker to SIGHUP after a change; empty: none
  absl::Duration poll = absl::Seconds(5);
  absl::Duration validity = absl::Hours(24);  // the CRL's nextUpdate; rewritten at half of it
};

// Keeps the broker's CRL in step with the certificates revoked in the database (re-enrollment of a
// replaced terminal, retirement), so a revoked terminal is refused at its next connect.
class CrlPublisher {
 public:
  CrlPublisher(core::EnrollmentRepository& store, pki::CertAndKey ca, Env& env,
               CrlPublisherOptions options);
  ~CrlPublisher();

  // Writes the CRL and signals the broker if the revoked set changed since the last write or the
  // CRL is past half its validity. Returns whether it wrote.
  absl::StatusOr<bool> PublishOnce();

  // Runs PublishOnce every `poll` on a background thread until Stop (or destruction).
  void Start();
  void Stop();

 private:
  // One run, its failure logged (the loop's work).
  void RunLogged();

  absl::Status Write(const std::string& pem);
  absl::Status SignalBroker();

  core::EnrollmentRepository& store_;
  const pki::CertAndKey ca_;
  Env& env_;
  const CrlPublisherOptions options_;
  absl::Mutex mu_;
  std::string last_fingerprint_ ABSL_GUARDED_BY(mu_);
  absl::Time last_write_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Last: stopped (by the destructor's Stop) before the members it uses go.
  Periodic loop_{env_, options_.poll, Periodic::First::kNow, [this] { RunLogged(); }};
};

}  // namespace posfleet::link
