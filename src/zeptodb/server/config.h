// zepto_server's configuration: command-line options over an optional JSON
// file (--config). The file may hold every option below plus "users":
//   {"port": 8123, "host": "0.0.0.0", "keys_file": "/var/lib/zeptodb/api_keys",
//    "users": [{"name": "alice", "password_sha256": "<hex>", "role": "reader"}],
//    "default_user": false}
// (`zepto_server hash-password` prints the digest of a password read from
// standard input.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "zeptodb/server/auth.h"

namespace zepto::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8123;
  std::string data_dir;
  std::string storage_mode = "PURE_IN_MEMORY";
  std::string fsync = "batch";  // TIERED: always | batch | none
  std::string keys_file;  // default: <data_dir>/api_keys, else ~/.config/zeptodb/api_keys
  std::vector<User> users;
  int default_user = -1;  // -1: only when no users are configured (and on loopback)
  size_t io_threads = 2;
  size_t worker_threads = 0;  // 0: max(4, hardware threads)
  size_t insert_threads = 2;  // requests with INSERT data run on these
  size_t max_body_bytes = size_t{1} << 30;
  int read_timeout_seconds = 300;
  int idle_timeout_seconds = 60;
};

// Reads a JSON config file over `config`; throws Error(kInvalidArgument)
// naming the problem.
void load_config_file(const std::string& path, ServerConfig& config);

// The key file to use when none is configured.
std::string default_keys_file(const ServerConfig& config);

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback(const std::string& host);

}  // namespace zepto::server
