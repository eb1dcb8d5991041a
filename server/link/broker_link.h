#pragma once

#include <mqtt/async_client.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/metrics.h"

namespace posfleet::link {

struct BrokerLinkOptions {
  std::string broker_url;  // "ssl://host:8883"
  std::string ca_file;     // the fleet CA (trust anchor for the broker)
  std::string cert_file;   // this server's client certificate, CN posfleet-server
  std::string key_file;
  std::string client_id;  // unique per replica; connection i adds "-i"
  // MQTT connections of this replica, each a member of the shared subscription. The broker reads
  // one packet per connection per loop turn, so acknowledgements to terminals (one publish each)
  // flow through several connections in parallel.
  int connections = 2;
};

// The server's side of the broker: a few MQTT connections, each a member of the shared
// subscription $share/posfleet/posfleet/v1/t/+/up/+ (so several replicas split the uplinks), each
// handing what arrives to `on_uplink` on Paho's callback thread. Publishes go round robin over
// the connections that are up. Reconnects by itself; after each (re)subscription it announces on
// posfleet/v1/server/ready that this server reads again.
//
// A payload over the broker's packet limit is never sent (the broker would drop the connection):
// counted as posfleet_link_downlinks_oversized_total.
class BrokerLink {
 public:
  using Handler = std::function<void(const std::string& topic, const std::string& payload)>;

  BrokerLink(Counters& counters, BrokerLinkOptions options, Handler on_uplink);
  ~BrokerLink();

  // Connects every connection; Unavailable if one of the first connections fails.
  absl::Status Start();
  void Stop();

  // QoS 0, on the next connection that is up; false if none took it. Safe from any thread.
  bool Publish(const std::string& topic, const std::string& payload);
  // Publishes each (topic, payload) with QoS 1, retained, and waits up to `timeout` for the
  // broker to take them; returns which it took. Safe from any thread.
  std::vector<bool> PublishRetained(
      const std::vector<std::pair<std::string, std::string>>& messages, absl::Duration timeout);
  // Sends `payload` to the broker plugin's control topic (broker/access_rules.h), QoS 1, and
  // waits up to `timeout` for the broker to take it; returns whether it did.
  bool PublishControl(const std::string& payload, absl::Duration timeout);

 private:
  class Member;

  // QoS 1 on the next connection that is up and takes it (round robin); null if none did.
  mqtt::delivery_token_ptr PublishQos1(const std::string& topic, const std::string& payload,
                                       bool retained);

  Counters& counters_;
  const BrokerLinkOptions options_;
  const Handler on_uplink_;
  std::vector<std::unique_ptr<Member>> members_;
  std::atomic<size_t> next_member_{0};
};

}  // namespace posfleet::link
