#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/config_store.h"
#include "agent/core/renewal.h"
#include "agent/core/state_machine.h"
#include "agent/enrollment_client.h"
#include "agent/health.h"
#include "agent/mqtt_connection.h"
#include "agent/outbox.h"
#include "agent/state_dir.h"
#include "agent/txn_uploader.h"
#include "common/env.h"
#include "common/logging.h"
#include "common/pki.h"
#include "posfleet/v1/txn.pb.h"

namespace posfleet::agent {

struct AgentOptions {
  std::string state_dir;
  std::string server;  // posfleet-server's terminal listener (--device-listen): enrollment, renewal
  // PEM bundle the server's TLS certificate must chain to. Required: a terminal enrolls and
  // renews only with a server it has authenticated.
  std::string server_ca;
  // PEM bundle of the fleet CAs the terminal may accept from the server for its broker (the
  // enrollment answer's CA must be one of them); empty: the certificates of server_ca.
  std::string fleet_ca;
  // Enrolls over plaintext gRPC without checking whom it talks to (anyone on the network can
  // hand the terminal a CA and broker of their own). For development only; logged as such.
  bool insecure_plaintext_for_development = false;
  // A group whose members may use the local API besides this user: the state directory becomes
  // 0710 of that group so they can reach the socket (every file inside stays 0600).
  std::optional<gid_t> local_api_group;
  std::string vendor;
  std::string serial;
  std::string activation_code;  // needed only until the terminal has enrolled
  absl::Duration heartbeat_interval = absl::Seconds(30);
  absl::Duration backoff_base = absl::Seconds(1);
  absl::Duration backoff_cap = absl::Seconds(60);
  // Time, waits and jitter: when the certificate is due, heartbeats, backoff and ack timeouts.
  // RealEnv() if null.
  Env* env = nullptr;
  // The I/O thread of the MQTT connection, shared by many agents in posfleet-sim; the agent makes
  // its own if null.
  MqttLoop* loop = nullptr;
  // Transactions. The outbox is STATE_DIR/outbox.db (SQLite) unless one is given (posfleet-sim
  // gives an in-memory one).
  Outbox* outbox = nullptr;
  uint64_t outbox_capacity = 100000;
  size_t txn_batch_records = 200;  // records per up/txn message at most (and about 48 KiB)
  // Batches sent and not acknowledged at most; of those, only one that is not full.
  int txn_window = 4;
  // A batch not acknowledged this long is sent again (with everything after it).
  absl::Duration ack_timeout = absl::Seconds(15);
  // When a server announces it reads again (posfleet/v1/server/ready), what is in flight is sent
  // again after a random delay up to this, so that a fleet does not answer all at once.
  absl::Duration ready_resend_spread = absl::Seconds(1);
  // Called on the agent's thread for each record the server committed, with the time from
  // RecordTransaction to the ack (posfleet-sim's latency figures).
  std::function<void(absl::Duration)> on_committed;
};

struct OutboxStats {
  uint64_t records = 0;
  uint64_t capacity = 0;
  uint64_t in_flight = 0;
  uint64_t acknowledged = 0;
  uint64_t rejected = 0;
  uint64_t refused_full = 0;
  bool connected = false;
  std::optional<absl::Time> oldest;
};

// One terminal's agent: enrolls once, then keeps an MQTT session to the broker with a Last Will,
// an online status and periodic heartbeats, reconnecting with jittered exponential backoff, and
// renews its certificate (with a new key) once two thirds of its validity have passed. The
// states and their order are agent/core/state_machine.h; this class does the I/O of each state.
class Agent {
 public:
  Agent(AgentOptions options, HealthProvider& health);
  ~Agent();

  // Opens the state directory and the outbox; Run does it if not done before. Call it before
  // serving the local API, so that records can be taken while the terminal is still offline.
  absl::Status Open();

