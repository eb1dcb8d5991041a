#include "common/param_spec_proto.h"

#include "absl/strings/str_cat.h"

namespace posfleet {

void ToProto(const ParamSpec& spec, v1::ParamSpec* out) {
  out->set_key(spec.key);
  out->set_type(static_cast<v1::ParamType>(static_cast<int>(spec.type) + 1));
  if (spec.min) out->set_min(*spec.min);
  if (spec.max) out->set_max(*spec.max);
  out->set_max_length(static_cast<uint32_t>(spec.max_length));
  out->set_max_items(static_cast<uint32_t>(spec.max_items));
  out->set_pattern(spec.pattern);
  for (const std::string& a : spec.allowed) out->add_allowed(a);
  if (spec.default_value) out->set_default_value(*spec.default_value);
  out->set_description(spec.description);
  out->set_secret(spec.secret);
}

absl::StatusOr<ParamSpec> FromProto(const v1::ParamSpec& in) {
  ParamSpec spec;
  spec.key = in.key();
  if (in.type() <= v1::PARAM_TYPE_UNSPECIFIED || in.type() > v1::PARAM_TYPE_LIST) {
    return absl::InvalidArgumentError(
        absl::StrCat(in.key(),
                     ": type is required (string, integer, decimal, boolean, enum, "
                     "duration or list)"));
  }
  spec.type = static_cast<ParamType>(static_cast<int>(in.type()) - 1);
  if (in.has_min()) spec.min = in.min();
  if (in.has_max()) spec.max = in.max();
  spec.max_length = in.max_length();
  spec.max_items = in.max_items();
  spec.pattern = in.pattern();
  spec.allowed.assign(in.allowed().begin(), in.allowed().end());
  if (in.has_default_value()) spec.default_value = in.default_value();
  spec.description = in.description();
  spec.secret = in.secret();
  return spec;
}

}  // namespace posfleet
