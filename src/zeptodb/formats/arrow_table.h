// A table's stored rows as Arrow batches (ArrowColumn, see arrow_export.h):
// one batch per partition, taken from partition snapshots.
//
// Numeric and timestamp columns point at the partition's storage blocks
// (zero copy; the batch holds the blocks). The table's timestamp column is
// exported as timestamp[ns, UTC]. Symbol columns (the partition key and
// SYMBOL columns) are exported according to SymbolExport; their names are
// looked up when the export is made, so a stream stays valid on its own.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "zeptodb/formats/arrow_export.h"
#include "zeptodb/storage/partition.h"
#include "zeptodb/storage/symbol_dict.h"
#include "zeptodb/storage/table.h"

namespace zepto::formats {

enum class SymbolExport : uint8_t {
  kAuto,        // dictionary when some id exported has a name (the others as
                // decimal text), int64 ids when none has
  kDictionary,  // dictionary<int32, utf8> (ids without a name as decimal text)
  kUtf8,        // utf8 strings (ids without a name as decimal text)
  kId,          // the int64 ids (zero copy)
};

struct TableExportOptions {
  std::vector<std::string> columns;  // table columns to export, in this order; empty = all
  SymbolExport symbols = SymbolExport::kAuto;
};

// A point-in-time export of some partitions of a table: the snapshots are
// taken by the constructor, batches are built on demand.
class TableExport {
 public:
  // `keys`: the partition keys to export (those without a partition are
  // skipped); nullopt = every partition, in creation order. Throws
  // Error(kNotFound) for an unknown column.
  TableExport(std::shared_ptr<const Table> table, const SymbolDictionary& symbols,
              const std::optional<std::vector<int64_t>>& keys, const TableExportOptions& options);

  // The columns' names and kinds (no data): the schema of every batch.
  const std::vector<ArrowColumn>& schema() const { return schema_; }
  size_t batch_count() const { return snapshots_.size(); }
  size_t rows() const;
  // The batch of partition `i` (i < batch_count()).
  ArrowBatch batch(size_t i) const;
  // Every partition in one batch (a copy unless there is at most one partition).
  ArrowBatch combined() const;

 private:
  // Exported column `out` over `parts` (zero copy for one partition's fixed-width values).
  ArrowColumn build(const std::vector<const PartitionSnapshot*>& parts, size_t out) const;

  std::shared_ptr<const Table> table_;
  std::vector<PartitionSnapshot> snapshots_;
  std::vector<size_t> indices_;       // table column of each exported column
  std::vector<bool> symbolic_;        // exported as strings (dictionary / utf8)
  std::vector<ArrowColumn> schema_;
  std::unordered_map<int64_t, std::string> names_;  // id -> name for symbolic columns
};

// A stream over an export's batches, one partition per get_next.
void export_stream(std::shared_ptr<const TableExport> table, ArrowArrayStream* out);

}  // namespace zepto::formats
