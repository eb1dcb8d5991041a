#include "agent/health.h"

#include <sys/statvfs.h>

#include <fstream>

namespace posfleet::agent {

void HostHealthProvider::Fill(v1::Heartbeat& hb) {
  hb.set_battery_percent(-1);
  hb.set_paper(v1::Heartbeat::PAPER_NO_PRINTER);
  hb.set_network("ethernet");
  std::ifstream uptime("/proc/uptime");
  double seconds = 0;
  if (uptime >> seconds) hb.set_uptime_seconds(static_cast<uint64_t>(seconds));
  struct statvfs fs {};
  if (statvfs(state_dir_.c_str(), &fs) == 0) {
    hb.set_storage_free_bytes(static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize);
  }
  (*hb.mutable_versions())["agent"] = kAgentVersion;
}

}  // namespace posfleet::agent
