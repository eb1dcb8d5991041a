#pragma once

// Files that must never be seen half written: the agent's state, the signer's keys and documents.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace posfleet {

// Writes `data` to `path` with `mode` through `path`.tmp: write, fsync, rename, fsync the
// directory. A power cut leaves the old file or the new one, never half of one. Unavailable,
// naming the step and errno, on failure.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, int mode);

}  // namespace posfleet
