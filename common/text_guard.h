#pragma once

#include <google/protobuf/message.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

// The one rule for text that comes from outside the process: every string field of every API
// request, every flag and file posfleetctl reads, every link payload. Applied once, at each
// adapter's boundary (server/api/handler.h, server/link/uplink_decoder.cc, posfleetctl's RPC
// call), so that a field added later is covered without anyone remembering it.
namespace posfleet {

// OK, or InvalidArgument("<field>: ...") when `text`
//   - is not valid UTF-8;
//   - holds a control character (U+0000-001F, U+007F-009F); `multiline` allows \n, \r and \t
//     (PEM blocks);
//   - holds something that looks like a full card number, in any spelling (common/pan.h).
// The message never echoes the text.
absl::Status CheckText(absl::string_view field, absl::string_view text, bool multiline = false);

// CheckText on every string field of `message`, recursively: singular, repeated, map keys and
// values, nested messages. Errors name the field's path ("terminal.labels[region]", or
// "terminals[3].serial"); fields whose name ends in "_pem" are multiline. Bytes fields are not
// text and are left to their own checks.
absl::Status CheckMessageText(const google::protobuf::Message& message);

}  // namespace posfleet
