// Column files: one file per column of a partition (kdb+ "splayed").
//
// Format, version 1. All integers little endian; checksums are CRC-32
// (checksum32() in file_io.h).
//
//   File header, 64 bytes:
//     0  char[4] magic "ZCOL"
//     4  u16     format version (1)
//     6  u8      ColumnType
//     7  u8      codecs used: bit (1 << Codec) set for each codec some block uses
//     8  u8      flags: bit 0 = a validity stream is present
//     9  u8[7]   zero
//    16  u64     row count
//    24  u32     number of value blocks
//    28  u32     number of validity blocks (0 without a validity stream)
//    32  u64     total file size in bytes
//    40  u32     rows per value block (every value block but the last holds
//                exactly this many; the last holds the rest)
//    44  u32     rows per validity block (likewise)
//    48  u8[12]  zero
//    60  u32     CRC-32 of bytes 0..59
//
//   Then the value blocks in row order, then the validity blocks in row order.
//   Each block is a 32-byte header followed by its stored bytes:
//     0  u32     rows in the block
//     4  u32     raw bytes (rows x type width for values, rows for validity)
//     8  u32     stored bytes that follow the header
//    12  u8      codec of this block (Codec: 0 none, 1 LZ4 block format,
//                2 zstd frame)
//    13  u8      stream: 0 values, 1 validity
//    14  u8      filter applied before the codec: 0 none, 1 byte shuffle
//                (only with a codec, for values of 4 or 8 bytes: the block's
//                values split into byte planes, first the byte 0 of every
//                row, then byte 1, ...; decoding puts them back)
//    15  u8      zero
//    16  u32     index of the block within its stream (0, 1, ...)
//    20  u32     CRC-32 of the stored bytes
//    24  u32     zero
//    28  u32     CRC-32 of bytes 0..27 of this block header
//
//   A value block holds at most 1 MiB of raw column bytes, a whole number of
//   rows. The validity stream (one byte per row: 1 = valid, 0 = NULL) is
//   written only when the column has at least one NULL; its blocks hold at
//   most 1 MiB rows each.
//
// A file is written to a temporary name and renamed into place, so a reader
// sees either the old file or the new one whole (or, for a new file nothing
// reads before the caller commits it, in place). A reader checks every size
// and every checksum before it uses a byte: a torn or corrupt file is
// reported, never returned as data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "zeptodb/common/types.h"
#include "zeptodb/storage/block.h"

namespace zepto::persist {

// How one block's bytes are stored.
enum class Codec : uint8_t { kNone = 0, kLz4 = 1, kZstd = 2 };
// The codec name: "none", "lz4" or "zstd".
const char* codec_name(Codec c);

// What the writer does per block. kAuto: LZ4 when it saves at least 25% of
// the block's bytes, else the raw bytes. kLz4 / kZstd (zstd at a low level):
// that codec for every block. kNone: raw bytes. Compressed blocks of 4- and
// 8-byte values are byte-shuffled first (better and faster compression).
enum class CompressionPolicy : uint8_t { kNone, kLz4, kZstd, kAuto };

// Writes `rows` values of `type` from `data` (and, when `valid` is not null,
// one validity byte per row: nonzero = valid) to `path`, replacing any old
// file atomically. The validity stream is stored only when some row is NULL.
// With `sync` the file and its directory are fsynced before returning (with
// `atomic` false only the file: the caller syncs the directory).
// Throws Error(kIOError) naming the path when a file operation fails.
// With `atomic` false the file is written in place (no temporary name and
// rename, a partial file is removed on error): for new files that nothing
// reads until the caller commits them, such as a checkpoint's segments.
void write_column_file(const std::string& path, ColumnType type, const void* data, const uint8_t* valid,
                       size_t rows, CompressionPolicy policy = CompressionPolicy::kAuto, bool sync = true,
                       bool atomic = true);

// Rows to write: `rows` values at `data` and, when `valid` is not null, one
// validity byte per row (nonzero = valid).
struct ColumnChunk {
  const void* data;
  const uint8_t* valid;
  size_t rows;
};
// Like the above, with the rows of `chunks` one after the other (the rows of
// several partitions into one file, without gathering them first).
void write_column_file(const std::string& path, ColumnType type, const std::vector<ColumnChunk>& chunks,
                       CompressionPolicy policy, bool sync, bool atomic);

// What a file's header says.
struct ColumnFileInfo {
  ColumnType type;
  size_t rows = 0;
  uint8_t codecs = 0;  // bit (1 << Codec) for each codec some block uses; 0 for an empty file
  bool has_validity = false;
  size_t value_blocks = 0;
  size_t validity_blocks = 0;
  uint64_t file_bytes = 0;

  bool uses(Codec c) const { return (codecs >> static_cast<unsigned>(c)) & 1u; }
  // The codecs used, for logs: e.g. "lz4", "lz4+none"; "none" for a file without blocks.
  std::string codec_summary() const;
};

// Reads and checks the header of `path` (not the blocks). Throws
// Error(kIOError) if the file is missing, truncated or its header corrupt.
ColumnFileInfo read_column_header(const std::string& path);

// Reads the rows of a column file in order, some at a time (so that a big
// file need not be held whole), checking each block before using a byte of
// it, with the errors of read_column_file().
class ColumnFileReader {
 public:
  // Opens `path` and checks its header (and its type against `expected`).
  explicit ColumnFileReader(const std::string& path, std::optional<ColumnType> expected = std::nullopt);
  ~ColumnFileReader();
  ColumnFileReader(ColumnFileReader&&) noexcept;
  ColumnFileReader& operator=(ColumnFileReader&&) noexcept;

  const ColumnFileInfo& info() const;
  const std::string& path() const;
  size_t rows_left() const;
  // Copies the next `n` rows (at most rows_left()) to `values` (n x the
  // type's width bytes) and, when the file has a validity stream, their
  // validity bytes (1 valid, 0 NULL) to `validity`; without one, `validity`
  // is not touched (every row is valid).
  void read(size_t n, void* values, uint8_t* validity);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ColumnFileData {
  ColumnType type;
  size_t rows = 0;
  BlockPtr values;    // rows x type_width(type) bytes
  BlockPtr validity;  // one byte per row (1 = valid, 0 = NULL); null when the column has no NULLs
};

// Reads the whole column at `path` into new Blocks charged to `tracker`, with
// room for at least max(rows, min_capacity_rows) rows each. Every size and
// checksum is verified first: a truncated or corrupt file, a wrong magic, an
// unknown version or codec, or a type other than `expected` (when given)
// throws Error(kIOError) naming the path and the problem. Throws
// Error(kOutOfMemory) if the tracker's limit refuses the memory.
ColumnFileData read_column_file(const std::string& path, const std::shared_ptr<MemoryTracker>& tracker,
                                size_t min_capacity_rows = 0, std::optional<ColumnType> expected = std::nullopt);

}  // namespace zepto::persist
