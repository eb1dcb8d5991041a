// posfleet's Mosquitto 2 plugin: the whole access rule of broker/access_rules.h, applied by the
// broker. Loaded with `plugin .../posfleet_mosquitto.so` (deploy/mosquitto/mosquitto.conf.in) in
// place of an ACL file, which in Mosquitto 2.0 can neither refuse a subscription nor bind a
// client id to the certificate.
//
//   connect      the client certificate's CN (exactly one) must be a terminal id or the server
//                name, the certificate must be valid for client authentication (so the broker's
//                own serverAuth-only certificate cannot log in), and the client id must match
//                (CheckClientId). The CN becomes the username; whatever username the client sent
//                is replaced.
//   acl          every publish, delivery and (un)subscribe goes through Allowed(); a retained
//                message (or a Will, checked when it is sent) from a terminal whose payload
//                holds something that looks like a card number is refused, since the broker
//                would keep it (the server refuses the payload, but cannot unstore it here).
//   control      the server publishes "disconnect <terminal id>" lines on $CONTROL/posfleet/v1
//                when a terminal is suspended or retired; the live connection is closed.
//
//   renewal      a terminal's certificate that starts before the newest one it has connected
//                with is refused (NewestCertificates); plugin_opt_certificate_state keeps that
//                across restarts.
//
// Options: plugin_opt_server_name (default "posfleet-server"); plugin_opt_certificate_state (a
// file; without it the rule holds until the broker restarts); plugin_opt_load_generator (none by
// default; tools/bench/txn only).

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "broker/access_rules.h"
#include "common/pan.h"

namespace {

using posfleet::broker::Access;
using posfleet::broker::Identity;
using posfleet::broker::Role;

struct PluginState {
  mosquitto_plugin_id_t* id = nullptr;
  std::string server_name = "posfleet-server";
  std::string load_generator;  // empty: none (see Role::kLoadGenerator)
  posfleet::broker::NewestCertificates certificates;
  std::string certificate_state;    // the state file's path; empty: kept in memory only
  FILE* certificate_log = nullptr;  // that file, open for appending
};

PluginState* state = nullptr;

// The CN of `cert`; empty if there is not exactly one.
std::string CommonName(X509* cert) {
  X509_NAME* subject = X509_get_subject_name(cert);
  if (subject == nullptr) return "";
  const int first = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (first < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, first) >= 0) return "";
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, first));
  const int length = ASN1_STRING_length(data);
  const unsigned char* bytes = ASN1_STRING_get0_data(data);
  if (length <= 0 || bytes == nullptr) return "";
  std::string cn(reinterpret_cast<const char*>(bytes), static_cast<size_t>(length));
  if (cn.find('\0') != std::string::npos) return "";
  return cn;
}

int Refuse(mosquitto* client, const std::string& who, const char* why) {
  const char* address = mosquitto_client_address(client);
  const char* client_id = mosquitto_client_id(client);
  mosquitto_log_printf(MOSQ_LOG_NOTICE, "posfleet: refused %s (client id \"%.64s\") from %s: %s",
                       who.empty() ? "a client" : who.c_str(), client_id ? client_id : "",
                       address ? address : "?", why);
  return MOSQ_ERR_AUTH;
}

