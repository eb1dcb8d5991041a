#include "agent/mqtt_connection.h"

#include <dlfcn.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "common/env.h"
#include "common/logging.h"

namespace posfleet::agent {
namespace {

// libmosquitto makes a socket pair in every mosquitto_new(), for waking its own select() loop,
// and carries on without one when that fails ("outgoing publish commands may be delayed", which
// only concerns that loop). Our loop never uses it, and two descriptors per terminal are what
// stand between posfleet-sim and 10,000 terminals where a process may hold 20,000 descriptors.
// So socketpair() fails while this thread is inside mosquitto_new() (tests/agent/
// mqtt_connection_test.cc counts one descriptor per connection), and works everywhere else.
thread_local bool refuse_socketpair = false;

}  // namespace
}  // namespace posfleet::agent

extern "C" int socketpair(int domain, int type, int protocol, int sv[2]) {
  if (posfleet::agent::refuse_socketpair) {
    errno = EMFILE;
    return -1;
  }
  using Fn = int (*)(int, int, int, int*);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "socketpair"));
  return real(domain, type, protocol, sv);
}

namespace posfleet::agent {

// The outcome of one call that the loop thread completes.
struct MqttConnection::Waiter {
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  absl::Status status ABSL_GUARDED_BY(mu);

  void Complete(absl::Status s) {
    absl::MutexLock lock(&mu);
    if (done) return;
    done = true;
    status = std::move(s);
  }
};

struct MosquittoCallbacks {
  static void Connect(struct mosquitto*, void* self, int rc, int, const mosquitto_property*) {
    static_cast<MqttConnection*>(self)->Connected(rc);
  }
  static void Disconnect(struct mosquitto*, void* self, int rc, const mosquitto_property*) {
    static_cast<MqttConnection*>(self)->Disconnected(rc);
  }
  static void Publish(struct mosquitto*, void* self, int mid, int reason,
                      const mosquitto_property*) {
    static_cast<MqttConnection*>(self)->Acknowledged(mid, reason);
  }
  static void Subscribe(struct mosquitto*, void* self, int mid, int count, const int* granted,
                        const mosquitto_property*) {
    // One topic per SUBSCRIBE; a granted QoS of 0x80 or more is a refusal (e.g. the ACL).
    static_cast<MqttConnection*>(self)->Acknowledged(mid, count > 0 ? granted[0] : 0x80);
  }
  static void Message(struct mosquitto*, void* self, const struct mosquitto_message* m,
                      const mosquitto_property*) {
    auto* c = static_cast<MqttConnection*>(self);
    if (c->on_message_ && m->topic != nullptr) {
      c->on_message_(m->topic, std::string(static_cast<const char*>(m->payload),
                                           static_cast<size_t>(m->payloadlen)));
    }
  }
};

namespace {

// A marker for the wake-up descriptor in epoll's data.
char kWakeMarker;

void InitLibrary() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

constexpr char kRefusedInHandshake[] =
    "the broker closed the connection during the TLS handshake: it refused this certificate "
    "(revoked, expired or from another CA), or it is shutting down";

std::string MosquittoError(int rc) {
  return rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc);
}

}  // namespace

absl::Status ParseBrokerAddress(const std::string& address, std::string* host, int* port) {
  absl::string_view rest = address;
  if (!absl::ConsumePrefix(&rest, "ssl://")) absl::ConsumePrefix(&rest, "mqtts://");
  const size_t colon = rest.rfind(':');
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(rest.substr(colon + 1), port) || *port <= 0 || *port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker address \"", address, "\": expected ssl://host:port"));
  }
  *host = std::string(rest.substr(0, colon));
  return absl::OkStatus();
}

// ---- MqttLoop ----

MqttLoop::MqttLoop() {
  InitLibrary();
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &kWakeMarker;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { Run(); });
}

MqttLoop::~MqttLoop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  thread_.join();
  close(wake_fd_);
  close(epoll_fd_);
}

size_t MqttLoop::size() const {
  absl::MutexLock lock(&mu_);
  return size_;
}

