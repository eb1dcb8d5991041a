// txn_bench: the parts of tools/bench/txn that are not posfleet-sim.
//
//   raw         the broker's own publish->subscribe rate with posfleet's message sizes: publishers
//               at QoS 1 (as agents send up/txn), one shared subscription at QoS 0 over two
//               connections (as the server reads), a bounded number of messages in transit.
//   heartbeats  a light load generator: heartbeats of many terminals from a few connections at a
//               fixed offered rate (the simulator's thread per agent cannot offer 30,000/s).
//   txns        a light transaction load: many terminals' up/txn from a few connections, each
//               terminal with one batch of --records-per-message records in flight, the next sent
//               when the server's down/ack for it arrives (closed loop). What the server, broker
//               and PostgreSQL sustain when the load costs little (posfleet-sim's agents cost a
//               thread each).
//   naive       the baseline: every record its own insert and commit, through the store's own
//               IngestTransactions, from several connections straight to PostgreSQL.
//
// Each prints one line of key=value figures for the script to read.

#include <atomic>
#include <deque>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/mqtt_connection.h"
#include "common/link_topics.h"
#include "common/process.h"
#include "posfleet/v1/link.pb.h"
#include "server/link/uplink_decoder.h"
#include "server/store/pg_pool.h"
#include "server/store/pg_store.h"
#include "tools/sim/txn_stream.h"

