#include "zeptodb/server/handler.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <variant>

#include "zeptodb/common/error.h"
#include "zeptodb/common/strings.h"
#include "zeptodb/database.h"
#include "zeptodb/formats/input.h"
#include "zeptodb/formats/output.h"
#include "zeptodb/server/compression.h"
#include "zeptodb/server/sha256.h"
#include "zeptodb/server/system_tables.h"
#include "zeptodb/sql/parse_error.h"
#include "zeptodb/sql/parser.h"

namespace zepto::server {

namespace {

// An error with its ClickHouse code, name and HTTP status.
struct QueryError {
  int status;
  int code;
  std::string name;
  std::string message;
};

QueryError classify(const Error& e) {
  std::string msg = e.what();
  if (dynamic_cast<const sql::ParseError*>(&e)) return {400, 62, "SYNTAX_ERROR", msg};
  switch (e.code()) {
    case ErrorCode::kTypeMismatch: return {400, 53, "TYPE_MISMATCH", msg};
    case ErrorCode::kNotFound:
      if (msg.rfind("unknown table", 0) == 0)
        return {404, 60, "UNKNOWN_TABLE", msg};
      return {400, 47, "UNKNOWN_IDENTIFIER", msg};
    case ErrorCode::kAlreadyExists: return {400, 57, "TABLE_ALREADY_EXISTS", msg};
    case ErrorCode::kNotAvailable: return {501, 48, "NOT_IMPLEMENTED", msg};
    case ErrorCode::kOutOfMemory: return {500, 241, "MEMORY_LIMIT_EXCEEDED", msg};
    case ErrorCode::kIOError: return {500, 1000, "POCO_EXCEPTION", msg};
    case ErrorCode::kInternal: return {500, 1001, "STD_EXCEPTION", msg};
    case ErrorCode::kInvalidArgument: return {400, 36, "BAD_ARGUMENTS", msg};
  }
  return {500, 1001, "STD_EXCEPTION", msg};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Base64 of HTTP Basic auth.
std::string base64_decode(std::string_view in) {
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    int d;
    if (c >= 'A' && c <= 'Z') d = c - 'A';
    else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
    else if (c >= '0' && c <= '9') d = c - '0' + 52;
    else if (c == '+' || c == '-') d = 62;
    else if (c == '/' || c == '_') d = 63;
    else break;
    val = (val << 6) + d;
    bits += 6;
    if (bits >= 0) {
      out += static_cast<char>((val >> bits) & 0xff);
      bits -= 8;
    }
  }
  return out;
}

// URL parameters that are not settings.
bool is_protocol_param(std::string_view k) {
  static const char* names[] = {"query", "database", "query_id", "session_id", "session_timeout", "session_check",
                                "default_format", "user", "password", "quota_key", "compress", "decompress",
                                "buffer_size", "wait_end_of_query", "client_protocol_version", "add_http_cors_header"};
  for (const char* n : names)
    if (k == n) return true;
  return k.rfind("param_", 0) == 0;
}

Role required_role(const sql::Statement& stmt) {
  if (stmt.explain) return Role::kReader;
  return std::visit(
      [](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, sql::SelectStmt> || std::is_same_v<T, sql::ShowTablesStmt> ||
                      std::is_same_v<T, sql::DescribeStmt>)
          return Role::kReader;
        else
          return Role::kWriter;
      },
      stmt.body);
}

std::string summary_json(uint64_t read_rows, uint64_t written_rows, uint64_t written_bytes, uint64_t result_rows,
                         uint64_t elapsed_ns) {
  auto q = [](uint64_t v) { return "\"" + std::to_string(v) + "\""; };
  return "{\"read_rows\":" + q(read_rows) + ",\"read_bytes\":\"0\",\"written_rows\":" + q(written_rows) +
         ",\"written_bytes\":" + q(written_bytes) + ",\"total_rows_to_read\":" + q(read_rows) +
         ",\"result_rows\":" + q(result_rows) + ",\"result_bytes\":\"0\",\"elapsed_ns\":" + q(elapsed_ns) + "}";
}

std::string new_query_id() {
  std::string h = random_hex(16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

}  // namespace

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool Handler::is_insert(const HttpRequest& req) {
  auto starts_with_insert = [](std::string_view q) {
    size_t i = q.find_first_not_of(" \t\r\n(");
    return i != std::string_view::npos && q.size() - i >= 6 && iequals(q.substr(i, 6), "INSERT");
  };
  std::string_view target = req.target;
  size_t qmark = target.find('?');
  std::string_view qs = qmark == std::string_view::npos ? std::string_view() : target.substr(qmark + 1);
  while (!qs.empty()) {
    size_t amp = qs.find('&');
    std::string_view kv = qs.substr(0, amp);
    if (kv.substr(0, 6) == "query=") return starts_with_insert(url_decode(kv.substr(6, 64)));
    qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
  }
  return starts_with_insert(std::string_view(req.body).substr(0, 64));
}

Handler::Handler(Database& db, HandlerConfig config, Authenticator& auth, Metrics& metrics)
    : db_(db), config_(std::move(config)), auth_(auth), metrics_(metrics) {}

HttpResponse Handler::error_response(int status, int code, std::string_view name, std::string_view message,
                                     std::string_view version) {
  HttpResponse r;
  r.status = status;
  r.body = "Code: " + std::to_string(code) + ". DB::Exception: " + std::string(message) + ". (" + std::string(name) +
           ") (version " + std::string(version) + ")\n";
  r.headers.emplace_back("X-ClickHouse-Exception-Code", std::to_string(code));
  r.headers.emplace_back("Content-Type", "text/plain; charset=UTF-8");
  return r;
}

HttpResponse Handler::handle(HttpRequest& req) {
  metrics_.request();
  std::string_view target = req.target;
  std::string_view path = target.substr(0, target.find('?'));
  const std::string& version = config_.constants.version;
  auto plain = [](std::string body, std::string type = "text/plain; charset=UTF-8") {
    HttpResponse r;
    r.body = std::move(body);
    r.headers.emplace_back("Content-Type", std::move(type));
    return r;
  };
  if (path == "/ping" || path == "/health" || path == "/replicas_status") return plain("Ok.\n");
  if (path == "/metrics") return plain(metrics_.prometheus(db_), "text/plain; version=0.0.4; charset=utf-8");
  if (path != "/" && path != "/query" && !path.empty()) {
    metrics_.error();
    return error_response(404, 1002, "UNKNOWN_PATH",
                          "There is no handler for " + std::string(path) +
                              " (endpoints: /, /ping, /health, /metrics)",
                          version);
  }
  if (req.method != "GET" && req.method != "POST" && req.method != "HEAD") {
    metrics_.error();
    return error_response(405, 1002, "METHOD_NOT_ALLOWED", "Only GET and POST are supported", version);
  }
  std::string query_id;
  try {
    HttpResponse r = query(req, query_id);
    return r;
  } catch (const AuthError& e) {
    metrics_.error();
    HttpResponse r = error_response(401, 516, "AUTHENTICATION_FAILED", e.message, version);
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"ZeptoDB\"");
    return r;
  } catch (const QueryError& e) {
    metrics_.error();
    return error_response(e.status, e.code, e.name, e.message, version);
  } catch (const Error& e) {
    metrics_.error();
    QueryError q = classify(e);
    return error_response(q.status, q.code, q.name, q.message, version);
  } catch (const std::bad_alloc&) {
    metrics_.error();
    return error_response(500, 241, "MEMORY_LIMIT_EXCEEDED", "out of memory", version);
  } catch (const std::exception& e) {
    metrics_.error();
    return error_response(500, 1001, "STD_EXCEPTION", e.what(), version);
  }
}

HttpResponse Handler::query(HttpRequest& req, const std::string&) {
  const auto t0 = std::chrono::steady_clock::now();
  // URL parameters.
  std::map<std::string, std::string> params, bind;
  std::map<std::string, std::string> settings;
  std::string_view target = req.target;
  size_t qmark = target.find('?');
  if (qmark != std::string_view::npos) {
    std::string_view qs = target.substr(qmark + 1);
    while (!qs.empty()) {
      size_t amp = qs.find('&');
      std::string_view kv = qs.substr(0, amp);
      size_t eq = kv.find('=');
      std::string k = url_decode(kv.substr(0, eq));
      std::string v = eq == std::string_view::npos ? "" : url_decode(kv.substr(eq + 1));
      if (k.rfind("param_", 0) == 0) bind[k.substr(6)] = v;
      else if (!is_protocol_param(k)) settings[k] = v;
      params[k] = std::move(v);
      qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
    }
  }
  auto param = [&](const std::string& k) -> std::string {
    auto it = params.find(k);
    return it == params.end() ? std::string() : it->second;
  };

  // Credentials.
  Credentials cred;
  std::string_view authz = req.header("authorization");
  if (authz.size() > 7 && iequals(authz.substr(0, 7), "bearer ")) {
    cred.bearer = std::string(authz.substr(7));
  } else if (authz.size() > 6 && iequals(authz.substr(0, 6), "basic ")) {
    std::string up = base64_decode(authz.substr(6));
    size_t colon = up.find(':');
    cred.user = up.substr(0, colon);
    cred.password = colon == std::string::npos ? "" : up.substr(colon + 1);
  }
  if (!req.header("x-clickhouse-user").empty()) cred.user = std::string(req.header("x-clickhouse-user"));
  if (!req.header("x-clickhouse-key").empty()) {
    std::string key(req.header("x-clickhouse-key"));
    if (key.rfind("zepto_", 0) == 0 && !cred.user) cred.bearer = key;
    else cred.password = key;
  }
  if (params.count("user")) cred.user = param("user");
  if (params.count("password")) cred.password = param("password");
  Principal who = auth_.authenticate(cred);

  // Parts of the protocol that are not implemented are refused by name:
  // ignoring them would make the client misread the answer or send data the
  // server misreads.
  if (param("compress") == "1" || param("decompress") == "1")
    throw QueryError{501, 48, "NOT_IMPLEMENTED",
                     "ClickHouse's block compression (compress=1, decompress=1) is not supported; use HTTP "
                     "compression instead: enable_http_compression=1 with Accept-Encoding for results, "
                     "Content-Encoding for request bodies"};
  if (std::string_view type = req.header("content-type"); type.size() >= 10 && iequals(type.substr(0, 10), "multipart/"))
    throw QueryError{501, 48, "NOT_IMPLEMENTED",
                     "multipart request bodies (external tables, form-encoded query parameters) are not supported; "
                     "send the query in the URL (query=) or as the body, and INSERT data as the body"};

  // Query text and data.
  std::string body = std::move(req.body);
  std::string_view encoding = req.header("content-encoding");
  if (!encoding.empty()) body = decompress(parse_content_encoding(encoding), body, config_.max_body_bytes);
  metrics_.bytes(body.size(), 0);
  const bool has_query_param = params.count("query") != 0;
  std::string text = has_query_param ? param("query") : std::move(body);
  if (!has_query_param) body.clear();
  if (text.find_first_not_of(" \t\r\n;") == std::string::npos)
    throw QueryError{400, 62, "SYNTAX_ERROR", "Empty query"};

  sql::Statement stmt = sql::parse(text);
  for (const auto& s : stmt.settings) {
    const sql::Literal& v = s.value;
    settings[s.name] = v.kind == sql::LiteralKind::kString ? v.string_value
                       : v.kind == sql::LiteralKind::kDouble ? std::to_string(v.double_value)
                                                              : std::to_string(v.int_value);
  }
  auto setting = [&](const std::string& k, const std::string& fallback) {
    auto it = settings.find(k);
    return it == settings.end() ? fallback : it->second;
  };
  Role need = required_role(stmt);
  if (need > who.role)
    throw QueryError{403, 497, "ACCESS_DENIED",
                     who.user + ": Not enough privileges: role " + std::string(role_name(who.role)) +
                         " may not run this statement (it needs " + std::string(role_name(need)) + ")"};
  if (req.method == "GET" && need != Role::kReader)
    throw QueryError{400, 164, "READONLY", "Cannot execute a modifying query in a GET request; use POST"};

  HttpResponse res;
  std::string query_id = param("query_id");
  if (query_id.empty()) query_id = new_query_id();
  res.headers.emplace_back("X-ClickHouse-Query-Id", query_id);
  res.headers.emplace_back("X-ClickHouse-Timezone", config_.constants.timezone);
  res.headers.emplace_back("X-ClickHouse-Server-Display-Name", config_.constants.hostname);
  ServerConstants constants = config_.constants;
  constants.user = who.user;

  auto elapsed_ns = [&] {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  };

  // INSERT ... FORMAT: the rows follow the statement, or are the body.
  if (auto* ins = std::get_if<sql::InsertStmt>(&stmt.body); ins && ins->source == sql::InsertStmt::Source::kFormat) {
    std::string_view data = std::string_view(text).substr(std::min(ins->data_offset, text.size()));
    std::string joined;
    if (has_query_param && !body.empty()) {
      if (data.find_first_not_of(" \t\r\n") != std::string_view::npos) {
        joined = std::string(data) + body;
        data = joined;
      } else {
        data = body;
      }
    }
    formats::InputOptions in;
    std::string delim = setting("format_csv_delimiter", ",");
    if (!delim.empty()) in.csv_delimiter = delim[0];
    in.skip_unknown_fields = setting("input_format_skip_unknown_fields", "1") != "0";
    size_t n = formats::insert_formatted(db_, ins->table.name, ins->columns, ins->format, data, in);
    metrics_.rows_inserted(n);
    metrics_.query(static_cast<double>(elapsed_ns()) / 1e9);
    res.headers.emplace_back("X-ClickHouse-Summary", summary_json(0, n, data.size(), 0, elapsed_ns()));
    res.headers.emplace_back("Content-Type", "text/plain; charset=UTF-8");
    return res;
  }
  if (has_query_param && !body.empty()) text += "\n" + body;

  // Everything else runs as SQL.
  exec::ResultSet rs;
  if (auto* d = std::get_if<sql::DescribeStmt>(&stmt.body); d && !stmt.explain) {
    rs = describe_table(db_, d->table.name);
  } else {
    std::string sql_text = rewrite_query(text, bind, constants);
    rs = is_system_query(stmt) ? run_system_query(db_, sql_text) : db_.execute(sql_text);
  }
  metrics_.query(static_cast<double>(elapsed_ns()) / 1e9);
  if (rs.affected_rows) metrics_.rows_inserted(rs.affected_rows);
  res.headers.emplace_back("X-ClickHouse-Summary",
                           summary_json(rs.rows_scanned, rs.affected_rows, 0, rs.rows, elapsed_ns()));
  if (rs.columns.empty()) {
    res.headers.emplace_back("Content-Type", "text/plain; charset=UTF-8");
    return res;
  }

  // Output format and encoding.
  std::string format = stmt.format;
  if (format.empty()) format = param("default_format");
  if (format.empty()) format = std::string(req.header("x-clickhouse-format"));
  if (format.empty()) format = "TabSeparated";
  std::string_view canonical = formats::output_format_name(format);
  if (canonical.empty()) throw QueryError{400, 73, "UNKNOWN_FORMAT", "Unknown output format " + format};
  formats::OutputOptions out;
  out.quote_64bit_integers = setting("output_format_json_quote_64bit_integers", "1") != "0";
  std::string delim = setting("format_csv_delimiter", ",");
  if (!delim.empty()) out.csv_delimiter = delim[0];
  out.native_low_cardinality_strings = setting("output_format_native_low_cardinality_strings", "0") == "1";
  try {
    long long block = std::stoll(setting("max_block_size", "0"));
    // At most 16 M rows, so that one block (encoded whole) stays bounded.
    if (block > 0) out.block_rows = static_cast<size_t>(std::min<long long>(block, 1LL << 24));
  } catch (const std::exception&) {
    throw QueryError{400, 27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "max_block_size must be a positive integer"};
  }
  out.elapsed_seconds = static_cast<double>(elapsed_ns()) / 1e9;
  out.rows_read = rs.rows_scanned;
  res.headers.emplace_back("X-ClickHouse-Format", std::string(canonical));
  res.headers.emplace_back("Content-Type", std::string(formats::content_type(canonical)));
  res.buffer_whole = param("wait_end_of_query") == "1";

  auto stream = std::make_shared<formats::ResultStream>(std::make_shared<const exec::ResultSet>(std::move(rs)),
                                                        canonical, out);
  std::shared_ptr<Compressor> compressor;
  if (setting("enable_http_compression", "0") == "1") {
    Encoding e = choose_encoding(req.header("accept-encoding"));
    if (e != Encoding::kIdentity) {
      int level = 0;
      try {
        level = std::stoi(setting("http_zlib_compression_level", "0"));
      } catch (...) {
      }
      compressor = make_compressor(e, level);
      res.headers.emplace_back("Content-Encoding", std::string(encoding_name(e)));
    }
  }
  Metrics* metrics = &metrics_;
  // Produces the next piece of the (compressed) body; false at the end.
  // Test hook: ZEPTO_SERVER_FAIL_STREAM_AFTER=N makes encoding fail after N
  // pieces of a body, so tests can see what a client gets when a streamed
  // response breaks (tests/python/test_server_http.py).
  static const long fail_after = [] {
    const char* v = std::getenv("ZEPTO_SERVER_FAIL_STREAM_AFTER");
    return v ? std::atol(v) : 0L;
  }();
  auto finished = std::make_shared<bool>(false);
  auto next = [stream, compressor, metrics, finished, pieces = 0L](std::string& out) mutable {
    bool& done = *finished;
    out.clear();
    if (done) return false;
    if (fail_after > 0 && ++pieces > fail_after) throw Error(ErrorCode::kInternal, "encoding failed (injected by a test)");
    // Uncompressed, the stream encodes straight into `out`, whose buffer the
    // transport passes back for every piece.
    std::string chunk;
    while (out.empty() && !done) {
      bool more = stream->next(compressor ? chunk : out);
      if (more && compressor) compressor->write(chunk, false, out);
      if (!more || stream->finished()) {
        done = true;
        if (compressor) compressor->write({}, true, out);
      }
    }
    metrics->bytes(0, out.size());
    return !out.empty() || !done;
  };
  next(res.body);  // the first chunk now, so that its errors are reported as errors
  // A result whole in its first chunk goes out with a Content-Length (the
  // client can read it into one buffer of that size); a longer one streams.
  if (!*finished) res.more = next;
  return res;
}

}  // namespace zepto::server
