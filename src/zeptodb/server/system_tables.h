// The parts of ClickHouse's catalog that clients ask for, answered from the
// database's catalog: DESCRIBE TABLE (ClickHouse's seven columns), and
// queries over system.tables, system.columns, system.settings and
// system.databases. A system query runs on a small private database that
// holds these tables, built for that query, so that any SELECT the engine
// supports (WHERE, ORDER BY, LIMIT, aggregates) works on them.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zeptodb/exec/result_set.h"
#include "zeptodb/sql/ast.h"

namespace zepto {
class Database;
}

namespace zepto::server {

// A setting shown in system.settings: name, value, description.
struct SettingInfo {
  std::string name;
  std::string value;
  std::string description;
};
const std::vector<SettingInfo>& known_settings();

exec::ResultSet describe_table(Database& db, std::string_view table);

// True if the statement is a SELECT whose FROM names a system.* table.
bool is_system_query(const sql::Statement& stmt);
exec::ResultSet run_system_query(Database& db, std::string_view sql);

}  // namespace zepto::server
