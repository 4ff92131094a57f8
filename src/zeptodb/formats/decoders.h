// The decoders behind insert_formatted (input.h) and what they share: the
// target columns of an INSERT and the per-column builders of text values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "zeptodb/formats/arrow_c.h"
#include "zeptodb/formats/arrow_export.h"
#include "zeptodb/formats/input.h"
#include "zeptodb/storage/schema.h"
#include "zeptodb/storage/symbol_dict.h"

namespace zepto::formats {

// A column the input fills: its definition and role in the table.
struct TargetColumn {
  ColumnDef def;
  bool key = false;  // the table's partition key
};

// The columns named by an INSERT (all of the schema when `names` is empty).
// Throws Error(kNotFound) for unknown names, kInvalidArgument for repeats.
std::vector<TargetColumn> target_columns(const Schema& schema, std::string_view table,
                                         const std::vector<std::string>& names);

// Builds one column from values of any text format, converting each to the
// target's type. Symbol columns store ids: names are interned, integers are
// ids. `row` in errors is 1-based.
class ValueColumn {
 public:
  ValueColumn(TargetColumn target, SymbolDictionary& symbols) : t_(std::move(target)), symbols_(&symbols) {}

  const TargetColumn& target() const { return t_; }
  size_t size() const { return valid_.size(); }

  void add_null();
  void add_text(std::string_view text, size_t row);  // unquoted/unescaped field text
  void add_int(int64_t v, size_t row);
  void add_double(double v, size_t row);
  void add_bool(bool v, size_t row);
  void add_string(std::string_view s, size_t row);  // a quoted string (JSON)
  // Pads with NULL up to `rows` (JSON rows that omit the column).
  void pad_to(size_t rows);

  ArrowColumn finish();

 private:
  [[noreturn]] void fail(std::string_view text, size_t row, std::string_view why = {}) const;
  void push_i64(int64_t v);

  TargetColumn t_;
  SymbolDictionary* symbols_;
  std::vector<int64_t> i64_;
  std::vector<int32_t> i32_;
  std::vector<double> f64_;
  std::vector<uint8_t> b8_;
  std::vector<uint8_t> valid_;
  bool any_null_ = false;
};

// Text formats: one batch of all rows.
// CSV (`csv`) or TabSeparated; `with_names`: the first row names the
// columns (used when `names` is empty).
ArrowBatch decode_delimited(std::string_view data, const Schema& schema, std::string_view table,
                            const std::vector<std::string>& names, SymbolDictionary& symbols, char delimiter,
                            bool csv, bool with_names);
ArrowBatch decode_json_each_row(std::string_view data, const Schema& schema, std::string_view table,
                                const std::vector<std::string>& names, SymbolDictionary& symbols,
                                const InputOptions& options);
// Native: one batch per block. Columns are matched to `names` by position
// when given, else by the block's names.
std::vector<ArrowBatch> decode_native(std::string_view data, const Schema& schema, std::string_view table,
                                      const std::vector<std::string>& names);

}  // namespace zepto::formats
