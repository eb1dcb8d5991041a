#include "tools/sign/sign_commands.h"

#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <ostream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/release_trust.h"
#include "common/signing.h"
#include "common/status_macros.h"

namespace posfleet::sign {
namespace {

// Files of documents and keys are small: read whole, at most this much.
constexpr size_t kMaxFileBytes = 1 << 20;

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot be opened"));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  if (data.size() > kMaxFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": larger than ", kMaxFileBytes, " bytes"));
  }
  return data;
}

// Writes `data` to `path` atomically (common/files.h), so a reader never sees half a document;
// with `exclusive`, refuses to replace an existing file (a key is never overwritten).
absl::Status WriteFile(const std::string& path, absl::string_view data, int mode, bool exclusive) {
  if (exclusive && access(path.c_str(), F_OK) == 0) {
    return absl::AlreadyExistsError(absl::StrCat(path, ": exists; not overwritten"));
  }
  return WriteFileAtomically(path, data, mode);
}

absl::StatusOr<v1::SignedEnvelope> ReadEnvelope(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  v1::SignedEnvelope envelope;
  if (!envelope.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a signed document"));
  }
  return envelope;
}

absl::Status WriteEnvelope(const std::string& path, const v1::SignedEnvelope& envelope) {
  return WriteFile(path, envelope.SerializeAsString(), 0644, /*exclusive=*/false);
}

int64_t ExpiresAt(const Context& ctx, int days) {
  return absl::ToUnixSeconds(ctx.env->Now() + absl::Hours(24) * days);
}

// Runs `body`; prints its error and sets the exit code if it fails.
void Run(Context& ctx, const std::function<absl::Status()>& body) {
  absl::Status s = body();
  if (!s.ok()) {
    *ctx.err << "posfleet-sign: " << s.message() << "\n";
    ctx.exit_code = 1;
  }
}

void AddKeygen(CLI::App& app, Context& ctx) {
  auto* cmd =
      app.add_subcommand("keygen", "make a signing key (PKCS#8 PEM, mode 0600) and FILE.pub");
  auto out = std::make_shared<std::string>();
  auto scheme = std::make_shared<std::string>("ecdsa-p256");
  cmd->add_option("--out", *out, "private key file to write (never overwritten)")->required();
  cmd->add_option("--scheme", *scheme, "ecdsa-p256 (default) or ed25519")
      ->check(CLI::IsMember({"ecdsa-p256", "ed25519"}));
  cmd->callback([&ctx, out, scheme] {
    Run(ctx, [&]() -> absl::Status {
      ASSIGN_OR_RETURN(std::string pem,
                       signing::NewKey(*scheme == "ed25519" ? signing::Scheme::kEd25519
                                                            : signing::Scheme::kEcdsaP256Sha256));
      ASSIGN_OR_RETURN(signing::PublicKey pub, signing::PublicKeyOf(pem));
      RETURN_IF_ERROR(WriteFile(*out, pem, 0600, /*exclusive=*/true));
      RETURN_IF_ERROR(
          WriteFile(absl::StrCat(*out, ".pub"), signing::PublicKeyPem(pub), 0644, true));
      *ctx.out << "key " << signing::KeyId(pub) << " (" << *scheme << "): private " << *out
               << ", public " << *out << ".pub\n";
      return absl::OkStatus();
    });
  });
}

// Public key files named on the command line, as a root lists them.
absl::Status AddRole(v1::RootMetadata& root, v1::KeyRole* role,
                     const std::vector<std::string>& files, int threshold) {
  for (const std::string& file : files) {
    ASSIGN_OR_RETURN(std::string pem, ReadFile(file));
    absl::StatusOr<trust::NamedKey> named = trust::NamePublicKey(pem);
    if (!named.ok())
      return absl::InvalidArgumentError(absl::StrCat(file, ": ", named.status().message()));
    (*root.mutable_keys())[named->id] = named->key;
    role->add_key_ids(named->id);
  }
  role->set_threshold(static_cast<uint32_t>(threshold));
  return absl::OkStatus();
}

