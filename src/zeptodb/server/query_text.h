// Rewrites of a query's text before the engine runs it, done on tokens (so
// string literals and comments are never touched):
//  - `{name:Type}` placeholders become SQL literals of the values given as
//    param_<name> (ClickHouse's text form of Type: String values are taken
//    as written, numbers must be numbers, \N is NULL for Nullable types,
//    Identifier values become quoted names);
//  - the server's constant functions version(), timezone(),
//    currentDatabase()/database(), currentUser()/user() and hostName()
//    become string literals, named as ClickHouse names them.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace zepto::server {

struct ServerConstants {
  std::string version;
  std::string timezone = "UTC";
  std::string database = "default";
  std::string user = "default";
  std::string hostname;
};

// Throws Error(kInvalidArgument) for a placeholder without a value or a
// value that is not of its type.
std::string rewrite_query(std::string_view sql, const std::map<std::string, std::string>& params,
                          const ServerConstants& constants);

// 'text' with quotes and backslashes escaped.
std::string sql_string_literal(std::string_view text);

}  // namespace zepto::server