void MqttLoop::Post(std::function<void()> task) {
  bool first;
  {
    absl::MutexLock lock(&mu_);
    first = tasks_.empty();
    tasks_.push_back(std::move(task));
  }
  // One wake-up per batch, not per task: a non-empty queue has not been swapped out since the
  // task that found it empty wrote the eventfd, and Run reads that before it swaps.
  if (first) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
}

void MqttLoop::Watch(MqttConnection* c, int fd) {
  epoll_event ev{};
  ev.events = EPOLLOUT;  // writable once the TCP connect completes (or fails)
  ev.data.ptr = c;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  c->interest_ = ev.events;
  if (live_.insert(c).second) {
    absl::MutexLock lock(&mu_);
    ++size_;
  }
}

void MqttLoop::Forget(MqttConnection* c) {
  if (live_.erase(c) > 0) {
    absl::MutexLock lock(&mu_);
    --size_;
  }
}

void MqttLoop::SetInterest(MqttConnection* c, int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = c;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
}

void MqttLoop::Run() {
  constexpr int kMaxEvents = 512;
  epoll_event events[kMaxEvents];
  absl::Time next_tick = NetworkNow() + absl::Seconds(1);
  while (true) {
    const int64_t wait_ms =
        std::max<int64_t>(0, absl::ToInt64Milliseconds(next_tick - NetworkNow()));
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, static_cast<int>(wait_ms));
    // Reset the wake-up before taking the tasks: a task posted after the swap then wakes the
    // next epoll_wait instead of waiting for the tick.
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == &kWakeMarker) {
        uint64_t count;
        (void)!read(wake_fd_, &count, sizeof(count));
      }
    }
    std::vector<std::function<void()>> tasks;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      tasks.swap(tasks_);
    }
    for (auto& task : tasks) task();
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == &kWakeMarker) continue;
      auto* c = static_cast<MqttConnection*>(events[i].data.ptr);
      // An event may name a connection closed earlier in this batch.
      if (live_.count(c) > 0) c->OnReady(events[i].events);
    }
    if (NetworkNow() >= next_tick) {
      // Keep-alive pings and their timeouts, about once a second as libmosquitto asks.
      std::vector<MqttConnection*> all(live_.begin(), live_.end());
      for (MqttConnection* c : all) {
        if (live_.count(c) > 0) c->OnTick();
      }
      next_tick = NetworkNow() + absl::Seconds(1);
    }
  }
}

// ---- MqttConnection ----

MqttConnection::MqttConnection(MqttLoop& loop, std::function<void(const std::string&)> on_lost)
    : loop_(loop), on_lost_(std::move(on_lost)) {}

MqttConnection::~MqttConnection() {
  auto done = std::make_shared<absl::Notification>();
  loop_.Post([this, done] {
    Close();
    done->Notify();
  });
  done->WaitForNotification();
}

bool MqttConnection::connected() const {
  absl::MutexLock lock(&mu_);
  return connected_;
}

absl::Status MqttConnection::Await(const std::function<void(std::shared_ptr<Waiter>)>& task,
                                   absl::Duration timeout) {
  auto waiter = std::make_shared<Waiter>();
  loop_.Post([task, waiter] { task(waiter); });
  absl::MutexLock lock(&waiter->mu);
  auto done = [&waiter]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(waiter->mu) { return waiter->done; };
  // An answer from the broker: network time, whatever the agent's Env.
  if (!waiter->mu.AwaitWithDeadline(absl::Condition(&done), NetworkNow() + timeout)) {
    waiter->done = true;  // a late completion is dropped
    return absl::DeadlineExceededError(
        absl::StrCat("MQTT: no answer within ", absl::FormatDuration(timeout)));
  }
  return waiter->status;
}

