// Input formats of `INSERT INTO t [(cols)] FORMAT Name <data>`: the rows of
// one request decoded and stored as one atomic batch (all or nothing).
//
// Every decoder produces Arrow batches (ArrowColumn, arrow_export.h) and the
// batches go through Database::ingest_arrow, so type checks, symbol
// interning and the NULL rules are those of the Arrow import and of
// ingest_columns, whichever format the rows came in.
//
// Formats: JSONEachRow (simdjson), CSV, CSVWithNames, TabSeparated,
// TabSeparatedWithNames, Native, ArrowStream and Arrow (IPC stream / file).
// Text values are parsed by the target column's type: integers, doubles,
// true/false or 1/0, timestamps as integer nanoseconds since the epoch or
// '2024-01-02 14:30:00[.fffffffff]', symbol columns as names (or integer ids
// in an integer partition key), NULL as \N (JSON: null).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace zepto {
class Database;
}

namespace zepto::formats {

// The canonical name of an input format (case-insensitive, with the usual
// aliases); empty if unknown.
std::string_view input_format_name(std::string_view name);

struct InputOptions {
  char csv_delimiter = ',';
  bool skip_unknown_fields = true;  // JSONEachRow keys that are not columns of the table
};

// Decodes `data` in `format` into rows of `table` (`columns`: the columns
// the data holds, in order; empty = all, in schema order; formats that name
// their columns, JSONEachRow, Native and Arrow, use the names when
// `columns` is empty) and stores them atomically. Returns the row count.
// Throws Error naming the row and column of bad input.
size_t insert_formatted(Database& db, std::string_view table, const std::vector<std::string>& columns,
                        std::string_view format, std::string_view data, const InputOptions& options = {});

}  // namespace zepto::formats
