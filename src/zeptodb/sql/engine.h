// Runs one SQL statement against a database: parse, bind, plan, execute.
//
// This is the single entry point behind Database::execute(), the Python
// QueryExecutor and the HTTP server. Errors are thrown as zepto::Error:
// syntax errors as ParseError (with line and column), unknown names as
// kNotFound listing the valid ones, type errors as kTypeMismatch, and every
// other problem as kInvalidArgument. A statement that fails changes nothing.
#pragma once

#include <string_view>

#include "zeptodb/exec/options.h"
#include "zeptodb/exec/result_set.h"

namespace zepto {
class Database;
}

namespace zepto::sql {

exec::ResultSet execute(Database& db, std::string_view sql, const exec::ExecOptions& options);

}  // namespace zepto::sql