absl::Status MqttConnection::Connect(const MqttOptions& o, absl::Duration timeout) {
  absl::Status s = Await(
      [this, o](std::shared_ptr<Waiter> waiter) {
        refuse_socketpair = true;
        mosq_ = mosquitto_new(o.client_id.c_str(), /*clean_session=*/true, this);
        refuse_socketpair = false;
        if (mosq_ == nullptr)
          return waiter->Complete(absl::ResourceExhaustedError("MQTT: no memory"));
        mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
        mosquitto_connect_v5_callback_set(mosq_, &MosquittoCallbacks::Connect);
        mosquitto_disconnect_v5_callback_set(mosq_, &MosquittoCallbacks::Disconnect);
        mosquitto_publish_v5_callback_set(mosq_, &MosquittoCallbacks::Publish);
        mosquitto_subscribe_v5_callback_set(mosq_, &MosquittoCallbacks::Subscribe);
        mosquitto_message_v5_callback_set(mosq_, &MosquittoCallbacks::Message);
        int rc = mosquitto_tls_set(mosq_, o.ca_file.c_str(), nullptr, o.cert_file.c_str(),
                                   o.key_file.c_str(), nullptr);
        if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_opts_set(mosq_, 1, "tlsv1.2", nullptr);
        if (rc == MOSQ_ERR_SUCCESS && !o.will_topic.empty()) {
          rc = mosquitto_will_set_v5(mosq_, o.will_topic.c_str(),
                                     static_cast<int>(o.will_payload.size()), o.will_payload.data(),
                                     o.will_qos, o.will_retain, nullptr);
        }
        if (rc == MOSQ_ERR_SUCCESS) {
          rc = mosquitto_connect_async(mosq_, o.host.c_str(), o.port,
                                       static_cast<int>(absl::ToInt64Seconds(o.keep_alive)));
        }
        if (rc != MOSQ_ERR_SUCCESS) {
          // On loopback the TCP connect, and the TLS handshake with it, may finish inside the
          // call: a refused certificate shows here as a TLS or protocol error.
          const int err = errno;
          std::string why = MosquittoError(rc);
          // libmosquitto also reports a TLS handshake it tried and lost as MOSQ_ERR_ERRNO with
          // errno EPROTO (seen under load in CI: "broker unreachable: Protocol error").
          if (rc == MOSQ_ERR_TLS || rc == MOSQ_ERR_PROTOCOL || rc == MOSQ_ERR_CONN_LOST ||
              (rc == MOSQ_ERR_ERRNO && err == EPROTO)) {
            why = absl::StrCat(kRefusedInHandshake, " (", why, ")");
          } else if (rc == MOSQ_ERR_ERRNO) {
            why = absl::StrCat("broker unreachable: ", std::strerror(err));
          }
          Close();
          return waiter->Complete(absl::UnavailableError(
              absl::StrCat("MQTT: connecting to ", o.host, ":", o.port, ": ", why)));
        }
        connecting_ = std::move(waiter);
        fd_ = mosquitto_socket(mosq_);
        phase_ = Phase::kTcp;
        loop_.Watch(this, fd_);
      },
      timeout);
  if (!s.ok()) {
    loop_.Post([this] { Close(); });
  }
  return s;
}

absl::Status MqttConnection::Publish(const std::string& topic, const std::string& payload, int qos,
                                     bool retain, absl::Duration wait) {
  const bool acked = wait > absl::ZeroDuration() && qos > 0;
  return Await(
      [this, topic, payload, qos, retain, acked](std::shared_ptr<Waiter> waiter) {
        if (!Open() || phase_ != Phase::kUp) {
          return waiter->Complete(absl::UnavailableError("MQTT: not connected"));
        }
        int mid = 0;
        const int rc =
            mosquitto_publish_v5(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                                 payload.data(), qos, retain, nullptr);
        if (rc != MOSQ_ERR_SUCCESS) {
          return waiter->Complete(
              absl::UnavailableError(absl::StrCat("MQTT: publish: ", MosquittoError(rc))));
        }
        SyncInterest();
        if (acked) {
          acks_.emplace_back(mid, std::move(waiter));
        } else {
          waiter->Complete(absl::OkStatus());
        }
      },
      acked ? wait : absl::Seconds(10));
}