void AddRoot(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("root", "write an unsigned root document (sign it with `sign`)");
  struct Args {
    uint64_t version = 1;
    int expires_days = 365;
    std::vector<std::string> root, targets, director;
    int root_threshold = 1, targets_threshold = 1, director_threshold = 1;
    std::string out;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--version", a->version, "1, or the version after the root it replaces")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--expires-days", a->expires_days, "days from now")->check(CLI::Range(1, 3650));
  cmd->add_option("--root-key", a->root, "public key file of a root key holder")->required();
  cmd->add_option("--root-threshold", a->root_threshold)->check(CLI::Range(1, 32));
  cmd->add_option("--targets-key", a->targets, "public key file of a release signer")->required();
  cmd->add_option("--targets-threshold", a->targets_threshold)->check(CLI::Range(1, 32));
  cmd->add_option("--director-key", a->director, "the server's assignment public key")->required();
  cmd->add_option("--director-threshold", a->director_threshold)->check(CLI::Range(1, 32));
  cmd->add_option("--out", a->out, "document file to write")->required();
  cmd->callback([&ctx, a] {
    Run(ctx, [&]() -> absl::Status {
      v1::RootMetadata root;
      root.set_version(a->version);
      root.set_expires_unix_seconds(ExpiresAt(ctx, a->expires_days));
      RETURN_IF_ERROR(AddRole(root, root.mutable_root(), a->root, a->root_threshold));
      RETURN_IF_ERROR(AddRole(root, root.mutable_targets(), a->targets, a->targets_threshold));
      RETURN_IF_ERROR(AddRole(root, root.mutable_director(), a->director, a->director_threshold));
      ASSIGN_OR_RETURN(v1::SignedEnvelope e, trust::SignDocument(trust::kRootType, root, {}));
      RETURN_IF_ERROR(WriteEnvelope(a->out, e));
      *ctx.out << "root version " << a->version << " with " << root.keys_size()
               << " keys: " << a->out << " (unsigned; it needs " << a->root_threshold
               << " root signatures";
      if (a->version > 1) *ctx.out << ", and as many from the root it replaces";
      *ctx.out << ")\n";
      return absl::OkStatus();
    });
  });
}

