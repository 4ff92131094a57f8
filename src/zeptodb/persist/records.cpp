#include "zeptodb/persist/records.h"

#include <cstring>

#include "zeptodb/common/error.h"

namespace zepto::persist {

void Encoder::put_ref(const void* data, size_t n) {
  u64(n);
  if (n > 0) refs_.push_back({own_.size(), static_cast<const char*>(data), n});
}

void Encoder::schema(const Schema& s) {
  u32(static_cast<uint32_t>(s.size()));
  for (const ColumnDef& c : s.columns()) {
    str(c.name);
    u8(static_cast<uint8_t>(c.type));
  }
  i64(s.symbol_index());
  i64(s.timestamp_index());
}

std::vector<std::string_view> Encoder::parts() const {
  std::vector<std::string_view> out;
  out.reserve(2 * refs_.size() + 1);
  size_t at = 0;
  for (const Ref& r : refs_) {
    if (r.at > at) out.emplace_back(own_.data() + at, r.at - at);
    out.emplace_back(r.p, r.n);
    at = r.at;
  }
  if (own_.size() > at) out.emplace_back(own_.data() + at, own_.size() - at);
  return out;
}

std::string Encoder::str_all() const {
  std::string s;
  for (auto p : parts()) s.append(p);
  return s;
}

void Decoder::fail(const std::string& why) const {
  throw_error(ErrorCode::kIOError, what_ + ": " + why + " (at byte " + std::to_string(pos_) + ")");
}

void Decoder::take(void* out, size_t n) {
  if (d_.size() - pos_ < n) fail("record is truncated or corrupt");
  std::memcpy(out, d_.data() + pos_, n);
  pos_ += n;
}

uint8_t Decoder::u8() {
  uint8_t v;
  take(&v, 1);
  return v;
}

uint32_t Decoder::u32() {
  uint32_t v;
  take(&v, 4);
  return v;
}

uint64_t Decoder::u64() {
  uint64_t v;
  take(&v, 8);
  return v;
}

std::string_view Decoder::bytes() {
  uint64_t n = u64();
  if (d_.size() - pos_ < n) fail("record is truncated or corrupt");
  std::string_view v = d_.substr(pos_, n);
  pos_ += n;
  return v;
}

namespace {

ColumnType column_type(Decoder& d) {
  uint8_t t = d.u8();
  if (t > static_cast<uint8_t>(ColumnType::SYMBOL)) d.fail("unknown column type " + std::to_string(t));
  return static_cast<ColumnType>(t);
}

}  // namespace

Schema Decoder::schema() {
  uint32_t n = u32();
  std::vector<ColumnDef> defs;
  for (uint32_t i = 0; i < n; ++i) {
    std::string name = str();
    defs.push_back({std::move(name), column_type(*this)});
  }
  int64_t sym = i64(), ts = i64();
  auto name_of = [&](int64_t i) -> std::string_view {
    if (i < -1 || i >= static_cast<int64_t>(n)) fail("bad key column index " + std::to_string(i));
    return i < 0 ? std::string_view() : std::string_view(defs[static_cast<size_t>(i)].name);
  };
  std::string sym_name(name_of(sym)), ts_name(name_of(ts));
  Schema s(std::move(defs), sym_name, ts_name);
  if (s.symbol_index() != sym || s.timestamp_index() != ts) fail("key columns do not match the schema");
  return s;
}

void encode_batch(Encoder& e, std::string_view table, const Schema& schema, const void* const* columns,
                  const uint8_t* const* validity, size_t rows) {
  e.u8(static_cast<uint8_t>(RecordKind::kBatch));
  e.str(table);
  e.u64(rows);
  e.u32(static_cast<uint32_t>(schema.size()));
  for (size_t c = 0; c < schema.size(); ++c) {
    const ColumnDef& def = schema.column(c);
    e.str(def.name);
    e.u8(static_cast<uint8_t>(def.type));
    e.put_ref(columns[c], rows * type_width(def.type));
    const uint8_t* v = validity ? validity[c] : nullptr;
    e.put_ref(v, v ? rows : 0);
  }
}

BatchRecord decode_batch(Decoder& d) {
  BatchRecord b;
  b.table = d.str();
  b.rows = d.u64();
  uint32_t n = d.u32();
  for (uint32_t c = 0; c < n; ++c) {
    BatchColumn col;
    col.name = d.str();
    col.type = column_type(d);
    col.values = d.bytes();
    col.validity = d.bytes();
    if (col.values.size() != b.rows * type_width(col.type) || (!col.validity.empty() && col.validity.size() != b.rows))
      d.fail("column '" + col.name + "' does not hold " + std::to_string(b.rows) + " rows");
    b.columns.push_back(std::move(col));
  }
  return b;
}

}  // namespace zepto::persist
