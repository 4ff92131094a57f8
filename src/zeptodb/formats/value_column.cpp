#include <algorithm>
#include <charconv>
#include <memory>

#include "zeptodb/common/error.h"
#include "zeptodb/common/strings.h"
#include "zeptodb/formats/decoders.h"
#include "zeptodb/sql/time_literal.h"

namespace zepto::formats {

namespace {

template <typename T>
std::shared_ptr<const void> share(std::vector<T>&& v) {
  auto owner = std::make_shared<std::vector<T>>(std::move(v));
  return std::shared_ptr<const void>(owner, owner->data());
}

bool parse_int(std::string_view s, int64_t& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
}

}  // namespace

std::vector<TargetColumn> target_columns(const Schema& schema, std::string_view table,
                                         const std::vector<std::string>& names) {
  std::vector<TargetColumn> out;
  std::vector<size_t> seen;
  auto add = [&](size_t i) {
    if (std::find(seen.begin(), seen.end(), i) != seen.end())
      throw_error(ErrorCode::kInvalidArgument, "column '" + schema.column(i).name + "' is given twice");
    seen.push_back(i);
    out.push_back({schema.column(i), static_cast<int>(i) == schema.symbol_index()});
  };
  if (names.empty()) {
    for (size_t i = 0; i < schema.size(); ++i) add(i);
  } else {
    for (const auto& n : names) add(schema.require(n, table));
  }
  return out;
}

void ValueColumn::fail(std::string_view text, size_t row, std::string_view why) const {
  std::string msg = "row " + std::to_string(row) + ", column '" + t_.def.name + "' (" +
                    std::string(type_name(t_.def.type)) + "): cannot parse '" + std::string(text.substr(0, 64)) + "'";
  if (!why.empty()) msg += " (" + std::string(why) + ")";
  throw_error(ErrorCode::kInvalidArgument, msg);
}

void ValueColumn::push_i64(int64_t v) {
  switch (t_.def.type) {
    case ColumnType::INT32: i32_.push_back(static_cast<int32_t>(v)); break;
    case ColumnType::DOUBLE: f64_.push_back(static_cast<double>(v)); break;
    case ColumnType::BOOL: b8_.push_back(v != 0); break;
    default: i64_.push_back(v);
  }
  valid_.push_back(1);
}

void ValueColumn::add_null() {
  any_null_ = true;
  valid_.push_back(0);
  switch (t_.def.type) {
    case ColumnType::INT32: i32_.push_back(0); break;
    case ColumnType::DOUBLE: f64_.push_back(0); break;
    case ColumnType::BOOL: b8_.push_back(0); break;
    default: i64_.push_back(0);
  }
}

void ValueColumn::pad_to(size_t rows) {
  while (size() < rows) add_null();
}

void ValueColumn::add_int(int64_t v, size_t row) {
  if (t_.def.type == ColumnType::INT32 && (v < INT32_MIN || v > INT32_MAX))
    fail(std::to_string(v), row, "out of range for INTEGER");
  if (t_.def.type == ColumnType::BOOL && v != 0 && v != 1) fail(std::to_string(v), row, "expected 0 or 1");
  push_i64(v);
}

void ValueColumn::add_double(double v, size_t row) {
  if (t_.def.type != ColumnType::DOUBLE) fail(std::to_string(v), row, "a floating-point number in an integer column");
  f64_.push_back(v);
  valid_.push_back(1);
}

void ValueColumn::add_bool(bool v, size_t row) {
  if (t_.def.type != ColumnType::BOOL && t_.def.type != ColumnType::INT32 && t_.def.type != ColumnType::INT64)
    fail(v ? "true" : "false", row);
  push_i64(v ? 1 : 0);
}

void ValueColumn::add_string(std::string_view s, size_t row) {
  if (t_.key || t_.def.type == ColumnType::SYMBOL) {
    push_i64(symbols_->intern(s));
    return;
  }
  add_text(s, row);
}

void ValueColumn::add_text(std::string_view s, size_t row) {
  switch (t_.def.type) {
    case ColumnType::SYMBOL: push_i64(symbols_->intern(s)); return;
    case ColumnType::INT64:
    case ColumnType::INT32: {
      int64_t v;
      if (parse_int(s, v)) return add_int(v, row);
      if (t_.key) return push_i64(symbols_->intern(s));
      fail(s, row);
    }
    case ColumnType::DOUBLE: {
      double v;
      std::string_view t = s;
      if (!t.empty() && t[0] == '+') t.remove_prefix(1);
      auto r = std::from_chars(t.data(), t.data() + t.size(), v);
      if (t.empty() || r.ec != std::errc() || r.ptr != t.data() + t.size()) fail(s, row);
      f64_.push_back(v);
      valid_.push_back(1);
      return;
    }
    case ColumnType::BOOL:
      if (s == "1" || iequals(s, "true") || iequals(s, "t")) return push_i64(1);
      if (s == "0" || iequals(s, "false") || iequals(s, "f")) return push_i64(0);
      fail(s, row, "expected true, false, 1 or 0");
    case ColumnType::TIMESTAMP: {
      int64_t v;
      if (parse_int(s, v)) return push_i64(v);
      auto ts = sql::parse_timestamp(s);
      if (!ts) fail(s, row, "expected 'YYYY-MM-DD hh:mm:ss[.fffffffff]' or integer nanoseconds");
      return push_i64(*ts);
    }
  }
}

ArrowColumn ValueColumn::finish() {
  ArrowColumn c;
  c.name = t_.def.name;
  c.length = valid_.size();
  switch (t_.def.type) {
    case ColumnType::INT32: c.kind = ArrowKind::kInt32; c.values = share(std::move(i32_)); break;
    case ColumnType::DOUBLE: c.kind = ArrowKind::kFloat64; c.values = share(std::move(f64_)); break;
    case ColumnType::BOOL: c.kind = ArrowKind::kBool; c.values = share(std::move(b8_)); break;
    case ColumnType::TIMESTAMP: c.kind = ArrowKind::kTimestamp; c.values = share(std::move(i64_)); break;
    default: c.kind = ArrowKind::kInt64; c.values = share(std::move(i64_));
  }
  if (any_null_) c.valid = std::static_pointer_cast<const uint8_t>(std::shared_ptr<const void>(share(std::move(valid_))));
  return c;
}

}  // namespace zepto::formats
