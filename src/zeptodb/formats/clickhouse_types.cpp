#include "zeptodb/formats/clickhouse_types.h"

#include "zeptodb/sql/time_literal.h"

namespace zepto::formats {

namespace {
std::string wrap(std::string_view name, bool nullable) {
  return nullable ? "Nullable(" + std::string(name) + ")" : std::string(name);
}
}  // namespace

std::string clickhouse_type(exec::DataType t, bool nullable) {
  switch (t) {
    case exec::DataType::kBigint: return wrap("Int64", nullable);
    case exec::DataType::kInteger: return wrap("Int32", nullable);
    case exec::DataType::kDouble: return wrap("Float64", nullable);
    case exec::DataType::kBoolean: return wrap("Bool", nullable);
    case exec::DataType::kVarchar: return wrap("String", nullable);
    case exec::DataType::kTimestamp: return wrap("DateTime64(9, 'UTC')", nullable);
  }
  return "String";
}

std::string clickhouse_type(ColumnType t, bool nullable) {
  switch (t) {
    case ColumnType::INT64: return wrap("Int64", nullable);
    case ColumnType::INT32: return wrap("Int32", nullable);
    case ColumnType::DOUBLE: return wrap("Float64", nullable);
    case ColumnType::BOOL: return wrap("Bool", nullable);
    case ColumnType::TIMESTAMP: return wrap("DateTime64(9, 'UTC')", nullable);
    case ColumnType::SYMBOL: return wrap("String", nullable);
  }
  return "String";
}

void append_timestamp(std::string& out, int64_t ns) {
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) frac += 1'000'000'000;
  out += sql::format_timestamp(ns - frac);
  char digits[10];
  for (int i = 8; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  out += '.';
  out.append(digits, 9);
}

}  // namespace zepto::formats
