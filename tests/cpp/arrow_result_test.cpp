// SQL results as Arrow columns (formats/arrow_result.h): the large_utf8 text
// that a dictionary-encoded VARCHAR column (a SYMBOL result) is handed over
// as equals the plain layout's, for whole columns and ranges, with NULLs,
// empty and long names, on one thread and on two (large columns).
#include <gtest/gtest.h>

#include "result_util.h"

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "zeptodb/exec/result_set.h"
#include "zeptodb/formats/arrow_result.h"

using namespace zepto;
using namespace zepto::formats;

namespace {

// `rows` codes into `names`, every `null_every`-th row NULL (0: none), and
// a run of NULLs in the middle (where the two threads' halves meet).
exec::ResultColumn column(const std::vector<std::string>& names, size_t rows, size_t null_every) {
  std::mt19937 rng(7);
  std::vector<int32_t> codes(rows);
  std::vector<uint8_t> valid;
  if (null_every > 0) valid.assign(rows, 1);
  for (size_t r = 0; r < rows; ++r) {
    codes[r] = static_cast<int32_t>(rng() % names.size());
    if (null_every > 0 && (r % null_every == 0 || (r > rows / 2 - 40 && r < rows / 2 + 40))) {
      valid[r] = 0;
      codes[r] = 0;  // what the engine writes for a NULL row
    }
  }
  std::vector<std::string_view> dict(names.begin(), names.end());
  return exec::dictionary_column("s", exec::make_buffer(std::move(codes)), rows, std::move(valid), std::move(dict));
}

// result_column(c, begin, end) row by row against the plain layout's text.
void expect_text(const exec::ResultColumn& c, size_t begin, size_t end) {
  exec::ResultColumn plain = test_util::plain_strings(c, begin, end);
  ArrowColumn a = result_column(c, begin, end);
  ASSERT_EQ(a.kind, ArrowKind::kLargeUtf8);
  ASSERT_EQ(a.length, end - begin);
  const auto* off = static_cast<const int64_t*>(a.values.get());
  ASSERT_EQ(off[0], 0);
  size_t mismatches = 0;
  for (size_t r = 0; r < a.length; ++r) {
    const bool null = a.valid != nullptr && a.valid.get()[r] == 0;
    ASSERT_EQ(null, plain.is_null(r)) << "row " << begin + r;
    std::string_view text(a.chars.get() + off[r], static_cast<size_t>(off[r + 1] - off[r]));
    if (null ? !text.empty() : text != plain.string_at(r)) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0u) << "rows [" << begin << ", " << end << ")";
  EXPECT_EQ(static_cast<size_t>(off[a.length]), plain.text_bytes(0, plain.length));
}

std::vector<std::string> names_up_to(size_t longest) {
  std::vector<std::string> out{""};
  for (size_t len = 1; len <= longest; ++len) out.push_back(std::string(len, static_cast<char>('a' + len % 26)));
  return out;
}

}  // namespace

TEST(ArrowResultText, ShortNamesWholeColumnAndRanges) {
  for (size_t rows : {size_t{0}, size_t{1}, size_t{1000}, size_t{300'000}}) {  // 300 k: two threads
    exec::ResultColumn c = column(names_up_to(16), rows, 0);
    expect_text(c, 0, rows);
    if (rows > 2) expect_text(c, 1, rows - 1);
  }
}

TEST(ArrowResultText, LongNamesAndNulls) {
  for (size_t null_every : {size_t{3}, size_t{1000}}) {
    for (size_t longest : {size_t{16}, size_t{40}}) {
      exec::ResultColumn c = column(names_up_to(longest), 300'001, null_every);
      expect_text(c, 0, c.length);
      expect_text(c, 150'000, 150'100);  // a range across the NULL run
      expect_text(c, 5, 5);
    }
  }
}

TEST(ArrowResultText, AllNullRowsGiveNoText) {
  exec::ResultColumn c = column({"x"}, 400'000, 1);  // every row NULL
  expect_text(c, 0, c.length);
  ArrowColumn a = result_column(c, 0, c.length);
  EXPECT_EQ(static_cast<const int64_t*>(a.values.get())[c.length], 0);
}
