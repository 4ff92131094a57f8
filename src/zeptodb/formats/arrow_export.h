// Export of columns as Arrow C Data / C Stream structs (see arrow_c.h).
//
// The exporter works over a small, source-neutral description of a column,
// ArrowColumn: a kind, a length and shared buffers in the engine's layout.
// Table partitions (arrow_table.h) and SQL results both describe themselves
// this way. Fixed-width buffers (int64, int32, float64, timestamps, offsets,
// characters) are handed to the consumer as they are: the exported array's
// private data holds the shared_ptrs, so the memory stays alive, without a
// copy, until the consumer calls release. Only what Arrow lays out
// differently is built at export time: validity bitmaps (from one byte per
// row, and only for columns that have NULLs) and bit-packed booleans.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "zeptodb/formats/arrow_c.h"

namespace zepto::formats {

// What a column is to an Arrow consumer. Buffers per kind:
//   kInt64, kTimestamp (ns since the epoch, UTC): int64 values
//   kInt32: int32 values; kFloat64: double values; kBool: one byte per value
//   kUtf8: length + 1 int32 offsets into `chars`
//   kLargeUtf8: length + 1 int64 offsets into `chars`
//   kDictionary: int32 indices into `dictionary` (a kUtf8 column)
enum class ArrowKind : uint8_t { kInt64, kInt32, kFloat64, kBool, kTimestamp, kUtf8, kLargeUtf8, kDictionary };

// The Arrow format string of a kind: "l", "i", "g", "b", "tsn:UTC", "u", "U",
// and for kDictionary the index type "i".
const char* arrow_format(ArrowKind kind);

struct ArrowColumn {
  std::string name;
  ArrowKind kind = ArrowKind::kInt64;
  size_t length = 0;
  std::shared_ptr<const void> values;   // see ArrowKind; may be null when length == 0
  std::shared_ptr<const uint8_t> valid;  // one byte per row, 0 = NULL; null = no NULLs
  std::shared_ptr<const char> chars;     // kUtf8 / kLargeUtf8 characters
  std::shared_ptr<const ArrowColumn> dictionary;  // kDictionary: the values (kUtf8)
};

// Columns of equal length: one record batch.
struct ArrowBatch {
  size_t rows = 0;
  std::vector<ArrowColumn> columns;
};

// Builds a kUtf8 column from strings (copies them; for dictionaries and
// small string columns).
ArrowColumn utf8_column(std::string name, const std::vector<std::string>& strings);

// Writes the schema of a batch with these columns (a struct "+s" whose
// children are the columns; buffers are not looked at) to *out.
void export_schema(const std::vector<ArrowColumn>& columns, ArrowSchema* out);

// Writes `batch` as a struct array (a record batch) to *out. Zero copy for
// fixed-width and string buffers; the array owns references to them.
void export_batch(const ArrowBatch& batch, ArrowArray* out);

// Produces the batches of a stream one by one; nullopt ends the stream.
// Called from the consumer's thread; may throw (the stream reports the
// message through get_last_error).
using BatchSource = std::function<std::optional<ArrowBatch>()>;

// Writes a stream to *out whose schema is that of `columns` (their buffers
// are not looked at) and whose batches come from `next`, lazily, one per
// get_next call.
void export_stream(std::vector<ArrowColumn> columns, BatchSource next, ArrowArrayStream* out);

}  // namespace zepto::formats
