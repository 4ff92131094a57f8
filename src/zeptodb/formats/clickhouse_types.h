// ClickHouse names of ZeptoDB's types, as the HTTP interface shows them
// (JSON "meta", TabSeparatedWithNamesAndTypes, Native, DESCRIBE,
// system.columns): BIGINT Int64, INTEGER Int32, DOUBLE Float64, BOOLEAN
// Bool, VARCHAR and SYMBOL String, TIMESTAMP DateTime64(9, 'UTC').
#pragma once

#include <string>
#include <string_view>

#include "zeptodb/common/types.h"
#include "zeptodb/exec/result_set.h"

namespace zepto::formats {

// The ClickHouse type of a result column; `nullable` wraps it in Nullable(...).
std::string clickhouse_type(exec::DataType t, bool nullable = false);

// The ClickHouse type of a stored column (`key`: the table's partition key,
// shown as String when it holds symbol names).
std::string clickhouse_type(ColumnType t, bool nullable = false);

// Timestamps as ClickHouse prints DateTime64(9): "2024-01-02 14:30:00.000000000".
void append_timestamp(std::string& out, int64_t ns);

}  // namespace zepto::formats
