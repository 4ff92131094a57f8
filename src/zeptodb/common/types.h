// Column types of the storage layer and their physical widths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace zepto {

// Physical storage type of a column. TIMESTAMP is int64 nanoseconds since the
// Unix epoch (UTC); SYMBOL is an int64 id into the database's symbol
// dictionary; BOOL is one byte (0 or 1).
enum class ColumnType : uint8_t { INT64, INT32, DOUBLE, BOOL, TIMESTAMP, SYMBOL };

// Bytes per value of `t`.
size_t type_width(ColumnType t);

// Canonical SQL name: BIGINT, INTEGER, DOUBLE, BOOLEAN, TIMESTAMP, SYMBOL.
std::string_view type_name(ColumnType t);

// Parses a type name as written in DDL (case-insensitive; accepts the usual
// aliases such as INT64, INT, FLOAT8, VARCHAR). Returns nullopt if unknown.
std::optional<ColumnType> parse_type_name(std::string_view name);

// Wall-clock time in ns since the Unix epoch.
int64_t now_ns();

}  // namespace zepto
