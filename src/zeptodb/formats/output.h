// Output formats of the HTTP interface: a ResultSet encoded as ClickHouse
// does in TabSeparated (+WithNames, +WithNamesAndTypes), CSV(+WithNames),
// JSON, JSONCompact, JSONEachRow, Native, ArrowStream and Arrow.
//
// Encoding is pulled in chunks (ResultStream::next) so that a large result
// is never encoded whole: the server sends each chunk as it is made. Text
// formats follow ClickHouse's escaping rules; NULL is \N in TabSeparated and
// CSV and null in JSON; NaN and infinities are nan/inf in text and null in
// JSON (never invalid JSON); floats print round-trippable (format_double);
// 64-bit integers are quoted in JSON unless quote_64bit_integers is off,
// like ClickHouse's output_format_json_quote_64bit_integers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "zeptodb/exec/result_set.h"

namespace zepto::formats {

struct OutputOptions {
  bool quote_64bit_integers = true;
  char csv_delimiter = ',';
  size_t block_rows = 65536;         // rows per Native / Arrow block
  size_t chunk_bytes = 1 << 20;      // target size of one ResultStream chunk
  // Native: VARCHAR columns as LowCardinality(String) (each distinct string
  // once per block, then one index per row) instead of String.
  bool native_low_cardinality_strings = false;
  // JSON "statistics".
  double elapsed_seconds = 0;
  uint64_t rows_read = 0;
  uint64_t bytes_read = 0;
};

// One format's encoder. The stream calls prefix once, rows for consecutive
// row ranges, then suffix.
class Encoder {
 public:
  virtual ~Encoder() = default;
  virtual void prefix(std::string& out) {}
  virtual void rows(size_t begin, size_t end, std::string& out) = 0;
  virtual void suffix(std::string& out) {}
};

// The canonical name of an output format, matched case-insensitively
// ("tsv" is TabSeparated, "JSONLines" is JSONEachRow, ...); empty if unknown.
std::string_view output_format_name(std::string_view name);

// The Content-Type ClickHouse sends with a format.
std::string_view content_type(std::string_view canonical_name);

// Makes the encoder of `canonical_name` over `rs` (which must outlive it).
std::unique_ptr<Encoder> make_encoder(std::string_view canonical_name, const exec::ResultSet& rs,
                                      const OutputOptions& options);

// Pulls a result through an encoder in chunks of about options.chunk_bytes.
class ResultStream {
 public:
  // Throws Error(kInvalidArgument) for an unknown format.
  ResultStream(std::shared_ptr<const exec::ResultSet> rs, std::string_view format,
               OutputOptions options = {});
  // Replaces `out` with the next chunk; false when everything was produced.
  bool next(std::string& out);
  const std::string& format() const { return format_; }
  // True once next() has produced the last piece.
  bool finished() const { return stage_ == 2; }

 private:
  std::shared_ptr<const exec::ResultSet> rs_;
  std::string format_;
  OutputOptions options_;
  std::unique_ptr<Encoder> encoder_;
  size_t row_ = 0;
  int stage_ = 0;  // 0 prefix, 1 rows, 2 done
};

// Encodes a whole result into one string (tests, small answers).
std::string encode(const exec::ResultSet& rs, std::string_view format, const OutputOptions& options = {});

}  // namespace zepto::formats
