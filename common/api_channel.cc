#include "common/api_channel.h"

namespace posfleet {

std::shared_ptr<grpc::Channel> ApiChannel(const std::string& address,
                                          std::shared_ptr<grpc::ChannelCredentials> credentials,
                                          int max_message_bytes) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(max_message_bytes);
  args.SetMaxReceiveMessageSize(max_message_bytes);
  // Every method ("name": [{}]); the backoff applies only when the server names no wait.
  args.SetServiceConfigJSON(R"({"methodConfig": [{"name": [{}], "retryPolicy": {
      "maxAttempts": 5, "initialBackoff": "0.05s", "maxBackoff": "2s", "backoffMultiplier": 2,
      "retryableStatusCodes": ["RESOURCE_EXHAUSTED"]}}]})");
  return grpc::CreateCustomChannel(address, std::move(credentials), args);
}

}  // namespace posfleet
