#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <string>

namespace posfleet::testing {

// A fresh directory under /tmp, removed with everything in it when this goes out of scope.
// Header-only, so that unit-test targets without the test-support library can use it.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace posfleet::testing
