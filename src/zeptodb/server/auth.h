// Who may do what: users with passwords, API keys, and their roles.
//
// Roles: reader (queries), writer (queries, INSERT, DDL), admin
// (everything). Credentials come as HTTP Basic auth, X-ClickHouse-User /
// X-ClickHouse-Key headers, user/password URL parameters, or
// `Authorization: Bearer zepto_<64 hex>` API keys. Passwords and keys are
// stored as SHA-256 hex digests and compared in constant time. The keys
// live in a text file (one key a line: id, role, digest, creation time,
// name) that the `zepto_server keys` subcommand edits and the server
// re-reads when it changes, so keys are created and revoked without a
// restart.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <ctime>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zepto::server {

enum class Role : uint8_t { kReader = 0, kWriter = 1, kAdmin = 2 };
std::string_view role_name(Role r);
std::optional<Role> parse_role(std::string_view name);

struct User {
  std::string name;
  Role role = Role::kReader;
  std::string password_sha256;  // hex; empty: no password
};

struct ApiKey {
  std::string id;  // public, for listing and revoking
  Role role = Role::kReader;
  std::string sha256;  // hex digest of the whole key text
  int64_t created = 0;  // Unix seconds
  std::string name;
};

// The credentials a request carries (whatever form they came in).
struct Credentials {
  std::optional<std::string> user;
  std::optional<std::string> password;
  std::optional<std::string> bearer;
};

struct Principal {
  std::string user;
  Role role = Role::kReader;
};

// Thrown for missing or wrong credentials (HTTP 401).
struct AuthError {
  std::string message;
};

class KeyStore {
 public:
  explicit KeyStore(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }

  // Creates a key and returns {record, key text}; the text is shown once
  // and never stored.
  std::pair<ApiKey, std::string> create(std::string_view name, Role role);
  bool revoke(std::string_view id);
  std::vector<ApiKey> list() const;

 private:
  std::vector<ApiKey> load() const;
  void save(const std::vector<ApiKey>& keys) const;
  std::string path_;
};

class Authenticator {
 public:
  // `allow_default`: a request without credentials is the user "default"
  // with role admin.
  Authenticator(std::vector<User> users, std::string keys_file, bool allow_default);

  // Throws AuthError.
  Principal authenticate(const Credentials& c);
  bool has_credentials_configured();

 private:
  void reload_keys(bool force = false);  // requires mu_

  std::vector<User> users_;
  std::string keys_file_;
  bool allow_default_;
  std::mutex mu_;
  std::vector<ApiKey> keys_;
  struct stat keys_stat_ {};
  bool keys_loaded_ = false;
};

}  // namespace zepto::server