namespace {

using namespace posfleet;

struct Flags {
  std::string broker;
  std::string ca, cert, key;
  double seconds = 10;
  int publishers = 4;
  int records_per_message = 1;
  int window = 256;  // raw: messages in transit per publisher
  std::string ids_file;
  double rate = 30000;
  int connections = 4;
  std::string db_url;
  int clients = 4;
};

agent::MqttOptions Options(const Flags& f, const std::string& client_id) {
  agent::MqttOptions o;
  if (absl::Status s = agent::ParseBrokerAddress(f.broker, &o.host, &o.port); !s.ok()) {
    std::cerr << "txn_bench: --broker: " << s.message() << "\n";
    std::exit(2);
  }
  o.client_id = client_id;
  o.ca_file = f.ca;
  o.cert_file = f.cert;
  o.key_file = f.key;
  return o;
}

std::unique_ptr<agent::MqttConnection> Connect(agent::MqttLoop& loop, const Flags& f,
                                               const std::string& client_id) {
  auto c = std::make_unique<agent::MqttConnection>(loop, [client_id](const std::string& why) {
    std::cerr << "txn_bench: " << client_id << " lost its connection: " << why << "\n";
  });
  return c;
}

bool Up(agent::MqttConnection& c, const Flags& f, const std::string& client_id) {
  if (absl::Status s = c.Connect(Options(f, client_id), absl::Seconds(10)); !s.ok()) {
    std::cerr << "txn_bench: " << client_id << ": " << s.ToString() << "\n";
    return false;
  }
  return true;
}

// A TxnBatch of `n` records shaped like the simulator's.
std::string BatchPayload(int n) {
  sim::TxnStream stream(42, "BENCH-000001", "SIM", "EUR");
  v1::TxnBatch batch;
  batch.set_terminal_id("trm_0000000000000000000000");
  batch.set_batch_id(1);
  for (int i = 0; i < n; ++i) {
    v1::TxnRecord* r = batch.add_records();
    *r = stream.Next(absl::Now());
    r->set_seq(static_cast<uint64_t>(i + 1));
  }
  return batch.SerializeAsString();
}

int Raw(const Flags& f) {
  const std::string payload = BatchPayload(f.records_per_message);
  agent::MqttLoop sub_loop, pub_loop;
  std::atomic<uint64_t> received{0};
  absl::Mutex mu;  // a waiter's condition is looked at again whenever mu is released
  std::vector<std::unique_ptr<agent::MqttConnection>> subs;
  for (int i = 0; i < 2; ++i) {
    const std::string id = absl::StrCat("posfleet-bench-sub-", i);
    subs.push_back(Connect(sub_loop, f, id));
    subs.back()->SetMessageHandler([&](const std::string&, const std::string&) {
      if (received.fetch_add(1, std::memory_order_relaxed) % 32 == 31) absl::MutexLock lock(&mu);
    });
    if (!Up(*subs.back(), f, id)) return 1;
    if (absl::Status s =
            subs.back()->Subscribe("$share/bench/posfleet-bench/raw/#", 0, absl::Seconds(10));
        !s.ok()) {
      std::cerr << "txn_bench: subscribe: " << s.ToString() << "\n";
      return 1;
    }
  }
  std::atomic<uint64_t> sent{0};
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  const uint64_t in_transit = static_cast<uint64_t>(f.window) * f.publishers;
  std::vector<std::thread> threads;
  for (int p = 0; p < f.publishers; ++p) {
    threads.emplace_back([&, p] {
      const std::string id = absl::StrCat("posfleet-bench-pub-", p);
      auto c = Connect(pub_loop, f, id);
      if (!Up(*c, f, id)) {
        ++failed;
        return;
      }
      const std::string topic = absl::StrCat("posfleet-bench/raw/", p);
      while (!stop) {
        {
          absl::MutexLock lock(&mu);
          auto room = [&] { return stop || sent.load() < received.load() + in_transit; };
          mu.AwaitWithTimeout(absl::Condition(&room), absl::Milliseconds(5));
        }
        if (stop || sent.load() >= received.load() + in_transit) continue;
        if (!c->Publish(topic, payload, 1, false).ok()) {
          ++failed;
          return;
        }
        ++sent;
      }
      c->Disconnect(false, absl::Seconds(2));
    });
  }
  // Warm up for a second, then count.
  absl::SleepFor(absl::Seconds(1));
  const uint64_t r0 = received;
  const absl::Time t0 = absl::Now();
  absl::SleepFor(absl::Seconds(f.seconds));
  const uint64_t r1 = received;
  const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  stop = true;
  for (auto& t : threads) t.join();
  for (auto& s : subs) s->Disconnect(false, absl::Seconds(2));
  if (failed > 0) {
    std::cerr << "txn_bench raw: " << failed << " publisher(s) failed\n";
    return 1;
  }
  const double rate = (r1 - r0) / secs;
  std::cout << "messages_per_s=" << static_cast<uint64_t>(rate)
            << " records_per_s=" << static_cast<uint64_t>(rate * f.records_per_message)
            << " payload_bytes=" << payload.size()
            << " mib_per_s=" << rate * payload.size() / 1048576 << " seconds=" << secs << "\n";
  return 0;
}

std::vector<std::string> ReadIds(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> ids;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) ids.push_back(line);
  }
  return ids;
}

