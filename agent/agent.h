#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <random>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/core/renewal.h"
#include "agent/core/state_machine.h"
#include "agent/health.h"
#include "agent/mqtt_connection.h"
#include "agent/state_dir.h"
#include "common/clock.h"
#include "common/pki.h"

namespace posfleet::agent {

struct AgentOptions {
  std::string state_dir;
  std::string server;     // posfleet-server gRPC address, for enrollment
  std::string server_ca;  // PEM file to verify the server's TLS certificate; empty: plaintext
  std::string vendor;
  std::string serial;
  std::string activation_code;  // needed only until the terminal has enrolled
  absl::Duration heartbeat_interval = absl::Seconds(30);
  absl::Duration backoff_base = absl::Seconds(1);
  absl::Duration backoff_cap = absl::Seconds(60);
  // Decides when the certificate is due for renewal or expired; the system clock if null.
  Clock* clock = nullptr;
  // The I/O thread of the MQTT connection, shared by many agents in posfleet-sim; the agent makes
  // its own if null.
  MqttLoop* loop = nullptr;
};

// One terminal's agent: enrolls once, then keeps an MQTT session to the broker with a Last Will,
// an online status and periodic heartbeats, reconnecting with jittered exponential backoff, and
// renews its certificate (with a new key) once two thirds of its validity have passed. The
// states and their order are agent/core/state_machine.h; this class does the I/O of each state.
class Agent {
 public:
  Agent(AgentOptions options, HealthProvider& health);
  ~Agent();

  // Runs until Stop (OK), or until enrollment is refused (the code is wrong, used or expired: a
  // technician must issue a new one), the certificate expired before it could be renewed
  // (FailedPrecondition: a new code is needed) or the state directory is unusable.
  absl::Status Run();
  // Makes Run publish an offline status, disconnect and return. Safe from any thread.
  void Stop();
  // Simulates losing the network: says offline, disconnects, and lets the state machine back off
  // and reconnect with a new session. For posfleet-sim's flapping terminals.
  void DropConnection();
  // Simulates losing power: Run ends the session without a goodbye (the broker publishes the
  // Last Will, exactly as for a dead connection) and returns. For posfleet-sim.
  void Kill();
  // Simulates a hung terminal: the connection stays up but no heartbeats are sent while frozen.
  void SetFrozen(bool frozen);
  bool frozen() const;

  State state() const;
  std::string terminal_id() const;

 private:
  absl::Status SetIdentity(Identity identity);
  std::string StatusPayload(bool online) const;
  absl::Status Enroll();
  absl::Status Renew();
  // Connects with the current identity, closing a session that still uses an older one; a live
  // session with the current identity is kept as it is.
  absl::Status Connect();
  // Ends the session: with a goodbye (an offline status, then DISCONNECT), or, when killed, with
  // a DISCONNECT that asks the broker to publish the Last Will (MQTT 5 reason code 0x04).
  void Disconnect();
  // What the certificate needs now; kKeep also while a failed renewal waits for its next try.
  CertificateAction CertificateNeeds();
  std::unique_ptr<grpc::ClientContext> ServerCall() const;
  std::shared_ptr<grpc::Channel> ServerChannel() const;
  absl::Status PublishHeartbeat();
  void Fire(Event event);
  // Waits up to `d`; returns early when stopped or when the connection is lost.
  void Wait(absl::Duration d);

  const AgentOptions options_;
  Clock& clock_;
  HealthProvider& health_;
  StateDir dir_;
  std::string activation_code_;  // spent once enrollment succeeds
  std::optional<Identity> identity_;
  std::optional<pki::CertInfo> certificate_;  // of identity_
  std::string stopped_because_;               // why an enrolled agent went back to unenrolled
  std::unique_ptr<MqttLoop> own_loop_;
  MqttLoop& loop_;
  std::unique_ptr<MqttConnection> link_;
  std::string link_certificate_;  // the certificate link_ connected with
  uint64_t session_ = 0;
  int attempt_ = 0;
  int renew_attempt_ = 0;
  absl::Time next_renewal_ = absl::InfinitePast();
  std::mt19937_64 rng_;

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kUnenrolled;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
  bool drop_ ABSL_GUARDED_BY(mu_) = false;
  bool kill_ ABSL_GUARDED_BY(mu_) = false;
  bool frozen_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace posfleet::agent