absl::Status MqttConnection::Subscribe(const std::string& topic, int qos, absl::Duration timeout) {
  return Await(
      [this, topic, qos](std::shared_ptr<Waiter> waiter) {
        if (!Open() || phase_ != Phase::kUp) {
          return waiter->Complete(absl::UnavailableError("MQTT: not connected"));
        }
        int mid = 0;
        const int rc = mosquitto_subscribe_v5(mosq_, &mid, topic.c_str(), qos, 0, nullptr);
        if (rc != MOSQ_ERR_SUCCESS) {
          return waiter->Complete(
              absl::UnavailableError(absl::StrCat("MQTT: subscribe: ", MosquittoError(rc))));
        }
        SyncInterest();
        acks_.emplace_back(mid, std::move(waiter));
      },
      timeout);
}

void MqttConnection::Disconnect(bool with_will, absl::Duration timeout) {
  (void)Await(
      [this, with_will](std::shared_ptr<Waiter> waiter) {
        if (!Open() || phase_ != Phase::kUp) {
          Close();
          return waiter->Complete(absl::OkStatus());
        }
        closing_ = true;
        // Registered first: when the packet goes out at once, the disconnect callback runs
        // inside this very call.
        disconnecting_ = waiter;
        const int rc = mosquitto_disconnect_v5(
            mosq_, with_will ? MQTT_RC_DISCONNECT_WITH_WILL_MSG : MQTT_RC_NORMAL_DISCONNECTION,
            nullptr);
        if (rc != MOSQ_ERR_SUCCESS) Close();
        SyncInterest();
      },
      timeout);
  absl::MutexLock lock(&mu_);
  connected_ = false;
}

bool MqttConnection::Open() const {
  return mosq_ != nullptr && fd_ >= 0 && mosquitto_socket(mosq_) == fd_;
}

void MqttConnection::OnReady(uint32_t events) {
  if (!Open()) return;
  if (phase_ == Phase::kTcp) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    // libmosquitto may already have tried the TLS handshake on the socket and so taken the
    // error; a socket without a peer never reached the broker either way.
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof(peer);
    if (err == 0 && getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
      char byte = 0;
      err = recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno != EAGAIN ? errno : ENOTCONN;
    }
    if (err != 0) return Fail(absl::StrCat("broker unreachable: ", std::strerror(err)));
    phase_ = Phase::kHandshake;
  }
  // Reading also drives the TLS handshake; writing sends what is queued once it is done.
  int rc = mosquitto_loop_read(mosq_, 1);
  if (rc == MOSQ_ERR_SUCCESS && Open()) rc = mosquitto_loop_write(mosq_, 1);
  // Before the CONNACK, an error is the broker ending the handshake: with TLS 1.3 the client's
  // side is done before the broker has checked its certificate, so the refusal arrives as a TLS
  // alert or a protocol error while the CONNECT is on its way, depending on timing.
  auto failed = [&](int code) {
    if (phase_ != Phase::kHandshake) return MosquittoError(code);
    return absl::StrCat(kRefusedInHandshake, " (", MosquittoError(code), ")");
  };
  if (!Open()) {
    // libmosquitto closed the socket: through its disconnect callback (already handled), or
    // for a TLS error, which only the return code tells.
    if (rc != MOSQ_ERR_SUCCESS && fd_ >= 0) Fail(failed(rc));
    return;
  }
  if (rc != MOSQ_ERR_SUCCESS) return Fail(failed(rc));
  if (phase_ == Phase::kHandshake && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
    return Fail(kRefusedInHandshake);
  }
  SyncInterest();
}

void MqttConnection::OnTick() {
  if (!Open()) return;
  if (phase_ == Phase::kHandshake) {
    // A CONNECT that could not be written right after the handshake goes now.
    if (mosquitto_loop_write(mosq_, 1) != MOSQ_ERR_SUCCESS && Open()) Fail("write failed");
  } else if (phase_ == Phase::kUp) {
    mosquitto_loop_misc(mosq_);  // keep-alive: PINGREQ, and the check that PINGRESP came
  }
  SyncInterest();
}