int Heartbeats(const Flags& f) {
  const std::vector<std::string> ids = ReadIds(f.ids_file);
  if (ids.empty()) {
    std::cerr << "txn_bench heartbeats: no terminal ids in " << f.ids_file << "\n";
    return 2;
  }
  agent::MqttLoop loop;
  std::atomic<uint64_t> sent{0};
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  const int n = f.connections;
  for (int c = 0; c < n; ++c) {
    threads.emplace_back([&, c] {
      const std::string id = absl::StrCat("posfleet-bench-hb-", c);
      auto conn = Connect(loop, f, id);
      if (!Up(*conn, f, id)) {
        ++failed;
        return;
      }
      // This connection's terminals: every n-th id.
      std::vector<std::pair<std::string, std::string>> mine;  // topic, payload base
      for (size_t i = c; i < ids.size(); i += n) {
        mine.emplace_back(UpTopic(ids[i], "heartbeat"), ids[i]);
      }
      const double rate = f.rate / n;
      absl::Time last = absl::Now();
      double due = 0;
      size_t next = 0;
      uint64_t uptime = 0;
      while (!stop && !mine.empty()) {
        const absl::Time now = absl::Now();
        due += rate * absl::ToDoubleSeconds(now - last);
        last = now;
        for (; due >= 1 && !stop; due -= 1) {
          const auto& [topic, terminal] = mine[next];
          next = (next + 1) % mine.size();
          v1::Heartbeat hb;
          hb.set_terminal_id(terminal);
          hb.set_session(1);
          hb.mutable_time()->set_seconds(absl::ToUnixSeconds(now));
          hb.set_battery_percent(80);
          hb.set_temperature_c(41);
          hb.set_paper(v1::Heartbeat::PAPER_OK);
          hb.set_signal_dbm(-71);
          hb.set_network("4g");
          hb.set_storage_free_bytes(512u << 20);
          hb.set_uptime_seconds(++uptime);
          (*hb.mutable_versions())["agent"] = "0.4.0";
          (*hb.mutable_versions())["payment-app"] = "7.2.1";
          if (!conn->Publish(topic, hb.SerializeAsString(), 0, false).ok()) {
            ++failed;
            return;
          }
          ++sent;
        }
        absl::SleepFor(absl::Milliseconds(2));  // pacing, not synchronisation
      }
      conn->Disconnect(false, absl::Seconds(5));
    });
  }
  const absl::Time t0 = absl::Now();
  while (!failed && absl::Now() - t0 < absl::Seconds(f.seconds)) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  stop = true;
  for (auto& t : threads) t.join();
  if (failed > 0) {
    std::cerr << "txn_bench heartbeats: " << failed << " connection(s) failed\n";
    return 1;
  }
  std::cout << "sent=" << sent.load() << " offered_per_s=" << static_cast<uint64_t>(sent / secs)
            << " seconds=" << secs << " terminals=" << ids.size() << "\n";
  return 0;
}

// One emulated terminal of `txns`: its stream and the batch it has in flight.
struct FakeTerminal {
  std::string id;
  std::unique_ptr<sim::TxnStream> stream;
  uint64_t seq = 0;
  uint64_t batch_id = 0;
  std::atomic<int64_t> sent_ns{0};  // written by the sender, read by the ack handler
};

