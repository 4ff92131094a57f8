// Import of Arrow C Data / C Stream input (see arrow_c.h) into a table's
// physical column types, ready for one atomic Database::ingest_columns call.
//
// Reads any producer's record batches: int8..int64, uint8..uint64 (range
// checked), float32/64, bool (bit-packed), timestamp of any unit and time
// zone (stored as ns UTC), date32/date64, utf8, large_utf8, utf8_view and
// dictionary<int, string> (symbol columns: names go through the symbol
// dictionary), validity bitmaps, sliced arrays (non-zero offsets), chunked
// streams and zero-length arrays with null buffers. A single-chunk column
// already in the table's physical type is passed through without a copy;
// the others are converted in one pass each (from 256 k rows on, the
// columns on two threads), into buffers that are kept for the next import
// (at most 512 MB of them). Anything else raises Error naming the column and the Arrow
// format string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "zeptodb/common/types.h"
#include "zeptodb/formats/arrow_c.h"
#include "zeptodb/storage/schema.h"
#include "zeptodb/storage/symbol_dict.h"

namespace zepto::formats {

struct ArrowImportOptions {
  // (source column, table column) pairs to import; the other source columns
  // are ignored. Empty = every source column, under its own name.
  std::vector<std::pair<std::string, std::string>> columns;
  // (table column, factor): numbers stored in that integer column become
  // round(x * factor) (half away from zero). Without a factor, floating-point
  // input for an integer column is rejected.
  std::vector<std::pair<std::string, double>> scales;
  // Reject NULLs (a cleared validity bit, a null-type column, a NULL
  // dictionary entry) with an error naming column and row, instead of
  // storing them as NULL.
  bool reject_nulls = false;
  // Reject timestamps equal to INT64_MIN (NumPy's NaT) the same way, as
  // "NaT": for NumPy datetime64 columns handed over as Arrow timestamps.
  bool reject_nat = false;
};

// One decoded column: `data` holds `rows` values of `type`, `valid` one byte
// per row (0 = NULL) or nullptr.
struct ImportedColumn {
  std::string name;  // the table column
  ColumnType type;
  const void* data = nullptr;
  const uint8_t* valid = nullptr;
};

// The decoded batch. Owns the buffers its columns point at, including the
// producer's arrays when a column is passed through (released on destruction).
class ImportedBatch {
 public:
  ImportedBatch() = default;
  ImportedBatch(ImportedBatch&&) noexcept = default;
  ImportedBatch& operator=(ImportedBatch&&) noexcept = default;
  ~ImportedBatch() = default;

  size_t rows = 0;
  std::vector<ImportedColumn> columns;

 private:
  friend class ArrowReader;
  std::vector<std::shared_ptr<void>> keep_;
};

// Reads every batch of `stream` (released when done, even on error) into one
// ImportedBatch for table `table_name` of `schema`. Symbol names are interned
// into `symbols`.
ImportedBatch import_arrow_stream(ArrowArrayStream* stream, const Schema& schema,
                                  const std::string& table_name, SymbolDictionary& symbols,
                                  const ArrowImportOptions& options);

// Moves one record batch (a struct array) and its schema into *out, a
// stream that yields that batch once: the array form of the input reads
// through import_arrow_stream too.
void single_batch_stream(ArrowSchema* schema, ArrowArray* array, ArrowArrayStream* out);

}  // namespace zepto::formats