int OnBasicAuth(int, void* event_data, void*) {
  auto* ev = static_cast<mosquitto_evt_basic_auth*>(event_data);
  X509* cert = static_cast<X509*>(mosquitto_client_certificate(ev->client));
  if (cert == nullptr) return Refuse(ev->client, "", "no client certificate");
  const std::string cn = CommonName(cert);
  // The broker verified the chain with OpenSSL's ssl_client purpose; checked again here so the
  // rule does not depend on the listener's settings.
  const bool client_auth = X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0) == 1;
  std::tm start{};
  const bool dated = ASN1_TIME_to_tm(X509_get0_notBefore(cert), &start) == 1;
  X509_free(cert);
  if (!client_auth) return Refuse(ev->client, cn, "certificate not valid for client auth");
  const Identity identity =
      posfleet::broker::Classify(cn, state->server_name, state->load_generator);
  if (identity.role == Role::kTerminal) {
    if (!dated) return Refuse(ev->client, cn, "certificate without a start date");
    std::string line;
    if (!state->certificates.Admit(cn, static_cast<int64_t>(timegm(&start)), &line)) {
      return Refuse(ev->client, cn,
                    "superseded certificate: the terminal already uses a newer one (renewed)");
    }
    if (!line.empty() && state->certificate_log != nullptr) {
      std::fputs(line.c_str(), state->certificate_log);
      std::fflush(state->certificate_log);
    }
  }
  const char* client_id = mosquitto_client_id(ev->client);
  const std::string why = posfleet::broker::CheckClientId(identity, client_id ? client_id : "");
  if (!why.empty()) return Refuse(ev->client, cn, why.c_str());
  if (mosquitto_set_username(ev->client, identity.name.c_str()) != MOSQ_ERR_SUCCESS) {
    return Refuse(ev->client, cn, "cannot set the username");
  }
  return MOSQ_ERR_SUCCESS;
}

Access AccessOf(int access) {
  switch (access) {
    case MOSQ_ACL_READ:
      return Access::kRead;
    case MOSQ_ACL_WRITE:
      return Access::kWrite;
    case MOSQ_ACL_SUBSCRIBE:
      return Access::kSubscribe;
    default:
      return Access::kUnsubscribe;
  }
}

int OnAclCheck(int, void* event_data, void*) {
  auto* ev = static_cast<mosquitto_evt_acl_check*>(event_data);
  const char* username = mosquitto_client_username(ev->client);
  if (username == nullptr || ev->topic == nullptr) return MOSQ_ERR_ACL_DENIED;
  const Identity identity =
      posfleet::broker::Classify(username, state->server_name, state->load_generator);
  if (posfleet::broker::Allowed(identity, AccessOf(ev->access), ev->topic)) {
    if (ev->access == MOSQ_ACL_WRITE && ev->retain && identity.role == Role::kTerminal &&
        ev->payload != nullptr &&
        posfleet::ContainsPanInBinary(
            absl::string_view(static_cast<const char*>(ev->payload), ev->payloadlen))) {
      mosquitto_log_printf(MOSQ_LOG_WARNING,
                           "posfleet: refused a retained message of %s on %.128s: it holds "
                           "something that looks like a card number",
                           username, ev->topic);
      return MOSQ_ERR_ACL_DENIED;
    }
    return MOSQ_ERR_SUCCESS;
  }
  if (ev->access == MOSQ_ACL_SUBSCRIBE) {
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "posfleet: refused subscription of %s to \"%.128s\"",
                         username, ev->topic);
  }
  return MOSQ_ERR_ACL_DENIED;
}

int OnControl(int, void* event_data, void*) {
  auto* ev = static_cast<mosquitto_evt_control*>(event_data);
  const char* username = mosquitto_client_username(ev->client);
  // The ACL already allows only the server to write here; this does not depend on it.
  if (username == nullptr || state->server_name != username) return MOSQ_ERR_ACL_DENIED;
  const posfleet::broker::ControlCommand cmd = posfleet::broker::ParseControl(
      std::string_view(static_cast<const char*>(ev->payload), ev->payloadlen));
  if (!cmd.error.empty()) {
    mosquitto_log_printf(MOSQ_LOG_WARNING, "posfleet: control message ignored: %s",
                         cmd.error.c_str());
    return MOSQ_ERR_INVAL;
  }
  for (const std::string& terminal : cmd.disconnect) {
    // No Will: the terminal is not coming back, and the server knows why it went.
    mosquitto_kick_client_by_username(terminal.c_str(), false);
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "posfleet: disconnected %s on the server's request",
                         terminal.c_str());
  }
  return MOSQ_ERR_SUCCESS;
}

}  // namespace