void AddRelease(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("release", "describe an image as an unsigned release document");
  struct Args {
    std::string image, name, version, kind = "app", out;
    uint64_t counter = 0;
    std::vector<std::string> models;
    uint32_t chunk_size = 1 << 20;
    int expires_days = 365;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--image", a->image, "the image file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--name", a->name, "package name: payment-app, os-image, ...")->required();
  cmd->add_option("--version", a->version, "version for people: 4.2.1")->required();
  cmd->add_option("--counter", a->counter, "release counter, higher than every earlier one")
      ->required()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--model", a->models, "vendor/model it is built for (repeat)")->required();
  cmd->add_option("--kind", a->kind, "app, os, firmware, keys or media")
      ->check(CLI::IsMember({"app", "os", "firmware", "keys", "media"}));
  cmd->add_option("--chunk-size", a->chunk_size, "bytes per chunk (default 1 MiB)")
      ->check(CLI::Range(trust::kMinChunkSize, trust::kMaxChunkSize));
  cmd->add_option("--expires-days", a->expires_days, "days from now")->check(CLI::Range(1, 3650));
  cmd->add_option("--out", a->out, "document file to write")->required();
  cmd->callback([&ctx, a] {
    Run(ctx, [&]() -> absl::Status {
      std::ifstream in(a->image, std::ios::binary);
      if (!in) return absl::NotFoundError(absl::StrCat(a->image, ": cannot be opened"));
      ASSIGN_OR_RETURN(trust::ImageDigest digest, trust::DigestImage(in, a->chunk_size));
      v1::ReleaseMetadata r;
      r.set_name(a->name);
      r.set_version(a->version);
      r.set_counter(a->counter);
      for (const std::string& m : a->models) r.add_hardware_models(m);
      r.set_length(digest.length);
      r.set_sha256(digest.sha256);
      r.set_chunk_size(a->chunk_size);
      r.set_chunks_sha256(digest.chunks_sha256);
      r.set_expires_unix_seconds(ExpiresAt(ctx, a->expires_days));
      r.set_kind(a->kind);
      RETURN_IF_ERROR(trust::CheckReleaseFields(r));
      ASSIGN_OR_RETURN(v1::SignedEnvelope e, trust::SignDocument(trust::kReleaseType, r, {}));
      RETURN_IF_ERROR(WriteEnvelope(a->out, e));
      *ctx.out << "release " << a->name << " " << a->version << " (counter " << a->counter
               << "): " << digest.length << " bytes in " << digest.chunks << " chunks, sha256 "
               << digest.sha256 << ": " << a->out << " (unsigned)\n";
      return absl::OkStatus();
    });
  });
}

void AddDowngrade(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "downgrade", "an unsigned authorisation to install an older release (sign it with `sign`)");
  struct Args {
    std::string release, reason, out;
    int expires_days = 7;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--release", a->release, "the signed release document it allows")->required();
  cmd->add_option("--reason", a->reason, "why, for the audit trail")->required();
  cmd->add_option("--expires-days", a->expires_days, "days from now")->check(CLI::Range(1, 90));
  cmd->add_option("--out", a->out, "document file to write")->required();
  cmd->callback([&ctx, a] {
    Run(ctx, [&]() -> absl::Status {
      ASSIGN_OR_RETURN(v1::SignedEnvelope release, ReadEnvelope(a->release));
      v1::ReleaseMetadata r;
      if (release.payload_type() != trust::kReleaseType || !r.ParseFromString(release.payload())) {
        return absl::InvalidArgumentError(absl::StrCat(a->release, ": not a release document"));
      }
      v1::DowngradeAuthorization d;
      d.set_name(r.name());
      d.set_to_counter(r.counter());
      d.set_to_sha256(r.sha256());
      d.set_reason(a->reason);
      d.set_expires_unix_seconds(ExpiresAt(ctx, a->expires_days));
      ASSIGN_OR_RETURN(v1::SignedEnvelope e, trust::SignDocument(trust::kDowngradeType, d, {}));
      RETURN_IF_ERROR(WriteEnvelope(a->out, e));
      *ctx.out << "downgrade to " << r.name() << " " << r.version() << " (counter " << r.counter()
               << "): " << a->out << " (unsigned)\n";
      return absl::OkStatus();
    });
  });
}

void AddSign(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("sign", "add this key's signature to a document, in place");
  auto key = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  cmd->add_option("--key", *key, "private key file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--in", *file, "document file")->required()->check(CLI::ExistingFile);
  cmd->callback([&ctx, key, file] {
    Run(ctx, [&]() -> absl::Status {
      ASSIGN_OR_RETURN(std::string pem, ReadFile(*key));
      ASSIGN_OR_RETURN(v1::SignedEnvelope e, ReadEnvelope(*file));
      ASSIGN_OR_RETURN(trust::NamedKey named, trust::NameKey(pem));
      for (const v1::Signature& s : e.signatures()) {
        if (s.key_id() == named.id) {
          return absl::AlreadyExistsError(
              absl::StrCat(*file, ": already signed by key ", named.id));
        }
      }
      RETURN_IF_ERROR(trust::AddSignature(e, pem));
      RETURN_IF_ERROR(WriteEnvelope(*file, e));
      *ctx.out << e.payload_type() << " " << *file << ": signed by key " << named.id << " ("
               << e.signatures_size() << " signature(s))\n";
      return absl::OkStatus();
    });
  });
}

// The current root: the anchor, then each next root in turn, checked fresh at the end.
absl::StatusOr<trust::TrustedRoot> WalkRoots(const Context& ctx, const std::string& anchor,
                                             const std::vector<std::string>& next) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(anchor));
  ASSIGN_OR_RETURN(trust::TrustedRoot root, trust::TrustedRoot::FromAnchor(bytes));
  for (const std::string& file : next) {
    ASSIGN_OR_RETURN(std::string b, ReadFile(file));
    absl::StatusOr<trust::TrustedRoot> n = root.Next(b);
    if (!n.ok())
      return absl::Status(n.status().code(), absl::StrCat(file, ": ", n.status().message()));
    root = *std::move(n);
  }
  RETURN_IF_ERROR(root.CheckFresh(ctx.env->Now()));
  return root;
}

