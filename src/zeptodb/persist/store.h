// Checkpoints: the columnar partition files of a data directory, the
// manifest of each table, and the catalog file that commits them.
//
// Layout under the data directory:
//   CATALOG                      the commit point: checkpoint LSN, tables
//                                (name, directory id, TTL, schema) and the
//                                symbol dictionary; replaced atomically
//   wal/                         the write-ahead log (wal.h)
//   tables/<id>_<name>/MANIFEST-<lsn>
//                                the table's segments and units as of that
//                                checkpoint (format version 2)
//   tables/<id>_<name>/<YYYY-MM-DD>/<segment>/<index>_<column>.zcol
//                                one file per column (column_file.h)
//
// Data is split into units of (table, symbol, day). A segment holds rows of
// one day: a checkpoint writes one segment per day it touches, the rows of
// every unit of that day it writes, unit after unit in symbol order. A unit
// is a list of pieces (segment, first row in it, rows). A checkpoint extends
// a unit by a piece holding the rows it gained, or rewrites the unit whole
// when older rows changed (late rows, TTL). Per day, compaction keeps the
// number of segments and their dead rows bounded:
//   - a segment whose live rows (those some unit references) are fewer than
//     half of its rows has its units rewritten into the new segment;
//   - the new segment absorbs the day's newest segment while that holds no
//     more live rows than the new one would (so the sizes of a day's
//     segments grow geometrically from newest to oldest, and a row is
//     rewritten about log2(day rows / checkpoint rows) times at most), and
//     also while the day would have more than kMaxDaySegments segments.
// A checkpoint writes its segments and manifests first, then CATALOG
// (atomically); only then are segments that no unit references any more
// deleted. A crash at any point leaves the previous checkpoint whole, and
// load() removes what it does not reference.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "zeptodb/persist/column_file.h"
#include "zeptodb/persist/mapped.h"
#include "zeptodb/storage/catalog.h"
#include "zeptodb/storage/symbol_dict.h"

namespace zepto::persist {

// What of a table's data is kept: whole days within `ttl_ns` of its newest
// timestamp, and at most `max_bytes` of rows (the oldest days go first).
// 0: no limit.
struct Retention {
  int64_t ttl_ns = 0;
  uint64_t max_bytes = 0;
  bool none() const { return ttl_ns == 0 && max_bytes == 0; }
};

// A table as a checkpoint sees it, captured while no write is in flight.
struct TableCapture {
  std::string name;
  uint64_t dir_id = 0;  // names the table's directory; unique per CREATE
  Schema schema;
  Retention retention;
  // False for a recovered table not used yet (Table::loaded()): its files
  // stay as they are and `parts` is empty.
  bool loaded = true;
  std::vector<Table::CheckpointPart> parts;
};

struct Capture {
  uint64_t lsn = 0;  // every log record up to here is in `tables`
  std::vector<TableCapture> tables;
  std::vector<std::pair<int64_t, std::string>> symbols;
  int64_t max_symbol_id = 0;  // the largest id in use (names and integer ids)
};

struct TableInfo {
  std::string name;
  uint64_t dir_id = 0;
  Retention retention;
};

struct LoadResult {
  bool found = false;  // a checkpoint was loaded (else the directory was new)
  uint64_t lsn = 0;    // the last log record the checkpoint holds
  std::vector<TableInfo> tables;
  uint64_t rows = 0;   // in the checkpoint's files (read when each table is first used)
  uint64_t files = 0;
  uint64_t removed = 0;  // unreferenced files and directories removed
};

struct CheckpointResult {
  uint64_t rows_written = 0;
  uint64_t bytes_written = 0;  // column bytes before compression
  uint64_t files_written = 0;
  uint64_t units_rewritten = 0;
};

class Store {
 public:
  // `mapped` (PURE_ON_DISK): every table's columns are memory-mapped files
  // of its directory (mapped.h) instead of memory written out to segments.
  Store(std::string dir, CompressionPolicy compression, bool sync, bool mapped = false);

  // Gives a new table (before its first row) its place in the directory:
  // with `mapped`, its column blocks become files there. Else nothing.
  void attach(Table& table, uint64_t dir_id);

  // Loads the last checkpoint: creates its tables in `catalog` (which must
  // not have them) and restores `symbols`. Each table reads its partition
  // files when it is first used (Table::set_loader()); a file that is
  // missing, torn or corrupt makes that use throw Error(kIOError) naming it
  // (nothing that fails its check is read as data). The catalog and the
  // manifests are read and checked here. The Store must outlive the tables.
  LoadResult load(Catalog& catalog, SymbolDictionary& symbols);

  // Writes a checkpoint of `capture`. On success load() reads this one; on
  // failure (Error(kIOError), e.g. a full disk) the previous one stays whole
  // and the next write() rewrites every unit.
  CheckpointResult write(const Capture& capture);

  // A table reads a segment's column files (in parallel) a stride of rows
  // at a time, a stride of all columns taking about this many bytes, so that
  // loading needs that much memory besides the table's, however big a day
  // is. Applies to the tables load() sets up after the call.
  void set_load_stride(size_t bytes) { load_stride_bytes_ = bytes; }

 private:
  using UnitKey = std::pair<int64_t, int64_t>;  // (symbol, day)
  struct Piece {
    uint64_t segment = 0;
    uint64_t first = 0;  // the piece's first row within the segment
    uint64_t rows = 0;
  };
  struct Unit {
    std::vector<Piece> pieces;  // in row order (and in segment order)
    uint64_t rows = 0;
  };
  struct Segment {
    int64_t day = 0;
    uint64_t rows = 0;  // rows in its files (live or not)
  };
  struct TableState {
    std::map<uint64_t, Segment> segments;  // by id
    std::map<UnitKey, Unit> units;
    uint64_t next_segment = 1;
  };

  // One column file a checkpoint writes: the rows of several units, each a
  // range of a partition snapshot.
  struct FileJob {
    std::string path;
    ColumnType type;
    std::vector<ColumnChunk> chunks;
  };
  void write_files(const std::vector<FileJob>& files) const;
  static void load_rows(Table& table, const std::string& tdir, const TableState& st, size_t stride_bytes);
  std::string table_dir(uint64_t dir_id, const std::string& name) const;
  static std::string segment_dir(const std::string& tdir, int64_t day, uint64_t segment);
  std::string dir_;
  CompressionPolicy compression_;
  bool sync_;
  const bool mapped_;
  std::shared_ptr<MappedFiles> mapped_files(uint64_t dir_id, const std::string& name, const Schema& schema);
  std::mutex files_mu_;  // attach() runs beside write()
  std::map<uint64_t, std::shared_ptr<MappedFiles>> files_;  // mapped: per table, by directory id
  std::map<uint64_t, TableState> tables_;  // by directory id, as of the last checkpoint
  bool force_full_ = false;
  size_t load_stride_bytes_ = size_t{64} << 20;
};

}  // namespace zepto::persist