void MqttConnection::SyncInterest() {
  if (!Open()) return;
  uint32_t want = EPOLLOUT;  // kTcp
  if (phase_ == Phase::kHandshake) want = EPOLLIN | EPOLLRDHUP;
  if (phase_ == Phase::kUp) want = EPOLLIN | (mosquitto_want_write(mosq_) ? EPOLLOUT : 0u);
  if (want != interest_) {
    loop_.SetInterest(this, fd_, want);
    interest_ = want;
  }
}

void MqttConnection::Fail(const std::string& why) {
  const bool up = phase_ == Phase::kUp;
  if (connecting_) {
    connecting_->Complete(absl::UnavailableError(
        absl::StrCat("MQTT: connection failed before the broker accepted it: ", why)));
    connecting_.reset();
  }
  bool was_connected;
  {
    absl::MutexLock lock(&mu_);
    was_connected = connected_;
  }
  const bool report = up && was_connected && !closing_;
  Close();
  if (report && on_lost_) on_lost_(why);
}

void MqttConnection::Connected(int reason_code) {
  if (!connecting_) return;
  if (reason_code == 0) {
    phase_ = Phase::kUp;
    {
      absl::MutexLock lock(&mu_);
      connected_ = true;
    }
    connecting_->Complete(absl::OkStatus());
  } else {
    connecting_->Complete(absl::PermissionDeniedError(absl::StrCat(
        "MQTT: the broker refused the connection: ", mosquitto_reason_string(reason_code))));
  }
  connecting_.reset();
}

void MqttConnection::Disconnected(int rc) {
  // libmosquitto has closed the socket, which also took it out of the epoll set.
  fd_ = -1;
  loop_.Forget(this);
  bool was_connected;
  {
    absl::MutexLock lock(&mu_);
    was_connected = connected_;
    connected_ = false;
  }
  const std::string why = rc == 0 ? "closed" : MosquittoError(rc);
  if (connecting_) {
    // The TCP connection was up (OnReady checked) and closed before the broker's CONNACK: the
    // TLS handshake or the CONNECT was refused.
    connecting_->Complete(absl::UnavailableError(
        absl::StrCat("MQTT: connection failed before the broker accepted it: ",
                     phase_ == Phase::kHandshake ? std::string(kRefusedInHandshake) : why)));
    connecting_.reset();
  }
  for (auto& [mid, waiter] : acks_) {
    waiter->Complete(absl::UnavailableError("MQTT: connection lost before PUBACK"));
  }
  acks_.clear();
  if (disconnecting_) {
    disconnecting_->Complete(absl::OkStatus());
    disconnecting_.reset();
  }
  if (was_connected && !closing_ && on_lost_) on_lost_(why);
}

void MqttConnection::Acknowledged(int mid, int reason_code) {
  if (reason_code == MQTT_RC_NO_MATCHING_SUBSCRIBERS && on_unheard_) on_unheard_();
  for (auto it = acks_.begin(); it != acks_.end(); ++it) {
    if (it->first != mid) continue;
    it->second->Complete(
        reason_code < 0x80 ? absl::OkStatus()
                           : absl::PermissionDeniedError(absl::StrCat(
                                 "MQTT: publish refused: ", mosquitto_reason_string(reason_code))));
    acks_.erase(it);
    return;
  }
}

void MqttConnection::Close() {
  if (mosq_ == nullptr) return;
  closing_ = true;
  loop_.Forget(this);
  // mosquitto_destroy closes the socket; closing it also removes it from the epoll set.
  mosquitto_destroy(mosq_);
  mosq_ = nullptr;
  fd_ = -1;
  for (auto& [mid, waiter] : acks_) waiter->Complete(absl::CancelledError("MQTT: closed"));
  acks_.clear();
  if (connecting_) connecting_->Complete(absl::CancelledError("MQTT: closed"));
  connecting_.reset();
  if (disconnecting_) disconnecting_->Complete(absl::OkStatus());
  disconnecting_.reset();
  absl::MutexLock lock(&mu_);
  connected_ = false;
}

}  // namespace posfleet::agent
