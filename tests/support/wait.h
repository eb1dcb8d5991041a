#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace posfleet::testing {

// Polls `condition` until it holds or `deadline` passes; returns whether it held. The way tests
// wait for something to happen (never a bare sleep).
inline bool WaitFor(const std::function<bool()>& condition,
                    std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

}  // namespace posfleet::testing
