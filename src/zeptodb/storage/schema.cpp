#include "zeptodb/storage/schema.h"

#include "zeptodb/common/error.h"
#include "zeptodb/common/strings.h"

namespace zepto {

Schema::Schema(std::vector<ColumnDef> columns, std::string_view symbol_column,
               std::string_view timestamp_column)
    : columns_(std::move(columns)) {
  if (columns_.empty()) throw_error(ErrorCode::kInvalidArgument, "a table needs at least one column");
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].name.empty())
      throw_error(ErrorCode::kInvalidArgument, "column " + std::to_string(i + 1) + " has no name");
    for (size_t j = 0; j < i; ++j)
      if (iequals(columns_[i].name, columns_[j].name))
        throw_error(ErrorCode::kInvalidArgument, "duplicate column name '" + columns_[i].name + "'");
    row_width_ += type_width(columns_[i].type);
  }
  if (!symbol_column.empty()) {
    symbol_idx_ = find(symbol_column);
    if (symbol_idx_ < 0)
      throw_error(ErrorCode::kNotFound, "symbol column '" + std::string(symbol_column) + "' not in schema");
  } else {
    for (size_t i = 0; i < columns_.size() && symbol_idx_ < 0; ++i)
      if (columns_[i].type == ColumnType::SYMBOL) symbol_idx_ = static_cast<int>(i);
  }
  if (!timestamp_column.empty()) {
    ts_idx_ = find(timestamp_column);
    if (ts_idx_ < 0)
      throw_error(ErrorCode::kNotFound,
                  "timestamp column '" + std::string(timestamp_column) + "' not in schema");
  } else {
    for (size_t i = 0; i < columns_.size() && ts_idx_ < 0; ++i)
      if (columns_[i].type == ColumnType::TIMESTAMP) ts_idx_ = static_cast<int>(i);
  }
  for (int idx : {symbol_idx_, ts_idx_}) {
    if (idx >= 0 && type_width(columns_[idx].type) != 8)
      throw_error(ErrorCode::kInvalidArgument,
                  "column '" + columns_[idx].name + "' must be 64-bit to be a symbol or timestamp key");
  }
}

int Schema::find(std::string_view name) const {
  for (size_t i = 0; i < columns_.size(); ++i)  // the usual case: spelled as declared
    if (columns_[i].name == name) return static_cast<int>(i);
  for (size_t i = 0; i < columns_.size(); ++i)
    if (iequals(columns_[i].name, name)) return static_cast<int>(i);
  return -1;
}

size_t Schema::require(std::string_view name, std::string_view table) const {
  int i = find(name);
  if (i < 0)
    throw_error(ErrorCode::kNotFound, "unknown column '" + std::string(name) + "' in table '" +
                                          std::string(table) + "'; valid columns: " + column_list());
  return static_cast<size_t>(i);
}

std::string Schema::column_list() const {
  std::string out;
  for (const auto& c : columns_) {
    if (!out.empty()) out += ", ";
    out += c.name;
  }
  return out;
}

}  // namespace zepto