extern "C" {

int mosquitto_plugin_version(int supported_version_count, const int* supported_versions) {
  for (int i = 0; i < supported_version_count; ++i) {
    if (supported_versions[i] == 5) return 5;
  }
  return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void** userdata,
                          struct mosquitto_opt* options, int option_count) {
  state = new PluginState;
  state->id = identifier;
  for (int i = 0; i < option_count; ++i) {
    if (std::strcmp(options[i].key, "server_name") == 0) {
      state->server_name = options[i].value;
    } else if (std::strcmp(options[i].key, "certificate_state") == 0) {
      state->certificate_state = options[i].value;
    } else if (std::strcmp(options[i].key, "load_generator") == 0) {
      state->load_generator = options[i].value;
      mosquitto_log_printf(MOSQ_LOG_WARNING,
                           "posfleet: load generator identity %s may write every terminal's "
                           "uplinks (benchmarks only)",
                           state->load_generator.c_str());
    } else {
      mosquitto_log_printf(MOSQ_LOG_ERR, "posfleet: unknown option plugin_opt_%s", options[i].key);
      return MOSQ_ERR_INVAL;
    }
  }
  if (!state->certificate_state.empty()) {
    // Read what earlier runs appended, then write it back compacted and keep appending.
    std::string text;
    if (FILE* in = std::fopen(state->certificate_state.c_str(), "r")) {
      char buf[65536];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof(buf), in)) > 0) text.append(buf, n);
      std::fclose(in);
    }
    state->certificates.Load(text);
    const std::string tmp = state->certificate_state + ".tmp";
    FILE* out = std::fopen(tmp.c_str(), "w");
    const std::string dump = state->certificates.Dump();
    const bool written =
        out != nullptr && std::fwrite(dump.data(), 1, dump.size(), out) == dump.size();
    if (out != nullptr && std::fclose(out) != 0) out = nullptr;
    if (!written || out == nullptr ||
        std::rename(tmp.c_str(), state->certificate_state.c_str()) != 0) {
      mosquitto_log_printf(MOSQ_LOG_ERR, "posfleet: cannot write %s",
                           state->certificate_state.c_str());
      return MOSQ_ERR_UNKNOWN;
    }
    state->certificate_log = std::fopen(state->certificate_state.c_str(), "a");
    if (state->certificate_log == nullptr) return MOSQ_ERR_UNKNOWN;
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "posfleet: newest certificates of %zu terminals from %s",
                         state->certificates.size(), state->certificate_state.c_str());
  }
  *userdata = state;
  int rc =
      mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, OnBasicAuth, nullptr, nullptr);
  if (rc == MOSQ_ERR_SUCCESS) {
    rc = mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, OnAclCheck, nullptr, nullptr);
  }
  if (rc == MOSQ_ERR_SUCCESS) {
    const std::string topic(posfleet::broker::kControlTopic);
    rc = mosquitto_callback_register(identifier, MOSQ_EVT_CONTROL, OnControl, topic.c_str(),
                                     nullptr);
  }
  if (rc == MOSQ_ERR_SUCCESS) {
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "posfleet: access rules loaded (server name %s)",
                         state->server_name.c_str());
  }
  return rc;
}

int mosquitto_plugin_cleanup(void*, struct mosquitto_opt*, int) {
  if (state != nullptr) {
    mosquitto_callback_unregister(state->id, MOSQ_EVT_BASIC_AUTH, OnBasicAuth, nullptr);
    mosquitto_callback_unregister(state->id, MOSQ_EVT_ACL_CHECK, OnAclCheck, nullptr);
    const std::string topic(posfleet::broker::kControlTopic);
    mosquitto_callback_unregister(state->id, MOSQ_EVT_CONTROL, OnControl, topic.c_str());
    if (state->certificate_log != nullptr) std::fclose(state->certificate_log);
    delete state;
    state = nullptr;
  }
  return MOSQ_ERR_SUCCESS;
}

}  // extern "C"
