#include "zeptodb/formats/arrow_result.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <thread>

#include "zeptodb/common/huge_pages.h"
#include "zeptodb/common/two_threads.h"

namespace zepto::formats {
namespace {

// From this many rows the text of a dictionary-encoded column is built on
// two threads (a thread of its own, as the Arrow import does).
constexpr size_t kParallelRows = size_t{1} << 18;
// Dictionary entries up to this long are copied with one fixed-size copy
// each (the bytes past the entry are overwritten by the next rows).
constexpr size_t kShort = 16;

template <typename T>
std::shared_ptr<T[]> uninitialized(size_t n) {
  std::shared_ptr<T[]> p(new T[n]);  // not zeroed: every element is written
  advise_huge_pages(p.get(), n * sizeof(T));
  return p;
}

// Rows [begin, end) of a dictionary-encoded column as large_utf8 text: the
// lengths of the rows are summed per half, then each half writes its offsets
// and characters, on two threads for a large column. One allocation per
// buffer, no per-row bookkeeping (this is what pandas, Polars and HTTP Arrow
// clients receive for SYMBOL results).
ArrowColumn dictionary_text(const exec::ResultColumn& c, size_t begin, size_t end) {
  const exec::ResultColumn& d = *c.dictionary;
  const size_t n = end - begin, entries = d.length;
  std::vector<std::string_view> names(entries);
  size_t longest = 0;
  for (size_t i = 0; i < entries; ++i) {
    names[i] = d.string_at(i);
    longest = std::max(longest, names[i].size());
  }
  // Entries padded to kShort bytes each, for the fixed-size copies.
  std::vector<char> padded(longest <= kShort ? entries * kShort : 0);
  for (size_t i = 0; i < padded.size() / kShort; ++i) std::memcpy(&padded[i * kShort], names[i].data(), names[i].size());

  const int32_t* codes = c.data<int32_t>() + begin;
  const uint8_t* valid = c.validity ? reinterpret_cast<const uint8_t*>(c.validity.get()) + begin : nullptr;
  auto length_of = [&](size_t r) -> int64_t {
    return valid != nullptr && valid[r] == 0 ? 0 : static_cast<int64_t>(names[static_cast<size_t>(codes[r])].size());
  };
  const size_t parts = n >= kParallelRows && std::thread::hardware_concurrency() != 1 ? 2 : 1;
  std::vector<size_t> from(parts + 1);
  for (size_t p = 0; p <= parts; ++p) from[p] = n * p / parts;
  auto run = [&](auto&& work) { run_two(parts == 2, work); };  // work(part) for every part

  std::vector<int64_t> sums(parts + 1, 0);  // characters before each part
  run([&](size_t p) {
    int64_t s = 0;
    for (size_t r = from[p]; r < from[p + 1]; ++r) s += length_of(r);
    sums[p + 1] = s;
  });
  for (size_t p = 0; p < parts; ++p) sums[p + 1] += sums[p];
  const size_t total = static_cast<size_t>(sums[parts]);

  auto offsets = uninitialized<int64_t>(n + 1);
  auto chars = uninitialized<char>(total + kShort);  // slack for the last fixed-size copy
  run([&](size_t p) {
    int64_t at = sums[p];
    int64_t* off = offsets.get();
    char* out = chars.get();
    // A fixed-size copy writes past its row into the part's next rows, which
    // overwrite those bytes; near the part's end the copies are exact (the
    // next part's bytes belong to the other thread).
    const int64_t fixed_until = sums[p + 1] - static_cast<int64_t>(kShort);
    for (size_t r = from[p]; r < from[p + 1]; ++r) {
      off[r] = at;
      const int64_t len = length_of(r);
      if (len == 0) continue;
      const auto code = static_cast<size_t>(codes[r]);
      if (!padded.empty() && at <= fixed_until) std::memcpy(out + at, &padded[code * kShort], kShort);
      else std::memcpy(out + at, names[code].data(), static_cast<size_t>(len));
      at += len;
    }
  });
  offsets.get()[n] = static_cast<int64_t>(total);

  ArrowColumn a;
  a.name = c.name;
  a.kind = ArrowKind::kLargeUtf8;
  a.length = n;
  a.values = std::shared_ptr<const void>(offsets, offsets.get());
  if (valid != nullptr) a.valid = std::shared_ptr<const uint8_t>(c.validity, valid);
  a.chars = std::shared_ptr<const char>(chars, chars.get());
  return a;
}

}  // namespace

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
  if (c.is_dictionary()) return dictionary_text(c, begin, end);
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
