// The records of the write-ahead log and the little binary encoding that the
// log, the catalog file and the manifests share.
//
// Encoding: little-endian fixed-width integers; a string or byte range is a
// u64 length followed by its bytes. A record's payload starts with its
// RecordKind byte:
//   kBatch        table name, u64 rows, u32 columns, then per column: name,
//                 u8 ColumnType, values (rows * width bytes), validity (0 bytes
//                 when the column has no NULLs, else one byte per row)
//   kCreateTable  table name, schema (see put_schema)
//   kDropTable    table name
//   kSetTtl       table name, i64 ttl in ns (0 = none)
//   kSetMaxBytes  table name, u64 size limit in bytes (0 = none)
//   kSymbols      u64 count, then per name: i64 id, name
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zeptodb/common/types.h"
#include "zeptodb/storage/schema.h"

namespace zepto::persist {

enum class RecordKind : uint8_t {
  kBatch = 1,
  kCreateTable = 2,
  kDropTable = 3,
  kSetTtl = 4,
  kSymbols = 5,
  kSetMaxBytes = 6,
};

// Builds an encoded payload. Small fields are copied into the writer; byte
// ranges added with put_ref() are referenced in place, so a batch's column
// data reaches the log without an intermediate copy.
class Encoder {
 public:
  void u8(uint8_t v) { raw(&v, 1); }
  void u32(uint32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void i64(int64_t v) { raw(&v, 8); }
  void str(std::string_view s) {
    u64(s.size());
    raw(s.data(), s.size());
  }
  // A length-prefixed byte range that must stay alive until parts() is used.
  void put_ref(const void* data, size_t n);
  void schema(const Schema& s);

  // The payload as consecutive pieces (valid until the encoder changes).
  std::vector<std::string_view> parts() const;
  // The payload as one string.
  std::string str_all() const;

 private:
  void raw(const void* p, size_t n) { own_.append(static_cast<const char*>(p), n); }
  std::string own_;
  // External ranges: (offset in own_ where it goes, pointer, size).
  struct Ref {
    size_t at;
    const char* p;
    size_t n;
  };
  std::vector<Ref> refs_;
};

// Reads an encoded payload; every read checks the bounds and throws
// Error(kIOError) "<what>: record is truncated or corrupt" when it would pass
// the end.
class Decoder {
 public:
  Decoder(std::string_view data, std::string what) : d_(data), what_(std::move(what)) {}
  uint8_t u8();
  uint32_t u32();
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  std::string_view bytes();
  std::string str() { return std::string(bytes()); }
  Schema schema();
  bool done() const { return pos_ == d_.size(); }
  [[noreturn]] void fail(const std::string& why) const;

 private:
  void take(void* out, size_t n);
  std::string_view d_;
  size_t pos_ = 0;
  std::string what_;
};

// One column of a batch record as decoded: views into the payload.
struct BatchColumn {
  std::string name;
  ColumnType type;
  std::string_view values;
  std::string_view validity;  // empty: no NULLs
};

struct BatchRecord {
  std::string table;
  size_t rows = 0;
  std::vector<BatchColumn> columns;
};

// Encodes a batch of `rows` rows of `schema`: columns[i] holds the values of
// schema column i, validity[i] null or one byte per row.
void encode_batch(Encoder& e, std::string_view table, const Schema& schema, const void* const* columns,
                  const uint8_t* const* validity, size_t rows);
// Decodes the rest of a kBatch payload (after the kind byte).
BatchRecord decode_batch(Decoder& d);

}  // namespace zepto::persist
