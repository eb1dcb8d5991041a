// Every string field of every request of every posfleet RPC goes through the text rule
// (common/text_guard.h). The cases are enumerated from the proto descriptors, so an RPC or a field
// added later is covered by this test without anyone listing it: for each string field (nested,
// repeated and map ones included), a request with only that field set to a card number, a NUL or
// invalid UTF-8 is sent through the real gRPC server, and must come back INVALID_ARGUMENT naming
// the field, with nothing written.
//
// grpc.health.v1 and the reflection service are gRPC's own: they store and echo nothing.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/core/permissions.h"
#include "tests/support/api_harness.h"

namespace posfleet {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using testing::ApiHarness;

// One string field reachable from a request type, as the chain of fields leading to it.
struct FieldPath {
  std::vector<const FieldDescriptor*> chain;
  bool map_key = false;  // the last field is a map; put the text in its key
  std::string Name() const {
    std::string out;
    for (const FieldDescriptor* f : chain) absl::StrAppend(&out, out.empty() ? "" : ".", f->name());
    return out;
  }
};

void CollectStringFields(const Descriptor* d, std::vector<const FieldDescriptor*>& chain,
                         std::vector<FieldPath>& out, int depth) {
  if (depth > 4) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    chain.push_back(f);
    if (f->is_map()) {
      const FieldDescriptor* key = f->message_type()->map_key();
      const FieldDescriptor* value = f->message_type()->map_value();
      if (key->type() == FieldDescriptor::TYPE_STRING) out.push_back({chain, true});
      if (value->type() == FieldDescriptor::TYPE_STRING) out.push_back({chain, false});
      if (value->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        CollectStringFields(value->message_type(), chain, out, depth + 1);
      }
    } else if (f->type() == FieldDescriptor::TYPE_STRING) {
      out.push_back({chain, false});
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      CollectStringFields(f->message_type(), chain, out, depth + 1);
    }
    chain.pop_back();
  }
}

// Sets the field at `path` (creating the messages on the way; one element of a repeated one) to
// `text`.
void SetAt(Message* m, const FieldPath& path, const std::string& text) {
  for (size_t i = 0; i < path.chain.size(); ++i) {
    const FieldDescriptor* f = path.chain[i];
    const bool last = i + 1 == path.chain.size();
    const google::protobuf::Reflection* r = m->GetReflection();
    if (f->is_map()) {
      Message* entry = r->AddMessage(m, f);
      const FieldDescriptor* key = f->message_type()->map_key();
      const FieldDescriptor* value = f->message_type()->map_value();
      if (key->type() == FieldDescriptor::TYPE_STRING) {
        entry->GetReflection()->SetString(entry, key, last && path.map_key ? text : "k");
      }
      if (last) {
        if (!path.map_key) entry->GetReflection()->SetString(entry, value, text);
        return;
      }
      m = entry->GetReflection()->MutableMessage(entry, value);
      continue;
    }
    if (last) {
      if (f->is_repeated()) {
        r->AddString(m, f, text);
      } else {
        r->SetString(m, f, text);
      }
      return;
    }
    m = f->is_repeated() ? r->AddMessage(m, f) : r->MutableMessage(m, f);
  }
}

class TextGuardApiTest : public ::testing::Test {
 protected:
  // Calls `method` with `request` as the global admin (or `token`); returns the status.
  grpc::Status Call(const google::protobuf::MethodDescriptor* method, const Message& request,
                    const std::string& token = "") {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + (token.empty() ? h_.admin : token));
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const std::string name = absl::StrCat("/", method->service()->full_name(), "/", method->name());
    grpc::Slice slice(request.SerializeAsString());
    grpc::ByteBuffer bytes(&slice, 1);
    // Enrollment is served on the terminals' listener, everything else on the operators'.
    grpc::GenericStub stub(method->service()->full_name() == "posfleet.v1.EnrollmentService"
                               ? h_.device_channel
                               : h_.channel);
    grpc::CompletionQueue cq;
    grpc::Status status;
    void* tag = nullptr;
    bool ok = false;
    if (method->server_streaming()) {
      auto call = stub.PrepareCall(&ctx, name, &cq);
      call->StartCall(reinterpret_cast<void*>(1));
      cq.Next(&tag, &ok);
      call->WriteLast(bytes, grpc::WriteOptions(), reinterpret_cast<void*>(2));
      cq.Next(&tag, &ok);
      grpc::ByteBuffer response;
      call->Read(&response, reinterpret_cast<void*>(3));
      cq.Next(&tag, &ok);
      call->Finish(&status, reinterpret_cast<void*>(4));
      cq.Next(&tag, &ok);
    } else {
      auto call = stub.PrepareUnaryCall(&ctx, name, bytes, &cq);
      call->StartCall();
      grpc::ByteBuffer response;
      call->Finish(&response, &status, reinterpret_cast<void*>(1));
      cq.Next(&tag, &ok);
    }
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    return status;
  }

  int64_t AuditRows(const std::string& tenant_id) {
    pqxx::connection conn(h_.db_url);
    return pqxx::nontransaction(conn)
        .exec_params1("SELECT count(*) FROM audit_log WHERE tenant_id = $1", tenant_id)[0]
        .as<int64_t>();
  }

  int64_t Rows(const std::string& table) {
    pqxx::connection conn(h_.db_url);
    return pqxx::nontransaction(conn).exec1("SELECT count(*) FROM " + table)[0].as<int64_t>();
  }

  ApiHarness h_;
};

const std::vector<std::string>& Services() {
  static const std::vector<std::string> services = {
      "posfleet.v1.TerminalService",    "posfleet.v1.MerchantService",
      "posfleet.v1.TenantService",      "posfleet.v1.TokenService",
      "posfleet.v1.AuditService",       "posfleet.v1.EnrollmentService",
      "posfleet.v1.TransactionService", "posfleet.v1.ConfigService"};
  return services;
}

