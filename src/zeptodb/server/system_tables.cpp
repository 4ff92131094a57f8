#include "zeptodb/server/system_tables.h"

#include <cctype>
#include <cstring>
#include <variant>

#include "zeptodb/common/error.h"
#include "zeptodb/common/strings.h"
#include "zeptodb/database.h"
#include "zeptodb/formats/clickhouse_types.h"

namespace zepto::server {

namespace {

// Rows of a system table, built column by column.
class SystemTable {
 public:
  SystemTable(std::string name, std::vector<ColumnDef> defs) : name_(std::move(name)), defs_(std::move(defs)) {
    cols_.resize(defs_.size());
  }
  void add(const std::vector<std::variant<int64_t, std::string>>& row, SymbolDictionary& symbols) {
    for (size_t c = 0; c < defs_.size(); ++c) {
      if (std::holds_alternative<std::string>(row[c])) cols_[c].push_back(symbols.intern(std::get<std::string>(row[c])));
      else cols_[c].push_back(std::get<int64_t>(row[c]));
    }
    ++rows_;
  }
  void store(Database& db) {
    db.catalog().create(name_, Schema(defs_));
    std::vector<ColumnInput> inputs;
    for (size_t c = 0; c < defs_.size(); ++c) inputs.push_back({defs_[c].name, defs_[c].type, cols_[c].data(), nullptr});
    if (rows_) db.ingest_columns(name_, inputs, rows_);
  }

 private:
  std::string name_;
  std::vector<ColumnDef> defs_;
  std::vector<std::vector<int64_t>> cols_;
  size_t rows_ = 0;
};

constexpr ColumnType S = ColumnType::SYMBOL;
constexpr ColumnType I = ColumnType::INT64;

std::string column_type(const Schema& s, size_t i) {
  bool key = static_cast<int>(i) == s.symbol_index() || static_cast<int>(i) == s.timestamp_index();
  return formats::clickhouse_type(s.column(i).type, !key);
}

}  // namespace

const std::vector<SettingInfo>& known_settings() {
  static const std::vector<SettingInfo> settings = {
      {"enable_http_compression", "0", "Compress responses as Accept-Encoding asks (gzip, deflate, zstd, lz4)."},
      {"http_zlib_compression_level", "3", "Level of gzip/deflate response compression."},
      {"output_format_json_quote_64bit_integers", "1", "Quote Int64 values in JSON output formats."},
      {"format_csv_delimiter", ",", "The field delimiter of CSV."},
      {"wait_end_of_query", "0", "Buffer the whole response before sending it."},
      {"max_block_size", "65536", "Rows per block of Native and Arrow output."},
      {"output_format_native_low_cardinality_strings", "0",
       "Native output: text columns as LowCardinality(String) (each distinct string once per block)."},
      {"max_result_rows", "0", "Accepted and ignored."},
      {"max_execution_time", "0", "Accepted and ignored."},
      {"readonly", "0", "Accepted and ignored: permissions come from roles."},
      {"input_format_skip_unknown_fields", "1", "JSONEachRow: skip keys that are not columns."},
      {"date_time_input_format", "best_effort", "Accepted and ignored."},
      {"cancel_http_readonly_queries_on_client_close", "0", "Accepted and ignored."},
      {"send_progress_in_http_headers", "0", "Accepted and ignored."},
  };
  return settings;
}

exec::ResultSet describe_table(Database& db, std::string_view table) {
  auto t = db.catalog().require(table);
  const Schema& s = t->schema();
  const char* names[] = {"name", "type", "default_type", "default_expression", "comment", "codec_expression", "ttl_expression"};
  std::vector<exec::ColumnBuilder> b;
  for (const char* n : names) b.emplace_back(n, exec::DataType::kVarchar, s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    b[0].append_string(s.column(i).name);
    b[1].append_string(column_type(s, i));
    std::string comment = static_cast<int>(i) == s.symbol_index()      ? "partition key (symbol)"
                          : static_cast<int>(i) == s.timestamp_index() ? "timestamp"
                                                                       : "";
    b[2].append_string("");
    b[3].append_string("");
    b[4].append_string(comment);
    b[5].append_string("");
    b[6].append_string("");
  }
  exec::ResultSet rs;
  rs.rows = s.size();
  for (auto& x : b) rs.columns.push_back(x.finish());
  return rs;
}

bool is_system_query(const sql::Statement& stmt) {
  const auto* select = std::get_if<sql::SelectStmt>(&stmt.body);
  if (!select || !select->from) return false;
  const sql::TableRef* ref = select->from.get();
  while (ref->kind == sql::TableRefKind::kJoin) ref = ref->left.get();
  return ref->kind == sql::TableRefKind::kTable && iequals(ref->table.schema, "system");
}

exec::ResultSet run_system_query(Database& db, std::string_view sql_text) {
  DatabaseConfig config;
  config.arena_size = 64 * 1024;
  config.queue_capacity = 16;
  Database sys(config);
  SymbolDictionary& sym = sys.symbols();

  SystemTable tables("tables", {{"database", S}, {"name", S}, {"engine", S}, {"total_rows", I}, {"is_temporary", I}});
  SystemTable columns("columns", {{"database", S}, {"table", S}, {"name", S}, {"type", S}, {"position", I},
                                  {"default_kind", S}, {"default_expression", S}, {"comment", S},
                                  {"is_in_partition_key", I}, {"is_in_sorting_key", I}});
  for (const auto& name : db.catalog().names()) {
    auto t = db.catalog().find(name);
    if (!t) continue;
    tables.add({std::string("default"), name, std::string("Memory"), static_cast<int64_t>(t->row_count()), int64_t{0}}, sym);
    const Schema& s = t->schema();
    for (size_t i = 0; i < s.size(); ++i)
      columns.add({std::string("default"), name, s.column(i).name, column_type(s, i), static_cast<int64_t>(i + 1),
                   std::string(""), std::string(""), std::string(""),
                   static_cast<int64_t>(static_cast<int>(i) == s.symbol_index()),
                   static_cast<int64_t>(static_cast<int>(i) == s.timestamp_index())},
                  sym);
  }
  SystemTable settings("settings", {{"name", S}, {"value", S}, {"changed", I}, {"description", S}, {"type", S}, {"readonly", I}});
  for (const auto& s : known_settings()) settings.add({s.name, s.value, int64_t{0}, s.description, std::string("String"), int64_t{0}}, sym);
  SystemTable databases("databases", {{"name", S}, {"engine", S}});
  databases.add({std::string("default"), std::string("Memory")}, sym);
  SystemTable one("one", {{"dummy", I}});
  one.add({int64_t{0}}, sym);
  for (auto* t : {&tables, &columns, &settings, &databases, &one}) t->store(sys);
  // The trades table that every database starts with is not part of system.
  return sys.execute(sql_text);
}

}  // namespace zepto::server
