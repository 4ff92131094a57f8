#include "zeptodb/formats/arrow_result.h"

namespace zepto::formats {

ArrowKind result_kind(exec::DataType t) {
  switch (t) {
    case exec::DataType::kBigint: return ArrowKind::kInt64;
    case exec::DataType::kInteger: return ArrowKind::kInt32;
    case exec::DataType::kDouble: return ArrowKind::kFloat64;
    case exec::DataType::kBoolean: return ArrowKind::kBool;
    case exec::DataType::kTimestamp: return ArrowKind::kTimestamp;
    case exec::DataType::kVarchar: return ArrowKind::kLargeUtf8;
  }
  return ArrowKind::kInt64;
}

std::vector<ArrowColumn> result_schema(const exec::ResultSet& rs) {
  std::vector<ArrowColumn> out;
  out.reserve(rs.columns.size());
  for (const auto& c : rs.columns) {
    ArrowColumn a;
    a.name = c.name;
    a.kind = result_kind(c.type);
    out.push_back(std::move(a));
  }
  return out;
}

ArrowColumn result_column(const exec::ResultColumn& c, size_t begin, size_t end) {
  // A dictionary-encoded column leaves as large_utf8 text, like every VARCHAR.
  if (c.is_dictionary()) return result_column(exec::plain_strings(c, begin, end), 0, end - begin);
  ArrowColumn a;
  a.name = c.name;
  a.kind = result_kind(c.type);
  a.length = end - begin;
  size_t width = exec::data_type_width(c.type);
  // VARCHAR offsets stay absolute: they index the shared character buffer.
  if (c.values) a.values = std::shared_ptr<const void>(c.values, reinterpret_cast<const char*>(c.values.get()) + begin * width);
  if (c.validity)
    a.valid = std::shared_ptr<const uint8_t>(c.validity, reinterpret_cast<const uint8_t*>(c.validity.get()) + begin);
  if (c.type == exec::DataType::kVarchar) a.chars = std::shared_ptr<const char>(c.chars, reinterpret_cast<const char*>(c.chars.get()));
  return a;
}

ArrowBatch result_batch(const exec::ResultSet& rs, size_t begin, size_t end) {
  ArrowBatch batch;
  batch.rows = end - begin;
  batch.columns.reserve(rs.columns.size());
  for (const auto& c : rs.columns) batch.columns.push_back(result_column(c, begin, end));
  return batch;
}

}  // namespace zepto::formats
