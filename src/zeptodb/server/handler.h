// The ClickHouse HTTP interface, independent of the transport: a parsed
// request in, a response (possibly streamed in chunks) out.
//
// Endpoints: GET /ping and /health ("Ok.\n"), GET /metrics (Prometheus
// text), and / (also /query) for queries: GET /?query=..., POST / with the
// query in the body, or POST /?query=INSERT ... FORMAT F with the rows in
// the body. See docs/http.md for parameters, headers, formats and errors.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zeptodb/server/auth.h"
#include "zeptodb/server/metrics.h"
#include "zeptodb/server/query_text.h"

namespace zepto {
class Database;
}

namespace zepto::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query string, as sent
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // The value of header `name` (lower-case), or empty.
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // More of the body, chunk by chunk (replaces its argument; false when
  // done). Empty when `body` is everything.
  std::function<bool(std::string&)> more;
  bool buffer_whole = false;  // wait_end_of_query=1: send nothing before the end
};

struct HandlerConfig {
  ServerConstants constants;
  size_t max_body_bytes = size_t{1} << 30;  // after decompression
};

class Handler {
 public:
  Handler(Database& db, HandlerConfig config, Authenticator& auth, Metrics& metrics);
  // Never throws: errors become ClickHouse error responses.
  HttpResponse handle(HttpRequest& request);

  // True when the request carries the data of an INSERT (the query, in the
  // URL or at the start of the body, begins with INSERT): the transport runs
  // those on a pool of their own.
  static bool is_insert(const HttpRequest& request);

  // A ClickHouse-style error response (also used by the transport for 413 etc.).
  static HttpResponse error_response(int status, int code, std::string_view name, std::string_view message,
                                     std::string_view version);

 private:
  HttpResponse query(HttpRequest& request, const std::string& query_id);

  Database& db_;
  HandlerConfig config_;
  Authenticator& auth_;
  Metrics& metrics_;
};

// Decodes %XX and '+' of a URL component.
std::string url_decode(std::string_view s);

}  // namespace zepto::server
