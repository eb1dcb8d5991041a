#include "server/api/unreadable_requests.h"

#include <string>

namespace posfleet::api {
namespace {

using grpc::experimental::InterceptionHookPoints;

class UnreadableRequestAnswer : public grpc::experimental::Interceptor {
 public:
  explicit UnreadableRequestAnswer(grpc::experimental::ServerRpcInfo* info)
      : method_(info->method() != nullptr ? info->method() : "") {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      unreadable_ = true;
    }
    if (unreadable_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        // A sync method answers INTERNAL; a callback one (WatchTerminals) UNIMPLEMENTED.
        (methods->GetSendStatus().error_code() == grpc::StatusCode::INTERNAL ||
         methods->GetSendStatus().error_code() == grpc::StatusCode::UNIMPLEMENTED)) {
      methods->ModifySendStatus(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          "the request could not be read as " + method_ +
              "'s: a string field is not valid UTF-8, or the bytes are not that message"));
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  bool unreadable_ = false;
};

class Factory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new UnreadableRequestAnswer(info);
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewUnreadableRequestAnswer() {
  return std::make_unique<Factory>();
}

}  // namespace posfleet::api
