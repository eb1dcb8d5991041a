#pragma once

// A tenant's configuration as stored in config_revisions.state: core::TenantParams <->
// posfleet.v1.ConfigDocument (protobuf bytes).

#include <string>

#include "absl/status/statusor.h"
#include "server/core/params.h"

namespace posfleet::store {

std::string EncodeConfigDocument(const core::TenantParams& params);
// DataLoss if the bytes are not a document this server can read.
absl::StatusOr<core::TenantParams> DecodeConfigDocument(const std::string& bytes,
                                                        const std::string& tenant_id);

}  // namespace posfleet::store
