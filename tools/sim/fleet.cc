#include "tools/sim/fleet.h"

#include <deque>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace posfleet::sim {
namespace {

// Still on its way to a session: what the ramp limits.
bool Settling(agent::State s) {
  return s == agent::State::kUnenrolled || s == agent::State::kEnrolling ||
         s == agent::State::kConnecting || s == agent::State::kRenewing;
}

}  // namespace

SimFleet::SimFleet(std::vector<SimTerminalSpec> specs, int io_threads, uint64_t outbox_capacity,
                   std::string currency) {
  for (int i = 0; i < std::max(1, io_threads); ++i) {
    loops_.push_back(std::make_unique<agent::MqttLoop>());
  }
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < specs.size(); ++i) {
    auto m = std::make_unique<Member>();
    m->spec = std::move(specs[i]);
    m->spec.options.loop = loops_[i % loops_.size()].get();
    m->health = std::make_unique<SimHealth>(m->spec.seed, m->spec.behaviour);
    m->outbox = agent::NewMemoryOutbox(outbox_capacity, RealEnv());
    // A new run at each start: a restarted simulator never submits an id again.
    static const uint64_t run = static_cast<uint64_t>(absl::ToUnixMicros(RealEnv().Now()));
    m->stream =
        std::make_unique<TxnStream>(m->spec.seed, m->spec.serial, m->spec.mid, currency, run);
    m->spec.options.outbox = m->outbox.get();
    m->spec.options.outbox_capacity = outbox_capacity;
    m->spec.options.on_committed = [this](absl::Duration d) {
      latency_.Record(d);
      committed_.fetch_add(1, std::memory_order_relaxed);
    };
    members_.push_back(std::move(m));
  }
}

SimFleet::~SimFleet() {
  {
    absl::MutexLock lock(&txn_mu_);
    txn_stop_ = true;
  }
  if (generator_.joinable()) generator_.join();
  absl::MutexLock lock(&mu_);
  for (auto& m : members_) {
    if (m->agent) m->agent->Stop();
  }
  for (auto& m : members_) {
    if (m->thread.joinable()) m->thread.join();
    m->agent.reset();
  }
}

size_t SimFleet::size() const {
  absl::MutexLock lock(&mu_);
  return members_.size();
}

void SimFleet::Launch(Member& m) {
  m.agent = std::make_unique<agent::Agent>(m.spec.options, *m.health);
  m.killed = false;
  m.returned = std::make_shared<std::atomic<bool>>(false);
  agent::Agent* a = m.agent.get();
  const std::string serial = m.spec.serial;
  m.thread = std::thread([this, a, serial, returned = m.returned] {
    absl::Status s = a->Run();
    *returned = true;
    if (!s.ok()) {
      ++failed_;
      std::cerr << "posfleet-sim: " << serial << " stopped: " << s.ToString() << std::endl;
    }
  });
}

void SimFleet::Start(int ramp) {
  std::deque<agent::Agent*> settling;
  const size_t n = size();
  for (size_t i = 0; i < n && !stopping_; ++i) {
    while (!stopping_) {
      while (!settling.empty() && !Settling(settling.front()->state())) settling.pop_front();
      // The oldest may be slow while younger ones are done: look at all of them now and then.
      if (settling.size() >= static_cast<size_t>(ramp)) {
        std::erase_if(settling, [](agent::Agent* a) { return !Settling(a->state()); });
      }
      if (settling.size() < static_cast<size_t>(std::max(1, ramp))) break;
      env_.SleepFor(absl::Milliseconds(5));
    }
    if (stopping_) break;
    absl::MutexLock lock(&mu_);
    Member& m = *members_[i];
    Launch(m);
    settling.push_back(m.agent.get());
  }
}

SimFleet::Member* SimFleet::Find(const std::string& ref) {
  for (auto& m : members_) {
    if (m->spec.serial == ref || (!m->spec.terminal_id.empty() && m->spec.terminal_id == ref)) {
      return m.get();
    }
  }
  return nullptr;
}

SimTerminalView SimFleet::View(const Member& m) const {
  SimTerminalView v{m.spec.serial, m.spec.terminal_id, "not started"};
  if (m.killed) {
    v.state = "killed";
  } else if (m.agent && *m.returned) {
    v.state = "stopped";
  } else if (m.agent && m.agent->frozen()) {
    v.state = "frozen";
  } else if (m.agent) {
    const agent::State s = m.agent->state();
    v.state = s == agent::State::kUnenrolled ? "starting" : std::string(agent::StateName(s));
  }
  return v;
}

