#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

// The broker's whole access rule, apart from Mosquitto: who a certificate is, which client ids it
// may take, and which topics it may publish, receive and subscribe to. Pure functions, so the
// plugin (broker/plugin.cc) is glue and the rule is unit-tested on its own
// (tests/broker/access_rules_test.cc) besides the real-broker tests.
//
// Identities come from the client certificate's CN, which the server chose at enrollment:
//   terminal  "trm_" followed by [a-z0-9_] (the ids posfleet issues), client id == CN;
//   server    the configured server name ("posfleet-server"), client id that name alone or
//             followed by '-' or '_' and anything (one per replica and connection);
//   anything else (the broker's own certificate among them) may not connect.
namespace posfleet::broker {

// kLoadGenerator exists only where the broker is configured with plugin_opt_load_generator
// (tools/bench/txn): one identity that writes any terminal's uplinks and reads any terminal's
// down/ack, so a few connections can stand in for many terminals.
enum class Role { kRefused, kTerminal, kServer, kLoadGenerator };

struct Identity {
  Role role = Role::kRefused;
  std::string name;  // the CN; the MQTT username the broker uses for this client
};

// The identity a certificate with `common_name` has.
Identity Classify(std::string_view common_name, std::string_view server_name,
                  std::string_view load_generator_name = "");

// Empty if `identity` may connect with `client_id`; else why not (for the broker log).
std::string CheckClientId(const Identity& identity, std::string_view client_id);

enum class Access { kRead, kWrite, kSubscribe, kUnsubscribe };

// Whether `identity` may do `access` on `topic` (a topic name for read and write, a filter,
// possibly "$share/group/filter", for subscribe and unsubscribe).
//   terminal: writes posfleet/v1/t/{self}/up/{kind} for the known uplink kinds; reads and
//             subscribes only below posfleet/v1/t/{self}/down/ (no $share, no filter that
//             reaches any other terminal); reads and subscribes to the server's broadcast
//             posfleet/v1/server/ready (common/link_topics.h), that exact topic;
//   server:   reads posfleet/v1/t/{id}/up/..., writes posfleet/v1/t/{id}/down/..., the
//             broadcast and the control topic, subscribes (shared or not) below posfleet/v1/t/.
// Unsubscribing is always allowed: it can only take away.
bool Allowed(const Identity& identity, Access access, std::string_view topic);

// Which of a terminal's live certificates may connect. Renewal leaves the previous certificate
// valid until it expires (a CRL entry per renewal would grow the CRL with the estate), and the
// server signs each renewed certificate valid from strictly after the one it replaces. So once a
// terminal has connected with a certificate, one that starts earlier is superseded and refused:
// a copy of an old key stops working as soon as the terminal uses its new one. The broker keeps
// the newest start per terminal in a state file, so this holds across restarts.
class NewestCertificates {
 public:
  // Reads a state file's text: lines "terminal-id seconds" (the malformed are skipped; the latest
  // of repeated lines wins, as appended).
  void Load(std::string_view text);
  // Whether a certificate of `terminal` valid from `not_before` (Unix seconds) may connect. When
  // it is the newest yet seen, it is remembered and *line is set to what to append to the state
  // file; otherwise *line is left empty.
  bool Admit(const std::string& terminal, int64_t not_before, std::string* line);
  // The whole state, one line per terminal, for rewriting the file compactly.
  std::string Dump() const;
  size_t size() const { return newest_.size(); }

 private:
  std::unordered_map<std::string, int64_t> newest_;
};

// The topic on which the server sends the plugin its commands (see ParseControl).
inline constexpr std::string_view kControlTopic = "$CONTROL/posfleet/v1";

// A control message is lines of "disconnect <terminal id>": the broker closes that terminal's
// live connection (it was suspended or retired; its certificate is refused at the next connect
// by the CRL, or by the server). Returns the terminal ids named, or an error text.
struct ControlCommand {
  std::string error;
  std::vector<std::string> disconnect;
};
ControlCommand ParseControl(std::string_view payload);

}  // namespace posfleet::broker