TEST_F(TextGuardApiTest, EveryStringFieldOfEveryRequestIsGuarded) {
  // Every service is registered in the server the harness runs, so its descriptors are in the
  // generated pool.
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();

  // Values that must each be refused, in every field.
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"card number", "4111.1111.1111.1111"},
      {"NUL", std::string("a\0b", 3)},
      {"invalid UTF-8", "caf\xc3"},
  };
  const int64_t audit_before = Rows("audit_log");
  const int64_t terminals_before = Rows("terminals");
  int checked = 0;
  for (const std::string& service_name : Services()) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(service_name);
    ASSERT_NE(service, nullptr) << service_name;
    for (int m = 0; m < service->method_count(); ++m) {
      const google::protobuf::MethodDescriptor* method = service->method(m);
      std::vector<FieldPath> paths;
      std::vector<const FieldDescriptor*> chain;
      CollectStringFields(method->input_type(), chain, paths, 0);
      for (const FieldPath& path : paths) {
        for (const auto& [what, text] : bad) {
          std::unique_ptr<Message> request(google::protobuf::MessageFactory::generated_factory()
                                               ->GetPrototype(method->input_type())
                                               ->New());
          SetAt(request.get(), path, text);
          const grpc::Status s = Call(method, *request);
          const std::string where = absl::StrCat(method->full_name(), " ", path.Name(),
                                                 path.map_key ? " (key)" : "", ": ", what);
          // Invalid UTF-8 in a proto3 string fails to parse inside gRPC before our code runs;
          // the answer says so, if not which field (server/api/unreadable_requests.h).
          if (what == "invalid UTF-8") {
            EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
                << where << ": " << s.error_message();
            EXPECT_TRUE(absl::StrContains(s.error_message(), "not valid UTF-8"))
                << where << ": " << s.error_message();
            continue;
          }
          EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
              << where << ": " << s.error_message();
          EXPECT_TRUE(absl::StrContains(s.error_message(), path.chain.back()->name()))
              << where << ": " << s.error_message();
          EXPECT_FALSE(absl::StrContains(s.error_message(), "4111")) << where;
          ++checked;
        }
      }
    }
  }
  // The walk found the fields (a broken walk would check nothing and pass).
  EXPECT_GT(checked, 100);
  EXPECT_EQ(Rows("terminals"), terminals_before);
  (void)audit_before;  // refused mutating calls are audited: the next test
}

// Every mutating call, accepted or refused, writes exactly one audit row under the caller's
// scope, whoever refuses it: the core (validation, permissions, the database) or the adapter
// before it (the text rule, an enum value the adapter does not know). Enumerated from the
// descriptors: every posfleet RPC the core counts as mutating (core::Mutates), each probed with
// an empty request, one with a NUL in a string field and one with an unknown enum value, as a
// tenant-scoped admin. Enroll and RenewCertificate are anonymous (a terminal proving itself):
// the enrollment audits them itself, under the terminal.
TEST_F(TextGuardApiTest, EveryMutatingCallWritesExactlyOneAuditRowUnderTheCallersScope) {
  const v1::Tenant tenant = h_.CreateTenant("scoped");
  const std::string admin = h_.CreateToken(v1::ROLE_ADMIN, tenant.id());
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  int methods = 0;
  for (const std::string& service_name : Services()) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(service_name);
    ASSERT_NE(service, nullptr);
    for (int m = 0; m < service->method_count(); ++m) {
      const google::protobuf::MethodDescriptor* method = service->method(m);
      std::optional<core::Method> core_method = core::MethodByRpcName(method->name());
      ASSERT_TRUE(core_method.has_value()) << method->full_name() << " has no core::Method";
      if (!core::Mutates(*core_method) || *core_method == core::Method::kEnroll ||
          *core_method == core::Method::kRenewCertificate) {
        continue;
      }
      ++methods;
      const Message* prototype =
          google::protobuf::MessageFactory::generated_factory()->GetPrototype(method->input_type());
      std::vector<std::pair<std::string, std::unique_ptr<Message>>> probes;
      probes.emplace_back("empty", prototype->New());
      std::vector<FieldPath> paths;
      std::vector<const FieldDescriptor*> chain;
      CollectStringFields(method->input_type(), chain, paths, 0);
      if (!paths.empty()) {
        auto nul = std::unique_ptr<Message>(prototype->New());
        SetAt(nul.get(), paths.front(), std::string("a\0b", 3));
        probes.emplace_back("NUL in " + paths.front().Name(), std::move(nul));
      }
      for (int i = 0; i < method->input_type()->field_count(); ++i) {
        const FieldDescriptor* f = method->input_type()->field(i);
        if (f->type() != FieldDescriptor::TYPE_ENUM || f->is_repeated()) continue;
        auto unknown = std::unique_ptr<Message>(prototype->New());
        unknown->GetReflection()->SetEnumValue(unknown.get(), f, 999);
        probes.emplace_back("unknown " + f->name(), std::move(unknown));
        break;
      }
      for (const auto& [what, request] : probes) {
        const int64_t before = AuditRows(tenant.id());
        const int64_t all_before = Rows("audit_log");
        const grpc::Status s = Call(method, *request, admin);
        EXPECT_EQ(AuditRows(tenant.id()) - before, 1)
            << method->full_name() << " (" << what << "): " << s.error_message();
        EXPECT_EQ(Rows("audit_log") - all_before, 1) << method->full_name() << " (" << what << ")";
      }
    }
  }
  EXPECT_GE(methods, 20);
}

}  // namespace
}  // namespace posfleet
