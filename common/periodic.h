#pragma once

// The loop of every periodic job: run some work on a thread of its own every `interval` by the
// Env's time, until stopped. One place owns the thread, the stop notification and the join, so a
// job only says what one run does.

#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/env.h"

namespace posfleet {

class Periodic {
 public:
  // kNow: the first run is at Start (publishers catching up after a restart); kAfterInterval:
  // one interval later (sweeps whose caller ran one at start-up already).
  enum class First { kNow, kAfterInterval };

  Periodic(Env& env, absl::Duration interval, First first, std::function<void()> work)
      : env_(env), interval_(interval), first_(first), work_(std::move(work)) {}
  ~Periodic() { Stop(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  // Starts the thread; once only.
  void Start() {
    thread_ = std::thread([this] {
      if (first_ == First::kNow) work_();
      while (!env_.WaitForNotification(stop_, interval_)) work_();
    });
  }
  // Stops and joins; a run in progress finishes first. Idempotent, and safe before Start.
  void Stop() {
    if (!stop_.HasBeenNotified()) stop_.Notify();
    if (thread_.joinable()) thread_.join();
  }

 private:
  Env& env_;
  const absl::Duration interval_;
  const First first_;
  const std::function<void()> work_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace posfleet