absl::StatusOr<SimTerminalView> SimFleet::Kill(const std::string& ref) {
  absl::MutexLock lock(&mu_);
  Member* m = Find(ref);
  if (m == nullptr) return absl::NotFoundError(absl::StrCat("no simulated terminal ", ref));
  if (m->killed || !m->agent) return View(*m);
  m->agent->Kill();
  if (m->thread.joinable()) m->thread.join();
  m->killed = true;
  return View(*m);
}

absl::StatusOr<SimTerminalView> SimFleet::Freeze(const std::string& ref) {
  absl::MutexLock lock(&mu_);
  Member* m = Find(ref);
  if (m == nullptr) return absl::NotFoundError(absl::StrCat("no simulated terminal ", ref));
  if (m->killed || !m->agent) {
    return absl::FailedPreconditionError(absl::StrCat(ref, " is not running; revive it first"));
  }
  m->agent->SetFrozen(true);
  return View(*m);
}

absl::StatusOr<SimTerminalView> SimFleet::Revive(const std::string& ref) {
  absl::MutexLock lock(&mu_);
  Member* m = Find(ref);
  if (m == nullptr) return absl::NotFoundError(absl::StrCat("no simulated terminal ", ref));
  if (m->killed) {
    m->agent.reset();
    m->spec.options.activation_code.clear();  // enrolled already: the state directory knows
    Launch(*m);
  } else if (m->agent) {
    m->agent->SetFrozen(false);
  }
  return View(*m);
}

std::vector<SimTerminalView> SimFleet::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<SimTerminalView> out;
  out.reserve(members_.size());
  for (const auto& m : members_) out.push_back(View(*m));
  return out;
}

void SimFleet::Flap() {
  absl::MutexLock lock(&mu_);
  for (auto& m : members_) {
    if (m->spec.flaps && m->agent && !m->killed) m->agent->DropConnection();
  }
}

int SimFleet::online() const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto& m : members_) {
    n += m->agent && !m->killed && m->agent->state() == agent::State::kOnline;
  }
  return n;
}

int SimFleet::failed() const { return failed_; }

void SimFleet::SetTransactionRate(double per_second) {
  {
    absl::MutexLock lock(&txn_mu_);
    txn_rate_ = std::max(0.0, per_second);
  }
  if (!generator_.joinable() && per_second > 0) {
    generator_ = std::thread([this] { GenerateTransactions(); });
  }
}

void SimFleet::GenerateTransactions() {
  std::mt19937_64 rng(0x7e57);
  double due = 0;
  absl::Time last = env_.Now();
  std::vector<Member*> running;
  absl::Time refreshed = absl::InfinitePast();
  while (true) {
    double rate;
    {
      absl::MutexLock lock(&txn_mu_);
      auto woken = [this] { return txn_stop_; };
      env_.AwaitWithTimeout(txn_mu_, absl::Condition(&woken), absl::Milliseconds(10));
      if (txn_stop_) return;
      rate = txn_rate_;
    }
    const absl::Time now = env_.Now();
    due += rate * absl::ToDoubleSeconds(now - last);
    last = now;
    if (due < 1) continue;
    absl::MutexLock lock(&mu_);
    // Which terminals run changes slowly (the ramp, kills, revives): look now and then.
    if (now - refreshed > absl::Milliseconds(500)) {
      running.clear();
      for (auto& m : members_) {
        if (m->agent && !m->killed) running.push_back(m.get());
      }
      refreshed = now;
    }
    if (running.empty()) {
      refused_ += static_cast<uint64_t>(due);
      due -= std::floor(due);
      continue;
    }
    for (; due >= 1; due -= 1) {
      Member& m = *running[rng() % running.size()];
      if (m.agent && !m.killed && m.agent->RecordTransaction(m.stream->Next(now)).ok()) {
        recorded_.fetch_add(1, std::memory_order_relaxed);
      } else {
        refused_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
}

SimTxnStats SimFleet::TxnStats(bool reset_latency) {
  SimTxnStats s;
  s.recorded = recorded_;
  s.refused = refused_;
  s.committed = committed_;
  s.latency_count = latency_.count();
  s.p50 = latency_.Quantile(0.5);
  s.p99 = latency_.Quantile(0.99);
  s.max = latency_.Max();
  if (reset_latency) latency_.Reset();
  absl::MutexLock lock(&mu_);
  for (const auto& m : members_) s.backlog += m->outbox->size();
  return s;
}

}  // namespace posfleet::sim
