// PURE_ON_DISK: a table whose column blocks are files.
//
// Every column block of such a table is a file of <table dir>/data/ mapped
// into memory (Block::map_file()): rows are written into the files as they
// arrive, queries read them through the mapping, and the system keeps in
// memory only the pages in use. A block that is replaced (grown past its
// address space, rewritten for late rows or a TTL) is a new file, a new
// generation: "<symbol id>.<column index>[v].<generation>" ("v": the
// column's validity bytes). A file starts with a 4 KiB header page (magic
// "ZCMF", format version, partition key, column index and type, validity
// flag, generation, the row count of the last checkpoint and a CRC-32 of
// these fields); the column's values follow, as they are in memory.
//
// A checkpoint syncs the files and then commits, in the table's manifest
// (MAPPED-<lsn>), each partition's row count and per column the generation
// and a CRC-32 of every 1 MiB of its rows. Those rows are frozen
// (Block::freeze()): a later change to them goes to a new generation, so a
// crash can never leave a committed row half rewritten. Recovery maps the
// committed generations, checks their CRCs and replays the log after the
// checkpoint, which rewrites whatever followed the committed rows.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "zeptodb/persist/records.h"
#include "zeptodb/storage/table.h"

namespace zepto::persist {

class MappedFiles : public BlockSource {
 public:
  // `table_dir`: the table's directory; its files go to table_dir/data.
  MappedFiles(std::string table_dir, const Schema& schema);

  // A new generation's file for a block of partition `key`.
  BlockPtr allocate(int64_t key, size_t column, bool validity, size_t bytes) override;

  // The manifest body of a checkpoint: the partitions of `parts` (from
  // Table::checkpoint_parts()), or, when `parts` is null (a table not loaded
  // since recovery), the last committed ones. Computes the CRCs of the rows
  // written since the last commit. The files must be synced before the
  // manifest is.
  void encode(Encoder& m, const std::vector<Table::CheckpointPart>* parts, const Schema& schema);
  // The checkpoint of the last encode() is committed: it becomes the state
  // that a later encode() builds on, and files that neither it nor a live
  // block uses are removed.
  void committed();

  // Reads a manifest body written by encode() (at recovery).
  void decode(Decoder& d, size_t columns);
  // Installs the committed partitions in `table` (its loader): maps their
  // files and checks every CRC. A missing, short or corrupt file throws
  // Error(kIOError) naming it.
  void restore(Table& table);

  uint64_t rows() const;   // in the committed partitions
  uint64_t files() const;  // files they use

 private:
  struct Column {
    uint64_t gen = 0;  // 0: none (a validity column of a partition without NULLs)
    std::vector<uint32_t> crcs;
  };
  struct Part {
    uint64_t rows = 0;
    std::vector<Column> values, validity;
  };
  std::string name(int64_t key, size_t column, bool validity, uint64_t gen) const;
  Column column_state(const BlockPtr& b, size_t rows, size_t width, const Column* before) const;
  void write_header(Block& b, int64_t key, size_t column, bool validity, uint64_t gen, uint64_t rows) const;
  std::set<std::string> committed_files() const;  // names of the files committed_ uses
  void remove_unused();

  const std::string dir_;  // <table dir>/data
  std::vector<ColumnType> types_;
  mutable std::mutex mu_;
  uint64_t next_gen_ = 1;
  std::map<std::string, std::weak_ptr<Block>> live_;  // files of blocks made here, by name
  std::map<int64_t, Part> committed_, pending_;
};

}  // namespace zepto::persist