void AddVerify(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("verify", "check a document against a root (exit 1 if refused)");
  struct Args {
    std::string root, in;
    std::vector<std::string> next;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--root", a->root, "the trusted root document")->required();
  cmd->add_option("--next-root", a->next, "later roots, in order (repeat)");
  cmd->add_option("--in", a->in, "the document to check (default: the last root)");
  cmd->callback([&ctx, a] {
    Run(ctx, [&]() -> absl::Status {
      ASSIGN_OR_RETURN(trust::TrustedRoot root, WalkRoots(ctx, a->root, a->next));
      if (a->in.empty()) {
        *ctx.out << "root version " << root.version() << ": trusted, expires "
                 << absl::FormatTime(absl::RFC3339_sec, root.expires(), absl::UTCTimeZone())
                 << "\n";
        return absl::OkStatus();
      }
      ASSIGN_OR_RETURN(std::string bytes, ReadFile(a->in));
      v1::SignedEnvelope e;
      if (!e.ParseFromString(bytes)) return absl::InvalidArgumentError("not a signed document");
      const absl::Time now = ctx.env->Now();
      if (e.payload_type() == trust::kReleaseType) {
        ASSIGN_OR_RETURN(v1::ReleaseMetadata r, root.VerifyRelease(bytes, now));
        *ctx.out << "release " << r.name() << " " << r.version() << " (counter " << r.counter()
                 << ", " << r.length() << " bytes, sha256 " << r.sha256() << ", for "
                 << absl::StrJoin(r.hardware_models(), ", ") << "): verified\n";
      } else if (e.payload_type() == trust::kDowngradeType) {
        ASSIGN_OR_RETURN(v1::DowngradeAuthorization d, root.VerifyDowngrade(bytes, now));
        *ctx.out << "downgrade to " << d.name() << " counter " << d.to_counter() << ": verified\n";
      } else if (e.payload_type() == trust::kAssignmentType) {
        ASSIGN_OR_RETURN(v1::Assignment as, root.VerifyAssignment(bytes, now));
        *ctx.out << "assignment of " << as.release_name() << " counter " << as.release_counter()
                 << " to " << as.terminal_id() << ": verified\n";
      } else if (e.payload_type() == trust::kRootType) {
        ASSIGN_OR_RETURN(trust::TrustedRoot next, root.Next(bytes));
        *ctx.out << "root version " << next.version() << ": follows version " << root.version()
                 << "\n";
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown document type \"", e.payload_type(), "\""));
      }
      return absl::OkStatus();
    });
  });
}

void AddShow(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("show", "print a document and who signed it (JSON)");
  auto file = std::make_shared<std::string>();
  cmd->add_option("--in", *file, "document file")->required()->check(CLI::ExistingFile);
  cmd->callback([&ctx, file] {
    Run(ctx, [&]() -> absl::Status {
      ASSIGN_OR_RETURN(v1::SignedEnvelope e, ReadEnvelope(*file));
      std::unique_ptr<google::protobuf::Message> doc;
      if (e.payload_type() == trust::kRootType) doc = std::make_unique<v1::RootMetadata>();
      if (e.payload_type() == trust::kReleaseType) doc = std::make_unique<v1::ReleaseMetadata>();
      if (e.payload_type() == trust::kDowngradeType) {
        doc = std::make_unique<v1::DowngradeAuthorization>();
      }
      if (e.payload_type() == trust::kAssignmentType) doc = std::make_unique<v1::Assignment>();
      if (!doc || !doc->ParseFromString(e.payload())) {
        return absl::InvalidArgumentError(absl::StrCat(*file, ": unreadable document"));
      }
      std::string json;
      google::protobuf::util::JsonPrintOptions options;
      options.add_whitespace = true;
      if (!google::protobuf::util::MessageToJsonString(*doc, &json, options).ok()) {
        return absl::InternalError("cannot print the document");
      }
      *ctx.out << e.payload_type() << " " << json;
      for (const v1::Signature& s : e.signatures())
        *ctx.out << "signed by key " << s.key_id() << "\n";
      if (e.signatures().empty()) *ctx.out << "unsigned\n";
      return absl::OkStatus();
    });
  });
}

}  // namespace

void AddSignCommands(CLI::App& app, Context& ctx) {
  AddKeygen(app, ctx);
  AddRoot(app, ctx);
  AddRelease(app, ctx);
  AddDowngrade(app, ctx);
  AddSign(app, ctx);
  AddVerify(app, ctx);
  AddShow(app, ctx);
}

}  // namespace posfleet::sign
