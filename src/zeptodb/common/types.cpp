#include "zeptodb/common/types.h"

#include <chrono>
#include <string>

namespace zepto {

size_t type_width(ColumnType t) {
  switch (t) {
    case ColumnType::INT32: return 4;
    case ColumnType::BOOL: return 1;
    case ColumnType::INT64:
    case ColumnType::DOUBLE:
    case ColumnType::TIMESTAMP:
    case ColumnType::SYMBOL: return 8;
  }
  return 8;
}

std::string_view type_name(ColumnType t) {
  switch (t) {
    case ColumnType::INT64: return "BIGINT";
    case ColumnType::INT32: return "INTEGER";
    case ColumnType::DOUBLE: return "DOUBLE";
    case ColumnType::BOOL: return "BOOLEAN";
    case ColumnType::TIMESTAMP: return "TIMESTAMP";
    case ColumnType::SYMBOL: return "SYMBOL";
  }
  return "?";
}

std::optional<ColumnType> parse_type_name(std::string_view name) {
  std::string up(name);
  for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (up == "BIGINT" || up == "INT64" || up == "LONG" || up == "INT8") return ColumnType::INT64;
  if (up == "INTEGER" || up == "INT" || up == "INT32" || up == "INT4") return ColumnType::INT32;
  if (up == "DOUBLE" || up == "FLOAT64" || up == "FLOAT8" || up == "FLOAT" || up == "REAL" ||
      up == "DOUBLE PRECISION")
    return ColumnType::DOUBLE;
  if (up == "BOOL" || up == "BOOLEAN") return ColumnType::BOOL;
  if (up == "TIMESTAMP" || up == "DATETIME" || up == "DATETIME64") return ColumnType::TIMESTAMP;
  if (up == "SYMBOL" || up == "VARCHAR" || up == "STRING" || up == "TEXT")
    return ColumnType::SYMBOL;
  return std::nullopt;
}

int64_t now_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace zepto
