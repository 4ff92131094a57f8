#include "zeptodb/server/auth.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "zeptodb/common/error.h"
#include "zeptodb/server/sha256.h"

namespace zepto::server {

std::string_view role_name(Role r) {
  switch (r) {
    case Role::kReader: return "reader";
    case Role::kWriter: return "writer";
    case Role::kAdmin: return "admin";
  }
  return "reader";
}

std::optional<Role> parse_role(std::string_view name) {
  if (name == "reader") return Role::kReader;
  if (name == "writer") return Role::kWriter;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

// ---------------------------------------------------------------- KeyStore

std::vector<ApiKey> KeyStore::load() const {
  std::vector<ApiKey> keys;
  std::ifstream in(path_);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    ApiKey k;
    std::string role;
    if (!(fields >> k.id >> role >> k.sha256 >> k.created)) continue;
    auto r = parse_role(role);
    if (!r || k.sha256.size() != 64) continue;
    k.role = *r;
    std::getline(fields >> std::ws, k.name);
    keys.push_back(std::move(k));
  }
  return keys;
}

void KeyStore::save(const std::vector<ApiKey>& keys) const {
  std::filesystem::path p(path_);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw_error(ErrorCode::kInvalidArgument, "cannot write the key file " + tmp);
    out << "# ZeptoDB API keys: id role sha256(key) created name. Edit with `zepto_server keys`.\n";
    for (const auto& k : keys)
      out << k.id << ' ' << role_name(k.role) << ' ' << k.sha256 << ' ' << k.created << ' ' << k.name << '\n';
  }
  std::filesystem::permissions(tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::filesystem::rename(tmp, path_);
}

std::pair<ApiKey, std::string> KeyStore::create(std::string_view name, Role role) {
  std::string text = "zepto_" + random_hex(32);
  ApiKey k;
  k.id = random_hex(4);
  k.role = role;
  k.sha256 = sha256_hex(text);
  k.created = static_cast<int64_t>(std::time(nullptr));
  k.name = std::string(name);
  for (auto& c : k.name)
    if (c == '\n' || c == '\r') c = ' ';
  auto keys = load();
  keys.push_back(k);
  save(keys);
  return {k, text};
}

bool KeyStore::revoke(std::string_view id) {
  auto keys = load();
  auto n = std::erase_if(keys, [&](const ApiKey& k) { return k.id == id; });
  if (n) save(keys);
  return n != 0;
}

std::vector<ApiKey> KeyStore::list() const { return load(); }

// ----------------------------------------------------------- Authenticator

Authenticator::Authenticator(std::vector<User> users, std::string keys_file, bool allow_default)
    : users_(std::move(users)), keys_file_(std::move(keys_file)), allow_default_(allow_default) {
  std::lock_guard lock(mu_);
  reload_keys();
}

// The key file is replaced by rename on every change (KeyStore::save), so a
// new inode, size or mtime means new content. One stat per request keeps
// creation and revocation effective at once.
void Authenticator::reload_keys(bool force) {
  if (keys_file_.empty()) return;
  struct stat st {};
  if (stat(keys_file_.c_str(), &st) != 0) {
    keys_.clear();
    keys_loaded_ = false;
    return;
  }
  if (!force && keys_loaded_ && st.st_ino == keys_stat_.st_ino && st.st_size == keys_stat_.st_size &&
      st.st_mtim.tv_sec == keys_stat_.st_mtim.tv_sec && st.st_mtim.tv_nsec == keys_stat_.st_mtim.tv_nsec)
    return;
  keys_stat_ = st;
  keys_ = KeyStore(keys_file_).list();
  keys_loaded_ = true;
}

bool Authenticator::has_credentials_configured() {
  std::lock_guard lock(mu_);
  reload_keys();
  return !users_.empty() || !keys_.empty();
}

Principal Authenticator::authenticate(const Credentials& c) {
  // Clients that only speak user/password (Basic auth, X-ClickHouse-Key) can
  // pass an API key as the password, with any user name.
  if (!c.bearer && c.password && c.password->size() == 6 + 64 && c.password->compare(0, 6, "zepto_") == 0) {
    Credentials as_key;
    as_key.bearer = c.password;
    return authenticate(as_key);
  }
  if (c.bearer) {
    const std::string& token = *c.bearer;
    if (token.size() != 6 + 64 || token.compare(0, 6, "zepto_") != 0)
      throw AuthError{"the bearer token is not a ZeptoDB API key (expected zepto_ followed by 64 hex digits)"};
    std::string digest = sha256_hex(token);
    std::lock_guard lock(mu_);
    reload_keys();
    auto find = [&]() -> const ApiKey* {
      const ApiKey* found = nullptr;
      for (const auto& k : keys_)  // no early exit: the time does not depend on which key matched
        if (constant_time_equal(k.sha256, digest)) found = &k;
      return found;
    };
    const ApiKey* found = find();
    if (!found) {
      // Timestamps are coarse: a key created a moment ago may not be loaded
      // yet. Read the file again before refusing.
      reload_keys(true);
      found = find();
    }
    if (!found) throw AuthError{"unknown or revoked API key"};
    return {"key:" + (found->name.empty() ? found->id : found->name), found->role};
  }
  std::string user = c.user.value_or("default");
  if (user.empty()) user = "default";
  const std::string password = c.password.value_or("");
  for (const auto& u : users_) {
    if (u.name != user) continue;
    bool ok = u.password_sha256.empty() ? password.empty() : constant_time_equal(u.password_sha256, sha256_hex(password));
    if (!ok) break;
    return {u.name, u.role};
  }
  if (user == "default" && password.empty() && allow_default_) return {"default", Role::kAdmin};
  throw AuthError{user + ": Authentication failed: password is incorrect, or there is no user with such name"};
}

}  // namespace zepto::server
