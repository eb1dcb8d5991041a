#include "common/param_set_hash.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace posfleet {
namespace {

// The hash is a contract between the server and every agent in the field: the same bytes must
// give the same hash in every release, so this pins it to a known answer. A change that means to
// alter it needs a new version line ("posfleet param set 3") and agents that know it first.
// The answers were checked outside this code: the digest with `openssl dgst -sha256 -hmac`, the
// set with sha256sum over the text the header describes, for example
//   17:contactless.limit{type7:integer;min1:0;max5:500.5;length1:0;items1:0;pattern0:;
//   allowed0[]secret1:0;}=2:30\n   (one line, after "posfleet param set 2\n").
TEST(ParamSetHashTest, KnownAnswerThatAgentsInTheFieldDependOn) {
  ParamSpec limit;
  limit.key = "contactless.limit";
  limit.type = ParamType::kInteger;
  limit.min = 0;
  limit.max = 500.5;
  limit.description = "not hashed";
  ParamSpec mode;
  mode.key = "receipt.mode";
  mode.type = ParamType::kEnum;
  mode.allowed = {"paper", "email"};
  ParamSpec host;
  host.key = "host.name";
  host.type = ParamType::kString;
  host.max_length = 64;
  host.pattern = "[a-z.]+";
  ParamSpec pw;
  pw.key = "host.password";
  pw.secret = true;
  const std::string digest = SecretDigest(std::string(64, 'a'), "hunter2");
  EXPECT_EQ(digest, "194e6ce42fd2d4240624607701b0a5f4df867ca9cd60907f06621378ed285686");
  const std::string l = EncodeSpecForHash(limit), h = EncodeSpecForHash(host),
                    w = EncodeSpecForHash(pw), m = EncodeSpecForHash(mode);
  std::vector<HashedParam> hashed = {{l, "30"}, {h, "acq.example"}, {w, digest}, {m, "paper"}};
  EXPECT_EQ(ParamSetHash(hashed),
            "4cdedffb3ef0942a74b52233f17449ad54d65e8a6f6695a08a23b02f06bc0c76");
  EXPECT_EQ(ParamSetHash({}), "dc1313250a53dc5b0be9426d0d1d6b61330307a66fbcaca44d094f3e4813a6d4");
}

}  // namespace
}  // namespace posfleet
