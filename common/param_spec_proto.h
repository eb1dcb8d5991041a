#pragma once

// ParamSpec <-> posfleet.v1.ParamSpec, for the API, the stored configuration document, the
// down/config payload and the agent that checks it.

#include "absl/status/statusor.h"
#include "common/param_spec.h"
#include "posfleet/v1/config.pb.h"

namespace posfleet {

void ToProto(const ParamSpec& spec, v1::ParamSpec* out);
// InvalidArgument for an unknown type; the constraints themselves are checked by
// ValidateParamSpec.
absl::StatusOr<ParamSpec> FromProto(const v1::ParamSpec& in);

}  // namespace posfleet
