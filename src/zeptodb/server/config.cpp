#include "zeptodb/server/config.h"

#include <simdjson.h>

#include <cstdlib>

#include "zeptodb/common/error.h"
#include "zeptodb/server/sha256.h"

namespace zepto::server {

void load_config_file(const std::string& path, ServerConfig& c) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto err = parser.load(path).get(root);
  if (err) throw_error(ErrorCode::kInvalidArgument, "cannot read config file " + path + ": " + simdjson::error_message(err));
  if (!root.is_object()) throw_error(ErrorCode::kInvalidArgument, "config file " + path + ": expected a JSON object");
  for (auto [key, value] : root.get_object()) {
    std::string k(key);
    auto str = [&]() -> std::string {
      std::string_view s;
      if (value.get(s)) throw_error(ErrorCode::kInvalidArgument, "config '" + k + "': expected a string");
      return std::string(s);
    };
    auto num = [&]() -> int64_t {
      int64_t v;
      if (value.get(v)) throw_error(ErrorCode::kInvalidArgument, "config '" + k + "': expected an integer");
      return v;
    };
    if (k == "host") c.host = str();
    else if (k == "port") c.port = static_cast<uint16_t>(num());
    else if (k == "data_dir") c.data_dir = str();
    else if (k == "storage_mode") c.storage_mode = str();
    else if (k == "fsync") c.fsync = str();
    else if (k == "keys_file") c.keys_file = str();
    else if (k == "io_threads") c.io_threads = static_cast<size_t>(num());
    else if (k == "worker_threads") c.worker_threads = static_cast<size_t>(num());
    else if (k == "insert_threads") c.insert_threads = static_cast<size_t>(num());
    else if (k == "max_body_bytes") c.max_body_bytes = static_cast<size_t>(num());
    else if (k == "read_timeout_seconds") c.read_timeout_seconds = static_cast<int>(num());
    else if (k == "idle_timeout_seconds") c.idle_timeout_seconds = static_cast<int>(num());
    else if (k == "default_user") {
      bool b;
      if (value.get(b)) throw_error(ErrorCode::kInvalidArgument, "config 'default_user': expected true or false");
      c.default_user = b ? 1 : 0;
    } else if (k == "users") {
      simdjson::dom::array users;
      if (value.get(users)) throw_error(ErrorCode::kInvalidArgument, "config 'users': expected an array");
      for (auto u : users) {
        User user;
        std::string_view s;
        if (u["name"].get(s)) throw_error(ErrorCode::kInvalidArgument, "config 'users': every user needs a \"name\"");
        user.name = std::string(s);
        std::string_view role = "reader";
        if (!u["role"].get(s)) role = s;
        auto r = parse_role(role);
        if (!r) throw_error(ErrorCode::kInvalidArgument, "config user '" + user.name + "': role must be admin, writer or reader");
        user.role = *r;
        if (!u["password_sha256"].get(s)) user.password_sha256 = std::string(s);
        else if (!u["password"].get(s)) user.password_sha256 = sha256_hex(s);
        c.users.push_back(std::move(user));
      }
    } else {
      throw_error(ErrorCode::kInvalidArgument, "config file " + path + ": unknown option '" + k + "'");
    }
  }
}

std::string default_keys_file(const ServerConfig& c) {
  if (!c.data_dir.empty()) return c.data_dir + "/api_keys";
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg && *xdg) return std::string(xdg) + "/zeptodb/api_keys";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.config/zeptodb/api_keys";
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace zepto::server