  // Takes a transaction record from the payment application: checks it (InvalidArgument naming
  // the field, never echoing a card number), then stores it durably in the outbox
  // (ResourceExhausted when full). Safe from any thread; the upload happens on Run's thread.
  absl::StatusOr<OutboxAdd> RecordTransaction(v1::TxnRecord record);
  // Several at once, in one outbox transaction: all are checked first, then stored together (a
  // backlog handed over at once, e.g. after the payment app's own store was repaired).
  absl::StatusOr<std::vector<OutboxAdd>> RecordTransactions(std::vector<v1::TxnRecord> records);
  OutboxStats Stats();
  // Connections attempted since start (each takes a session number).
  uint64_t connect_attempts() const { return connect_attempts_.load(); }
  std::vector<OutboxRejection> Rejected();
  // The payment app's busy flag (a payment in progress); later issues defer disruptive work on it.
  void SetBusy(bool busy) { busy_.store(busy); }
  bool busy() const { return busy_.load(); }

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
  // Why the last enrollment attempt failed (OK before any, or once enrolled); for the local API
  // and tests.
  absl::Status last_enroll_error() const;
  // The parameter set in force (down/config), for the local API.
  const ConfigStore& config() const { return config_; }
  Env& env() const { return env_; }

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
  absl::Status PublishHeartbeat();
  void Fire(Event event);
  // Transactions, on Run's thread while online: hands the acks and broker signals that arrived
  // to uploader_, which settles, re-sends what timed out and sends new batches.
  void PumpTransactions();
  // One pass of Run in each state that does more than fire an event: enrolling (an error that
  // is not transient ends Run), connecting (or renewing or expiring first), renewing, online.
  absl::Status StepEnrolling();
  void StepConnecting();
  void StepRenewing();
  void StepOnline();
  void OnAck(const std::string& payload);     // loop thread: queue and wake
  void OnConfig(const std::string& payload);  // loop thread: keep the newest and wake
  // Applies the newest down/config received and reports on up/config-report.
  void ApplyReceivedConfig();
  absl::Time NextTxnDeadline() const;
  // Waits up to `d`; returns early when stopped or when the connection is lost.
  // Waits up to `d`, or until something needs the loop (a payment, an ack, a lost connection).
  void Wait(absl::Duration d);
  // Waits `d` by the agent's clock, for nothing but a stop: a backoff holds whatever the local
  // API does (recording payments must not bring the next connect attempt forward).
  void WaitBackoff(absl::Duration d);

  const AgentOptions options_;
  Env& env_;
  HealthProvider& health_;
  EnrollmentClient enrollment_;
  StateDir dir_;
  ConfigStore config_{dir_, env_};
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
  std::unique_ptr<Outbox> own_outbox_;
  Outbox* outbox_ = nullptr;
  bool opened_ = false;
  std::optional<TxnUploader> uploader_;  // from Open(); Run's thread only
  absl::Time next_heartbeat_ = absl::InfinitePast();
  std::atomic<bool> busy_{false};
  std::atomic<uint64_t> acknowledged_{0};
  std::atomic<uint64_t> rejected_{0};
  std::atomic<uint64_t> refused_full_{0};
  std::atomic<uint64_t> in_flight_{0};
  std::atomic<uint64_t> connect_attempts_{0};
  LogThrottle connect_log_{absl::Minutes(1)};  // Run's thread only

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kUnenrolled;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
  bool unheard_ ABSL_GUARDED_BY(mu_) = false;       // a PUBACK said: no matching subscribers
  bool server_ready_ ABSL_GUARDED_BY(mu_) = false;  // a server announced it reads again
  bool drop_ ABSL_GUARDED_BY(mu_) = false;
  bool kill_ ABSL_GUARDED_BY(mu_) = false;
  bool frozen_ ABSL_GUARDED_BY(mu_) = false;
  bool txn_wake_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status last_enroll_error_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> acks_in_ ABSL_GUARDED_BY(mu_);
  std::optional<std::string> config_in_ ABSL_GUARDED_BY(mu_);
};

}  // namespace posfleet::agent
