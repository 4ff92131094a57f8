// A table's columns, and which of them are the partition key (symbol) and
// the time order (timestamp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "zeptodb/common/types.h"

namespace zepto {

struct ColumnDef {
  std::string name;
  ColumnType type;
};

class Schema {
 public:
  Schema() = default;
  // `symbol_column` / `timestamp_column` name the partition key and the
  // ordering column; empty means "choose": the first SYMBOL column and the
  // first TIMESTAMP column. A table without a symbol column has a single
  // partition; one without a timestamp column keeps insertion order.
  // Throws Error(kInvalidArgument) on duplicate or empty names.
  Schema(std::vector<ColumnDef> columns, std::string_view symbol_column = {},
         std::string_view timestamp_column = {});

  const std::vector<ColumnDef>& columns() const { return columns_; }
  size_t size() const { return columns_.size(); }
  const ColumnDef& column(size_t i) const { return columns_[i]; }

  // Index of the column named `name` (case-insensitive), or -1.
  int find(std::string_view name) const;
  // Like find(), but throws Error(kNotFound) naming the valid columns.
  size_t require(std::string_view name, std::string_view table) const;

  int symbol_index() const { return symbol_idx_; }
  int timestamp_index() const { return ts_idx_; }
  // Sum of the column widths: the bytes one row occupies.
  size_t row_width() const { return row_width_; }

  // "symbol, timestamp, price, volume"
  std::string column_list() const;

 private:
  std::vector<ColumnDef> columns_;
  int symbol_idx_ = -1;
  int ts_idx_ = -1;
  size_t row_width_ = 0;
};

}  // namespace zepto
