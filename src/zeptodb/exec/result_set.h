// The typed, columnar result of a SQL statement.
//
// A ResultSet is a list of named, typed columns of equal length. Each column
// holds its values in one contiguous buffer in the layout Arrow and NumPy
// use (int64 / int32 / float64 / one byte per BOOLEAN; TIMESTAMP as int64 ns
// since the Unix epoch, UTC), plus an optional validity buffer of one byte
// per row (1 = value, 0 = NULL; absent when the column has no NULLs).
// VARCHAR columns hold `length + 1` int64 offsets into a UTF-8 character
// buffer (Arrow's large_utf8 layout), or are dictionary encoded: one int32
// code per row indexing a shared dictionary (a plain VARCHAR column without
// NULLs), which is how SYMBOL columns leave the engine (building the text of
// every row would cost O(rows); the dictionary costs O(distinct values)).
// string_at() reads either; a consumer that wants the layout itself checks
// is_dictionary().
//
// Buffers are std::shared_ptr<const std::byte> that may alias memory owned
// by something else (a storage block, a vector built by the executor): a
// consumer that copies the shared_ptr keeps the bytes alive without copying
// them, which is how the Python binding and the Arrow export stay zero-copy.
// A ResultSet is immutable once built and safe to read from many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace zepto::exec {

enum class DataType : uint8_t { kBigint, kInteger, kDouble, kBoolean, kVarchar, kTimestamp };

// "BIGINT", "INTEGER", "DOUBLE", "BOOLEAN", "VARCHAR", "TIMESTAMP".
std::string_view data_type_name(DataType t);
// Bytes per value in the values buffer (VARCHAR: 8, the offset width).
size_t data_type_width(DataType t);

using Buffer = std::shared_ptr<const std::byte>;

// Wraps `v` in a Buffer that owns it (no copy of the elements).
template <typename T>
Buffer make_buffer(std::vector<T> v) {
  auto owner = std::make_shared<std::vector<T>>(std::move(v));
  return Buffer(owner, reinterpret_cast<const std::byte*>(owner->data()));
}

struct ResultColumn {
  std::string name;
  DataType type = DataType::kBigint;
  size_t length = 0;
  Buffer values;    // fixed-width values, VARCHAR offsets (length + 1 int64) or dictionary codes (int32)
  Buffer validity;  // one byte per row, or null when every value is present
  Buffer chars;     // plain VARCHAR only: the UTF-8 bytes
  // Dictionary-encoded VARCHAR only: the values the codes index (a NULL
  // row's code is 0, so string_at of a NULL row is not "" here: check
  // is_null first).
  std::shared_ptr<const ResultColumn> dictionary;

  bool is_null(size_t row) const {
    return validity && reinterpret_cast<const uint8_t*>(validity.get())[row] == 0;
  }
  bool has_nulls() const { return validity != nullptr; }
  size_t null_count() const;

  template <typename T>
  const T* data() const {
    return reinterpret_cast<const T*>(values.get());
  }
  int64_t int_at(size_t row) const;  // BIGINT, INTEGER, BOOLEAN, TIMESTAMP
  double double_at(size_t row) const;
  bool is_dictionary() const { return dictionary != nullptr; }
  int32_t code_at(size_t row) const { return data<int32_t>()[row]; }  // dictionary encoded
  std::string_view string_at(size_t row) const {  // VARCHAR
    if (dictionary) return dictionary->string_at(static_cast<size_t>(code_at(row)));
    const int64_t* off = data<int64_t>();
    return {reinterpret_cast<const char*>(chars.get()) + off[row], static_cast<size_t>(off[row + 1] - off[row])};
  }
  // VARCHAR: the bytes of the text of rows [begin, end) (NULLs count 0).
  size_t text_bytes(size_t begin, size_t end) const;
  // The value as SQL text (NULL as "NULL", timestamps as '2024-01-02 14:30:00').
  std::string format(size_t row) const;
};

// Builds one column. Append values in row order, then finish().
class ColumnBuilder {
 public:
  ColumnBuilder(std::string name, DataType type, size_t reserve = 0);

  void append_int(int64_t v);  // BIGINT, INTEGER, BOOLEAN, TIMESTAMP
  void append_double(double v);
  void append_string(std::string_view v);
  void append_null();
  size_t size() const { return length_; }
  ResultColumn finish();

 private:
  void mark_valid();

  std::string name_;
  DataType type_;
  size_t length_ = 0;
  std::vector<int64_t> i64_;
  std::vector<int32_t> i32_;
  std::vector<double> f64_;
  std::vector<uint8_t> b8_;
  std::vector<int64_t> offsets_;
  std::string chars_;
  std::vector<uint8_t> valid_;
  bool any_null_ = false;
};

// A dictionary-encoded VARCHAR column of `length` rows whose int32 codes are
// in `codes` (`valid`: one byte per row, empty when there are no NULLs) over
// `dictionary` (distinct values, no NULLs).
ResultColumn dictionary_column(std::string name, Buffer codes, size_t length, std::vector<uint8_t> valid,
                               std::vector<std::string_view> dictionary);

struct ResultSet {
  std::vector<ResultColumn> columns;
  size_t rows = 0;
  // Rows a statement wrote (INSERT) or 0; for DDL and INSERT the result has
  // no columns.
  uint64_t affected_rows = 0;
  uint64_t execution_time_us = 0;
  uint64_t rows_scanned = 0;

  const ResultColumn& column(std::string_view name) const;  // throws Error(kNotFound)
  std::vector<std::string> column_names() const;
  // A fixed-width text table, for debugging and EXPLAIN-like output.
  std::string to_string(size_t max_rows = 50) const;
};

// The shortest text that reads back as the same double ("10", "0.1",
// "1e+22"; "nan", "inf", "-inf").
std::string format_double(double x);

// Makes names unique the way DuckDB and ClickHouse display them: the second
// "x" becomes "x_1", the third "x_2" (skipping names already taken).
void deduplicate_names(std::vector<std::string>& names);

}  // namespace zepto::exec