int Txns(const Flags& f) {
  const std::vector<std::string> ids = ReadIds(f.ids_file);
  if (ids.empty()) {
    std::cerr << "txn_bench txns: no terminal ids in " << f.ids_file << "\n";
    return 2;
  }
  std::vector<FakeTerminal> terminals(ids.size());
  absl::flat_hash_map<std::string, size_t> by_id;
  for (size_t i = 0; i < ids.size(); ++i) {
    terminals[i].id = ids[i];
    terminals[i].stream =
        std::make_unique<sim::TxnStream>(7000 + i, absl::StrCat("LOAD-", i), "SIM", "EUR");
    by_id[ids[i]] = i;
  }
  const int n = f.connections;
  agent::MqttLoop loop;
  sim::LatencyHistogram latency;
  std::atomic<uint64_t> acked{0};
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  // Terminals whose ack arrived, per connection: the loop thread queues, the connection's thread
  // sends (a publish from the loop thread would wait on itself).
  struct Lane {
    absl::Mutex mu;
    std::deque<size_t> ready ABSL_GUARDED_BY(mu);
  };
  std::vector<Lane> lanes(n);
  std::vector<std::thread> threads;
  std::atomic<int> up{0};
  for (int c = 0; c < n; ++c) {
    threads.emplace_back([&, c] {
      const std::string cid = absl::StrCat("posfleet-bench-txn-", c);
      auto conn = Connect(loop, f, cid);
      conn->SetMessageHandler([&, c](const std::string& topic, const std::string& payload) {
        // posfleet/v1/t/{id}/down/ack
        const size_t a = topic.find("/t/"), b = topic.find("/down/");
        if (a == std::string::npos || b == std::string::npos) return;
        auto it = by_id.find(topic.substr(a + 3, b - a - 3));
        if (it == by_id.end()) return;
        v1::TxnAck ack;
        if (!ack.ParseFromString(payload) || ack.committed_size() == 0) return;
        FakeTerminal& t = terminals[it->second];
        const absl::Duration d = absl::Now() - absl::FromUnixNanos(t.sent_ns.load());
        for (int i = 0; i < ack.committed_size(); ++i) latency.Record(d);
        acked.fetch_add(ack.committed_size(), std::memory_order_relaxed);
        absl::MutexLock lock(&lanes[c].mu);
        lanes[c].ready.push_back(it->second);
      });
      if (!Up(*conn, f, cid)) {
        ++failed;
        return;
      }
      std::vector<size_t> mine;
      for (size_t i = c; i < terminals.size(); i += n) {
        mine.push_back(i);
        if (!conn->Subscribe(DownTopic(terminals[i].id, "ack"), 0, absl::Seconds(10)).ok()) {
          ++failed;
          return;
        }
      }
      ++up;
      {
        absl::MutexLock lock(&lanes[c].mu);
        for (size_t i : mine) lanes[c].ready.push_back(i);
      }
      while (!stop) {
        std::deque<size_t> ready;
        {
          absl::MutexLock lock(&lanes[c].mu);
          auto any = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(lanes[c].mu) {
            return stop || !lanes[c].ready.empty();
          };
          lanes[c].mu.AwaitWithTimeout(absl::Condition(&any), absl::Milliseconds(100));
          ready.swap(lanes[c].ready);
        }
        for (size_t i : ready) {
          if (stop) break;
          FakeTerminal& t = terminals[i];
          v1::TxnBatch batch;
          batch.set_terminal_id(t.id);
          batch.set_batch_id(++t.batch_id);
          const absl::Time now = absl::Now();
          for (int k = 0; k < f.records_per_message; ++k) {
            v1::TxnRecord* r = batch.add_records();
            *r = t.stream->Next(now);
            r->set_seq(++t.seq);
          }
          t.sent_ns = absl::ToUnixNanos(now);
          if (!conn->Publish(UpTopic(t.id, "txn"), batch.SerializeAsString(), 1, false).ok()) {
            ++failed;
            return;
          }
        }
      }
      conn->Disconnect(false, absl::Seconds(5));
    });
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (up < n && !failed && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  absl::SleepFor(absl::Seconds(2));  // warm up
  latency.Reset();
  const uint64_t a0 = acked;
  const absl::Time t0 = absl::Now();
  absl::SleepFor(absl::Seconds(f.seconds));
  const uint64_t a1 = acked;
  const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  const absl::Duration p50 = latency.Quantile(0.5), p99 = latency.Quantile(0.99);
  stop = true;
  for (auto& t : threads) t.join();
  if (failed > 0 || up < n) {
    std::cerr << "txn_bench txns: " << failed << " connection(s) failed\n";
    return 1;
  }
  std::cout << "records_per_s=" << static_cast<uint64_t>((a1 - a0) / secs)
            << " p50_ms=" << absl::ToDoubleMilliseconds(p50)
            << " p99_ms=" << absl::ToDoubleMilliseconds(p99) << " terminals=" << ids.size()
            << " records_per_message=" << f.records_per_message << " seconds=" << secs << "\n";
  return 0;
}

int Naive(const Flags& f) {
  const std::vector<std::string> ids = ReadIds(f.ids_file);
  if (ids.empty()) {
    std::cerr << "txn_bench naive: no terminal ids in " << f.ids_file << "\n";
    return 2;
  }
  store::PgPool pool(f.db_url, f.clients);
  store::PgStore store(pool);
  std::atomic<uint64_t> committed{0};
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < f.clients; ++c) {
    threads.emplace_back([&, c] {
      const std::string& terminal = ids[c % ids.size()];
      sim::TxnStream stream(1000 + c, absl::StrCat("NAIVE-", c), "SIM", "EUR");
      while (!stop) {
        v1::TxnBatch batch;
        batch.set_terminal_id(terminal);
        batch.set_batch_id(1);
        v1::TxnRecord* r = batch.add_records();
        *r = stream.Next(absl::Now());
        r->set_seq(1);
        absl::StatusOr<link::Uplink> up =
            link::DecodeUplink(UpTopic(terminal, "txn"), batch.SerializeAsString(), {});
        if (!up.ok() || !up->txn || up->txn->records.size() != 1) {
          std::cerr << "txn_bench naive: " << up.status().ToString() << "\n";
          ++failed;
          return;
        }
        absl::StatusOr<core::IngestOutcome> out = store.IngestTransactions(up->txn->records);
        if (!out.ok()) {
          std::cerr << "txn_bench naive: " << out.status().ToString() << "\n";
          ++failed;
          return;
        }
        ++committed;
      }
    });
  }
  absl::SleepFor(absl::Seconds(1));
  const uint64_t c0 = committed;
  const absl::Time t0 = absl::Now();
  absl::SleepFor(absl::Seconds(f.seconds));
  const uint64_t c1 = committed;
  const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  stop = true;
  for (auto& t : threads) t.join();
  if (failed > 0) return 1;
  std::cout << "records_per_s=" << static_cast<uint64_t>((c1 - c0) / secs)
            << " clients=" << f.clients << " seconds=" << secs << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  posfleet::DisableMutexDeadlockDetection();
  Flags f;
  CLI::App app{"txn_bench: broker ceiling, heartbeat load and the naive baseline"};
  app.require_subcommand(1);
  auto mqtt = [&](CLI::App* c) {
    c->add_option("--broker", f.broker, "ssl://host:port")->required();
    c->add_option("--ca", f.ca)->required()->check(CLI::ExistingFile);
    c->add_option("--cert", f.cert)->required()->check(CLI::ExistingFile);
    c->add_option("--key", f.key)->required()->check(CLI::ExistingFile);
  };
  CLI::App* raw = app.add_subcommand("raw", "broker publish->subscribe rate");
  mqtt(raw);
  raw->add_option("--publishers", f.publishers)->check(CLI::Range(1, 64));
  raw->add_option("--records-per-message", f.records_per_message,
                  "TxnBatch size of each message (posfleet's sizes)")
      ->check(CLI::Range(1, 1000));
  raw->add_option("--window", f.window, "messages in transit per publisher")
      ->check(CLI::Range(1, 100000));
  raw->add_option("--seconds", f.seconds)->check(CLI::Range(1.0, 3600.0));
  CLI::App* hb = app.add_subcommand("heartbeats", "heartbeats at a fixed offered rate");
  mqtt(hb);
  hb->add_option("--ids-file", f.ids_file, "terminal ids, one per line")
      ->required()
      ->check(CLI::ExistingFile);
  hb->add_option("--rate", f.rate, "heartbeats per second")->check(CLI::Range(1.0, 1e6));
  hb->add_option("--connections", f.connections)->check(CLI::Range(1, 64));
  hb->add_option("--seconds", f.seconds)->check(CLI::Range(1.0, 3600.0));
  CLI::App* txns = app.add_subcommand("txns", "closed-loop transaction load from few connections");
  mqtt(txns);
  txns->add_option("--ids-file", f.ids_file, "terminal ids, one per line")
      ->required()
      ->check(CLI::ExistingFile);
  txns->add_option("--records-per-message", f.records_per_message)->check(CLI::Range(1, 1000));
  txns->add_option("--connections", f.connections)->check(CLI::Range(1, 64));
  txns->add_option("--seconds", f.seconds)->check(CLI::Range(1.0, 3600.0));
  CLI::App* naive = app.add_subcommand("naive", "one insert and commit per record");
  naive->add_option("--db-url", f.db_url)->required();
  naive->add_option("--ids-file", f.ids_file, "terminal ids, one per line")
      ->required()
      ->check(CLI::ExistingFile);
  naive->add_option("--clients", f.clients)->check(CLI::Range(1, 64));
  naive->add_option("--seconds", f.seconds)->check(CLI::Range(1.0, 3600.0));
  CLI11_PARSE(app, argc, argv);
  if (raw->parsed()) return Raw(f);
  if (hb->parsed()) return Heartbeats(f);
  if (txns->parsed()) return Txns(f);
  return Naive(f);
}
