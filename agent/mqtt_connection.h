#pragma once

// The agent's MQTT transport: MQTT 5 over mutual TLS on libmosquitto, with the network I/O of
// many connections driven by one thread per MqttLoop (epoll). posfleet-agent has one connection
// on one loop; posfleet-sim puts thousands of terminals on a couple of loops. libmosquitto's own
// loop uses select(), which stops at descriptor 1024, or a thread per connection; Paho's async
// client serialises all its connections behind one process-wide mutex. See docs/hand-written.md.

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct mosquitto;  // libmosquitto's handle

namespace posfleet::agent {

class MqttConnection;

// One I/O thread for any number of connections. Every libmosquitto call on a connection runs on
// this thread, so each handle is used by one thread only.
class MqttLoop {
 public:
  MqttLoop();
  // Stops the thread. Connections on the loop must be destroyed first.
  ~MqttLoop();

  MqttLoop(const MqttLoop&) = delete;
  MqttLoop& operator=(const MqttLoop&) = delete;

  // How many connections the loop holds now (for the simulator's figures).
  size_t size() const;

 private:
  friend class MqttConnection;

  // Runs `task` on the loop thread, soon.
  void Post(std::function<void()> task);
  // Loop thread only.
  void Watch(MqttConnection* c, int fd);
  void Forget(MqttConnection* c);
  void SetInterest(MqttConnection* c, int fd, uint32_t events);
  void Run();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  mutable absl::Mutex mu_;
  std::vector<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  size_t size_ ABSL_GUARDED_BY(mu_) = 0;
  std::unordered_set<MqttConnection*> live_;  // loop thread only
  std::thread thread_;
};

struct MqttOptions {
  std::string host;
  int port = 8883;
  std::string client_id;
  std::string ca_file;    // trust anchor for the broker's certificate
  std::string cert_file;  // this client's certificate
  std::string key_file;
  absl::Duration keep_alive = absl::Seconds(60);
  // The Last Will, published by the broker when the connection dies without a DISCONNECT.
  std::string will_topic;
  std::string will_payload;
  int will_qos = 1;
  bool will_retain = true;
};

// "ssl://host:port" (or "mqtts://", or "host:port") -> host and port. InvalidArgument otherwise.
absl::Status ParseBrokerAddress(const std::string& address, std::string* host, int* port);

// One MQTT session, used once: Connect, Publish, then Disconnect (or the connection is lost).
// Thread-safe; the blocking calls wait on the loop thread's result with a deadline.
class MqttConnection {
 public:
  // `on_lost` runs on the loop thread when an established session ends without Disconnect
  // (network, broker, keep-alive); it must not block.
  MqttConnection(MqttLoop& loop, std::function<void(const std::string& why)> on_lost);
  // Closes the socket without any packet if still connected.
  ~MqttConnection();

  MqttConnection(const MqttConnection&) = delete;
  MqttConnection& operator=(const MqttConnection&) = delete;

  // Connects and waits for the broker's CONNACK: OK, PermissionDenied (the broker refused the
  // client, with its reason), Unavailable (network or TLS, e.g. a revoked certificate), or
  // DeadlineExceeded.
  absl::Status Connect(const MqttOptions& options, absl::Duration timeout);

  // Handles every message that arrives on a subscription, on the loop thread (must not block).
  // Set before Connect.
  void SetMessageHandler(
      std::function<void(const std::string& topic, const std::string& payload)> handler) {
    on_message_ = std::move(handler);
  }

  // Runs, on the loop thread, when the broker acknowledges a QoS 1 publish with reason 0x10 (no
  // matching subscribers: nobody received it, e.g. the server has not subscribed again after a
  // restart). Set before Connect.
  void SetUnheardHandler(std::function<void()> handler) { on_unheard_ = std::move(handler); }

  // Subscribes and waits for the broker's SUBACK: OK, PermissionDenied (refused), Unavailable.
  absl::Status Subscribe(const std::string& topic, int qos, absl::Duration timeout);

  // Publishes; with `wait` > 0 and QoS 1, waits that long for the broker's PUBACK.
  absl::Status Publish(const std::string& topic, const std::string& payload, int qos, bool retain,
                       absl::Duration wait = absl::ZeroDuration());

  // Ends the session with a DISCONNECT: a clean one (the broker discards the Will), or, with
  // `with_will`, reason code 0x04 so that the broker publishes the Will as it would for a dead
  // connection. Waits up to `timeout` for the packet to leave.
  void Disconnect(bool with_will, absl::Duration timeout = absl::Seconds(5));

  bool connected() const;

 private:
  friend class MqttLoop;
  struct Waiter;

  // Where a connection is: the TCP connect is in progress (wait until writable), the TLS
  // handshake and CONNECT are under way (libmosquitto writes nothing until the handshake is done,
  // so waiting for writability would spin; drive it on reads), or the session is up.
  enum class Phase { kTcp, kHandshake, kUp };

  // Loop thread only.
  void OnReady(uint32_t events);
  void OnTick();
  void SyncInterest();
  // Ends a connection attempt or a session that libmosquitto reported broken in a return code
  // (rather than through its disconnect callback).
  void Fail(const std::string& why);
  void Close();
  // Whether libmosquitto still has the socket we registered (it closes it itself on errors).
  bool Open() const;
  // libmosquitto's callbacks, called inside loop_read/loop_write/loop_misc.
  friend struct MosquittoCallbacks;
  void Connected(int reason_code);
  void Disconnected(int rc);
  void Acknowledged(int mid, int reason_code);
  // Runs `task` on the loop thread and waits up to `timeout` for the waiter it completes.
  absl::Status Await(const std::function<void(std::shared_ptr<Waiter>)>& task,
                     absl::Duration timeout);

  MqttLoop& loop_;
  const std::function<void(const std::string&)> on_lost_;
  std::function<void(const std::string&, const std::string&)> on_message_;
  std::function<void()> on_unheard_;
  // Loop thread only.
  ::mosquitto* mosq_ = nullptr;
  int fd_ = -1;
  Phase phase_ = Phase::kTcp;
  uint32_t interest_ = 0;
  bool closing_ = false;
  std::shared_ptr<Waiter> connecting_;
  std::vector<std::pair<int, std::shared_ptr<Waiter>>> acks_;  // mid -> waiter
  std::shared_ptr<Waiter> disconnecting_;

  mutable absl::Mutex mu_;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace posfleet::agent
