#include "common/text_guard.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "posfleet/v1/enrollment.pb.h"
#include "posfleet/v1/terminal.pb.h"

namespace posfleet {
namespace {

TEST(CheckTextTest, ControlCharactersInvalidUtf8AndCardNumbers) {
  EXPECT_TRUE(CheckText("f", "Café Nord, Hauptstr. 12 — 北").ok());
  EXPECT_TRUE(CheckText("f", "").ok());
  const std::pair<const char*, std::string> bad[] = {
      {"NUL", std::string("ab\0c", 4)},
      {"newline", "a\nb"},
      {"tab", "a\tb"},
      {"escape", "a\x1b[31m"},
      {"DEL", "a\x7f"},
      {"C1 control", "a\xc2\x85"},
      {"truncated UTF-8", "caf\xc3"},
      {"overlong UTF-8", "\xc0\xaf"},
      {"surrogate", "\xed\xa0\x80"},
      {"card number", "4111_1111_1111_1111"},
  };
  for (const auto& [what, text] : bad) {
    absl::Status s = CheckText("field", text);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << what;
    EXPECT_TRUE(absl::StartsWith(s.message(), "field: ")) << what << ": " << s.message();
    EXPECT_FALSE(absl::StrContains(s.message(), "4111")) << what;
  }
  // Multiline text (PEM) may have line breaks and tabs, nothing else.
  EXPECT_TRUE(CheckText("pem", "-----BEGIN X-----\r\nAAAA\n\t", true).ok());
  EXPECT_FALSE(CheckText("pem", std::string("a\0", 2), true).ok());
}

TEST(CheckMessageTextTest, EveryStringFieldWithItsPath) {
  v1::BatchCreateTerminalsRequest batch;
  batch.add_terminals()->set_serial("S1");
  v1::TerminalSpec* second = batch.add_terminals();
  second->set_serial("S2");
  (*second->mutable_labels())["region"] = "4111 1111 1111 1111";
  absl::Status s = CheckMessageText(batch);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_TRUE(absl::StartsWith(s.message(), "terminals[1].labels[region]: ")) << s.message();

  (*second->mutable_labels())["region"] = "north";
  ASSERT_TRUE(CheckMessageText(batch).ok());
  (*second->mutable_labels())[std::string("k\0", 2)] = "v";
  s = CheckMessageText(batch);
  EXPECT_TRUE(absl::StrContains(s.message(), "terminals[1].labels key")) << s.message();

  v1::EnrollRequest enroll;
  enroll.set_csr_pem(
      "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n");
  EXPECT_TRUE(CheckMessageText(enroll).ok());
  enroll.set_serial("SN\n1");
  EXPECT_TRUE(absl::StartsWith(CheckMessageText(enroll).message(), "serial: "));
}

}  // namespace
}  // namespace posfleet
