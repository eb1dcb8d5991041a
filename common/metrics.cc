#include "common/metrics.h"

#include "absl/strings/str_cat.h"

namespace posfleet {

void Counters::Add(absl::string_view name, absl::string_view labels, int64_t delta) {
  absl::MutexLock lock(&mu_);
  auto it = series_.find(name);
  if (it == series_.end())
    it = series_.emplace(std::string(name), std::map<std::string, int64_t>()).first;
  it->second[std::string(labels)] += delta;
}

int64_t Counters::Get(absl::string_view name, absl::string_view labels) const {
  absl::MutexLock lock(&mu_);
  auto it = series_.find(name);
  if (it == series_.end()) return 0;
  auto s = it->second.find(std::string(labels));
  return s == it->second.end() ? 0 : s->second;
}

std::string Counters::Render() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, series] : series_) {
    absl::StrAppend(&out, "# TYPE ", name, " counter\n");
    for (const auto& [labels, value] : series) {
      absl::StrAppend(&out, name, labels.empty() ? "" : absl::StrCat("{", labels, "}"), " ", value,
                      "\n");
    }
  }
  return out;
}

}  // namespace posfleet
