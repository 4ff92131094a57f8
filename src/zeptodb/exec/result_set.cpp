#include "zeptodb/exec/result_set.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <unordered_set>

#include "zeptodb/common/error.h"
#include "zeptodb/sql/time_literal.h"

namespace zepto::exec {

std::string_view data_type_name(DataType t) {
  switch (t) {
    case DataType::kBigint: return "BIGINT";
    case DataType::kInteger: return "INTEGER";
    case DataType::kDouble: return "DOUBLE";
    case DataType::kBoolean: return "BOOLEAN";
    case DataType::kVarchar: return "VARCHAR";
    case DataType::kTimestamp: return "TIMESTAMP";
  }
  return "?";
}

size_t data_type_width(DataType t) {
  switch (t) {
    case DataType::kInteger: return 4;
    case DataType::kBoolean: return 1;
    default: return 8;
  }
}

std::string format_double(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

size_t ResultColumn::null_count() const {
  if (!validity) return 0;
  const uint8_t* v = reinterpret_cast<const uint8_t*>(validity.get());
  return static_cast<size_t>(std::count(v, v + length, uint8_t{0}));
}

int64_t ResultColumn::int_at(size_t row) const {
  switch (type) {
    case DataType::kInteger: return data<int32_t>()[row];
    case DataType::kBoolean: return data<uint8_t>()[row];
    case DataType::kDouble: return static_cast<int64_t>(data<double>()[row]);
    default: return data<int64_t>()[row];
  }
}

double ResultColumn::double_at(size_t row) const {
  return type == DataType::kDouble ? data<double>()[row] : static_cast<double>(int_at(row));
}

size_t ResultColumn::text_bytes(size_t begin, size_t end) const {
  if (!dictionary) return static_cast<size_t>(data<int64_t>()[end] - data<int64_t>()[begin]);
  const int64_t* off = dictionary->data<int64_t>();
  const int32_t* codes = data<int32_t>();
  size_t bytes = 0;
  for (size_t r = begin; r < end; ++r)
    if (!is_null(r)) bytes += static_cast<size_t>(off[codes[r] + 1] - off[codes[r]]);
  return bytes;
}

ResultColumn dictionary_column(std::string name, Buffer codes, size_t length, std::vector<uint8_t> valid,
                               std::vector<std::string_view> dictionary) {
  ColumnBuilder d("", DataType::kVarchar, dictionary.size());
  for (std::string_view s : dictionary) d.append_string(s);
  ResultColumn c;
  c.name = std::move(name);
  c.type = DataType::kVarchar;
  c.length = length;
  c.values = std::move(codes);
  if (!valid.empty()) c.validity = make_buffer(std::move(valid));
  c.dictionary = std::make_shared<const ResultColumn>(d.finish());
  return c;
}

std::string ResultColumn::format(size_t row) const {
  if (is_null(row)) return "NULL";
  switch (type) {
    case DataType::kBigint:
    case DataType::kInteger: return std::to_string(int_at(row));
    case DataType::kBoolean: return int_at(row) ? "true" : "false";
    case DataType::kTimestamp: return sql::format_timestamp(int_at(row));
    case DataType::kVarchar: return std::string(string_at(row));
    case DataType::kDouble: return format_double(data<double>()[row]);
  }
  return "?";
}

ColumnBuilder::ColumnBuilder(std::string name, DataType type, size_t reserve)
    : name_(std::move(name)), type_(type) {
  valid_.reserve(reserve);
  switch (type_) {
    case DataType::kInteger: i32_.reserve(reserve); break;
    case DataType::kDouble: f64_.reserve(reserve); break;
    case DataType::kBoolean: b8_.reserve(reserve); break;
    case DataType::kVarchar:
      offsets_.reserve(reserve + 1);
      offsets_.push_back(0);
      break;
    default: i64_.reserve(reserve);
  }
}

void ColumnBuilder::mark_valid() {
  valid_.push_back(1);
  ++length_;
}

void ColumnBuilder::append_int(int64_t v) {
  switch (type_) {
    case DataType::kInteger: i32_.push_back(static_cast<int32_t>(v)); break;
    case DataType::kBoolean: b8_.push_back(v != 0); break;
    case DataType::kDouble: f64_.push_back(static_cast<double>(v)); break;
    case DataType::kVarchar: append_string(std::to_string(v)); return;
    default: i64_.push_back(v);
  }
  mark_valid();
}

void ColumnBuilder::append_double(double v) {
  if (type_ == DataType::kDouble) {
    f64_.push_back(v);
    mark_valid();
  } else {
    append_int(static_cast<int64_t>(v));
  }
}

void ColumnBuilder::append_string(std::string_view v) {
  chars_.append(v);
  offsets_.push_back(static_cast<int64_t>(chars_.size()));
  mark_valid();
}

void ColumnBuilder::append_null() {
  switch (type_) {
    case DataType::kInteger: i32_.push_back(0); break;
    case DataType::kBoolean: b8_.push_back(0); break;
    case DataType::kDouble: f64_.push_back(0); break;
    case DataType::kVarchar: offsets_.push_back(static_cast<int64_t>(chars_.size())); break;
    default: i64_.push_back(0);
  }
  valid_.push_back(0);
  any_null_ = true;
  ++length_;
}

ResultColumn ColumnBuilder::finish() {
  ResultColumn c;
  c.name = std::move(name_);
  c.type = type_;
  c.length = length_;
  switch (type_) {
    case DataType::kInteger: c.values = make_buffer(std::move(i32_)); break;
    case DataType::kDouble: c.values = make_buffer(std::move(f64_)); break;
    case DataType::kBoolean: c.values = make_buffer(std::move(b8_)); break;
    case DataType::kVarchar: {
      c.values = make_buffer(std::move(offsets_));
      auto owner = std::make_shared<std::string>(std::move(chars_));
      c.chars = Buffer(owner, reinterpret_cast<const std::byte*>(owner->data()));
      break;
    }
    default: c.values = make_buffer(std::move(i64_));
  }
  if (any_null_) c.validity = make_buffer(std::move(valid_));
  return c;
}

const ResultColumn& ResultSet::column(std::string_view name) const {
  for (const auto& c : columns)
    if (c.name == name) return c;
  std::string valid;
  for (const auto& c : columns) valid += (valid.empty() ? "" : ", ") + c.name;
  throw_error(ErrorCode::kNotFound,
              "no result column '" + std::string(name) + "' (columns: " + valid + ")");
}

std::vector<std::string> ResultSet::column_names() const {
  std::vector<std::string> out;
  out.reserve(columns.size());
  for (const auto& c : columns) out.push_back(c.name);
  return out;
}

std::string ResultSet::to_string(size_t max_rows) const {
  size_t shown = std::min(rows, max_rows);
  std::vector<std::vector<std::string>> cells(columns.size());
  std::vector<size_t> width(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    width[c] = columns[c].name.size();
    for (size_t r = 0; r < shown; ++r) {
      cells[c].push_back(columns[c].format(r));
      width[c] = std::max(width[c], cells[c].back().size());
    }
  }
  std::string out;
  auto line = [&](auto cell) {
    for (size_t c = 0; c < columns.size(); ++c) {
      std::string s = cell(c);
      out += (c ? " | " : "") + s + std::string(width[c] - std::min(width[c], s.size()), ' ');
    }
    out += '\n';
  };
  line([&](size_t c) { return columns[c].name; });
  line([&](size_t c) { return std::string(width[c], '-'); });
  for (size_t r = 0; r < shown; ++r) line([&](size_t c) { return cells[c][r]; });
  if (shown < rows) out += "(" + std::to_string(rows - shown) + " more rows)\n";
  return out;
}

void deduplicate_names(std::vector<std::string>& names) {
  auto lower = [](std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  };
  std::unordered_set<std::string> taken;
  for (const auto& n : names) taken.insert(lower(n));
  std::unordered_set<std::string> seen;
  for (auto& n : names) {
    if (seen.insert(lower(n)).second) continue;
    for (int k = 1;; ++k) {
      std::string cand = n + "_" + std::to_string(k);
      if (!taken.count(lower(cand))) {
        n = cand;
        taken.insert(lower(cand));
        seen.insert(lower(cand));
        break;
      }
    }
  }
}

}  // namespace zepto::exec
