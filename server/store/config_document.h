#pragma once

// A tenant's configuration as stored in config_revisions.state: core::TenantParams <->
// posfleet.v1.ConfigDocument (protobuf bytes).

#include <string>

#include "absl/status/statusor.h"
#include "server/core/config.h"
#include "server/core/params.h"

namespace posfleet::store {

std::string EncodeConfigDocument(const core::TenantParams& params);
// DataLoss if the bytes are not a document this server can read.
absl::StatusOr<core::TenantParams> DecodeConfigDocument(const std::string& bytes,
                                                        const std::string& tenant_id);
// Replaces every sealed value in the stored document `bytes` with reseal(value); returns how
// many changed (0: `bytes` untouched). DataLoss if the bytes are not a document.
absl::StatusOr<int64_t> ResealConfigDocument(std::string* bytes, const core::ResealFn& reseal);

}  // namespace posfleet::store
