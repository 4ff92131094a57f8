// ClickHouse's Native format (as the HTTP interface uses it: no block info).
// A block is: varint column count, varint row count, then per column its
// name, its type name (both varint-length strings) and, when the block has
// rows, its data: fixed-width values little-endian, String as varint length
// and bytes per row, Nullable(T) as a null map (1 = NULL) then T, and
// LowCardinality(T) as dictionary keys plus indices.
#include <algorithm>
#include <cstring>
#include <limits>
#include <functional>
#include <memory>

#include "zeptodb/common/error.h"
#include "zeptodb/common/huge_pages.h"
#include "zeptodb/formats/clickhouse_types.h"
#include "zeptodb/formats/decoders.h"
#include "zeptodb/formats/encoders.h"

namespace zepto::formats {

namespace {

using exec::DataType;

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>(v | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void put_string(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out += s;
}

template <typename T>
void put_raw(std::string& out, const T* p, size_t n) {
  out.append(reinterpret_cast<const char*>(p), n * sizeof(T));
}

class NativeEncoder : public Encoder {
 public:
  NativeEncoder(const exec::ResultSet& rs, bool low_cardinality) : rs_(rs), low_cardinality_(low_cardinality) {
    for (const auto& c : rs_.columns) {
      if (low_cardinality && c.type == DataType::kVarchar)
        types_.push_back(c.has_nulls() ? "LowCardinality(Nullable(String))" : "LowCardinality(String)");
      else
        types_.push_back(clickhouse_type(c.type, c.has_nulls()));
    }
  }

  void rows(size_t begin, size_t end, std::string& out) override {
    const size_t n = end - begin;
    // Room for the block at once: growing a large string step by step
    // copies it and faults its pages in again at every step.
    size_t bytes = 16;
    for (size_t i = 0; i < rs_.columns.size(); ++i) {
      const exec::ResultColumn& c = rs_.columns[i];
      bytes += 32 + c.name.size() + types_[i].size() + (c.has_nulls() ? n : 0);
      if (c.type != DataType::kVarchar) bytes += n * exec::data_type_width(c.type);
      else if (low_cardinality_) bytes += n * 2;
      else bytes += n + c.text_bytes(begin, end);
    }
    if (out.capacity() < out.size() + bytes) {
      out.reserve(out.size() + bytes);
      advise_huge_pages(out.data() + out.size(), bytes);
    }
    put_varint(out, rs_.columns.size());
    put_varint(out, n);
    for (size_t i = 0; i < rs_.columns.size(); ++i) {
      const exec::ResultColumn& c = rs_.columns[i];
      put_string(out, c.name);
      put_string(out, types_[i]);
      if (n == 0) continue;
      if (low_cardinality_ && c.type == DataType::kVarchar) {
        put_low_cardinality(c, begin, end, out);
        continue;
      }
      if (c.has_nulls()) {
        const uint8_t* v = reinterpret_cast<const uint8_t*>(c.validity.get()) + begin;
        size_t at = out.size();
        out.resize(at + n);
        for (size_t r = 0; r < n; ++r) out[at + r] = static_cast<char>(v[r] == 0);
      }
      switch (c.type) {
        case DataType::kBigint:
        case DataType::kTimestamp: put_raw(out, c.data<int64_t>() + begin, n); break;
        case DataType::kInteger: put_raw(out, c.data<int32_t>() + begin, n); break;
        case DataType::kDouble: put_raw(out, c.data<double>() + begin, n); break;
        case DataType::kBoolean: put_raw(out, c.data<uint8_t>() + begin, n); break;
        case DataType::kVarchar:
          for (size_t r = begin; r < end; ++r) put_string(out, c.is_null(r) ? std::string_view() : c.string_at(r));
          break;
      }
    }
    wrote_ = true;
  }

  // An empty result is one block without rows: the names and types.
  void suffix(std::string& out) override {
    if (!wrote_) rows(0, 0, out);
  }

 private:
  // The keys of the block's rows (a NULL is key 0, the empty string, when
  // the column has NULLs), then each row's key number in the narrowest width.
  void put_low_cardinality(const exec::ResultColumn& c, size_t begin, size_t end, std::string& out) {
    key_list_.clear();
    codes_.resize(end - begin);
    if (c.has_nulls()) key_list_.emplace_back();
    if (c.is_dictionary()) dictionary_keys(c, begin, end);
    else text_keys(c, begin, end);
    const size_t nkeys = key_list_.size();
    const int index_type = nkeys <= 0xff ? 0 : nkeys <= 0xffff ? 1 : 2;
    const uint64_t head[3] = {1, static_cast<uint64_t>(index_type) | (uint64_t{1} << 9), nkeys};
    put_raw(out, head, 3);
    for (std::string_view k : key_list_) put_string(out, k);
    const uint64_t rows = end - begin;
    put_raw(out, &rows, 1);
    size_t at = out.size();
    out.resize(at + rows * (size_t{1} << index_type));
    char* dst = out.data() + at;
    if (index_type == 0) {
      for (size_t r = 0; r < rows; ++r) dst[r] = static_cast<char>(codes_[r]);
    } else if (index_type == 1) {
      for (size_t r = 0; r < rows; ++r) {
        uint16_t v = static_cast<uint16_t>(codes_[r]);
        std::memcpy(dst + 2 * r, &v, 2);
      }
    } else {
      std::memcpy(dst, codes_.data(), 4 * rows);
    }
  }

  // Key numbers of plain text rows: each row's text hashed into the keys.
  void text_keys(const exec::ResultColumn& c, size_t begin, size_t end) {
    slots_.assign(256, Slot{});
    const int64_t* off = c.data<int64_t>();
    const char* chars = reinterpret_cast<const char*>(c.chars.get());
    const int64_t total = off[c.length];
    for (size_t r = begin; r < end; ++r) {
      uint32_t code = 0;
      if (!c.is_null(r))
        code = key_code(std::string_view(chars + off[r], static_cast<size_t>(off[r + 1] - off[r])),
                        static_cast<size_t>(total - off[r]));
      codes_[r - begin] = code;
    }
  }

  // Key numbers of dictionary-encoded rows: the block's keys are the
  // dictionary values its rows use, numbered by first use (no hashing).
  void dictionary_keys(const exec::ResultColumn& c, size_t begin, size_t end) {
    const exec::ResultColumn& dict = *c.dictionary;
    key_of_code_.resize(dict.length, 0);  // key number + 1 of each dictionary code; 0: not in this block
    used_.clear();
    const int32_t* codes = c.data<int32_t>();
    for (size_t r = begin; r < end; ++r) {
      uint32_t code = 0;
      if (!c.is_null(r)) {
        uint32_t& key = key_of_code_[static_cast<size_t>(codes[r])];
        if (key == 0) {
          key_list_.push_back(dict.string_at(static_cast<size_t>(codes[r])));
          key = static_cast<uint32_t>(key_list_.size());
          used_.push_back(codes[r]);
        }
        code = key - 1;
      }
      codes_[r - begin] = code;
    }
    for (int32_t u : used_) key_of_code_[static_cast<size_t>(u)] = 0;
  }

  const exec::ResultSet& rs_;
  bool low_cardinality_;
  std::vector<std::string> types_;
  bool wrote_ = false;
  std::vector<uint32_t> key_of_code_;
  std::vector<int32_t> used_;
  // The number of key `k` in key_list_, adding it if new. An open-addressing
  // table of slots; a key of up to 8 bytes is compared as one word (with its
  // length), a longer one by its text.
  struct Slot {
    uint64_t word = 0;  // the key's bytes (up to 8), or its hash
    uint32_t size = 0;
    uint32_t code = 0;  // key number + 1; 0: empty
  };
  // `tail`: bytes readable from k.data() (at least k.size()).
  static uint64_t word_of(std::string_view k, size_t tail) {
    uint64_t w = 0;
    if (k.size() > 8) return std::hash<std::string_view>{}(k);
    if (tail >= 8) {
      std::memcpy(&w, k.data(), 8);
      if (k.size() < 8) w &= (uint64_t{1} << (8 * k.size())) - 1;
    } else {
      std::memcpy(&w, k.data(), k.size());
    }
    return w;
  }
  static size_t slot_of(uint64_t word, size_t size, size_t mask) {
    uint64_t h = (word ^ (size << 56)) * 0x9E3779B97F4A7C15ULL;
    return (h ^ (h >> 29)) & mask;
  }
  uint32_t key_code(std::string_view k, size_t tail) {
    const uint64_t w = word_of(k, tail);
    const uint32_t size = static_cast<uint32_t>(k.size());
    for (size_t mask = slots_.size() - 1, i = slot_of(w, size, mask);; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.code == 0) {
        uint32_t code = static_cast<uint32_t>(key_list_.size());
        key_list_.push_back(k);
        s = Slot{w, size, code + 1};
        if (key_list_.size() * 2 > slots_.size()) rehash();
        return code;
      }
      if (s.word == w && s.size == size && (size <= 8 || key_list_[s.code - 1] == k)) return s.code - 1;
    }
  }
  // Only keys that went through key_code have a slot (not the NULL key).
  void rehash() {
    std::vector<Slot> old(slots_.size() * 4);
    old.swap(slots_);
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.code == 0) continue;
      size_t i = slot_of(s.word, s.size, mask);
      while (slots_[i].code != 0) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }


  std::vector<Slot> slots_;
  std::vector<std::string_view> key_list_;
  std::vector<uint32_t> codes_;
};

// ------------------------------------------------------------- decoding

class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool done() const { return pos_ >= d_.size(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = static_cast<uint8_t>(take(1)[0]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw_error(ErrorCode::kInvalidArgument, "Native: malformed varint");
  }
  std::string_view string() {
    size_t n = varint();
    return {take(n), n};
  }
  const char* take(size_t n) {
    if (n > d_.size() - pos_) throw_error(ErrorCode::kInvalidArgument, "Native: data ends in the middle of a block");
    const char* p = d_.data() + pos_;
    pos_ += n;
    return p;
  }
  template <typename T>
  T fixed() {
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));
    return v;
  }

 private:
  std::string_view d_;
  size_t pos_ = 0;
};

// A parsed ClickHouse type name.
struct NativeType {
  enum Kind { kInt, kUInt, kFloat32, kFloat64, kBool, kString, kFixedString, kDateTime, kDateTime64, kDate, kDate32 } kind;
  int width = 8;          // bytes of integers
  int64_t ns_factor = 1;  // time types: ns per unit
  size_t fixed_size = 0;  // FixedString(N)
  bool nullable = false;
  bool low_cardinality = false;
};

std::string_view strip_call(std::string_view t, std::string_view fn) {
  if (t.size() > fn.size() + 2 && t.substr(0, fn.size()) == fn && t[fn.size()] == '(' && t.back() == ')')
    return t.substr(fn.size() + 1, t.size() - fn.size() - 2);
  return {};
}

NativeType parse_type(std::string_view name, const std::string& column) {
  NativeType t{};
  std::string_view s = name;
  if (auto in = strip_call(s, "LowCardinality"); !in.empty()) {
    t.low_cardinality = true;
    s = in;
  }
  if (auto in = strip_call(s, "Nullable"); !in.empty()) {
    t.nullable = true;
    s = in;
  }
  struct Simple {
    std::string_view name;
    NativeType::Kind kind;
    int width;
  };
  static const Simple simple[] = {
      {"Int8", NativeType::kInt, 1},       {"Int16", NativeType::kInt, 2},     {"Int32", NativeType::kInt, 4},
      {"Int64", NativeType::kInt, 8},      {"UInt8", NativeType::kUInt, 1},    {"UInt16", NativeType::kUInt, 2},
      {"UInt32", NativeType::kUInt, 4},    {"UInt64", NativeType::kUInt, 8},   {"Float32", NativeType::kFloat32, 4},
      {"Float64", NativeType::kFloat64, 8}, {"Bool", NativeType::kBool, 1},    {"String", NativeType::kString, 0},
      {"Date", NativeType::kDate, 2},      {"Date32", NativeType::kDate32, 4}, {"DateTime", NativeType::kDateTime, 4},
  };
  for (const auto& x : simple)
    if (s == x.name) {
      t.kind = x.kind;
      t.width = x.width;
      if (t.kind == NativeType::kDate || t.kind == NativeType::kDate32) t.ns_factor = 86'400'000'000'000LL;
      if (t.kind == NativeType::kDateTime) t.ns_factor = 1'000'000'000LL;
      return t;
    }
  if (!strip_call(s, "DateTime").empty()) {  // DateTime('tz')
    t.kind = NativeType::kDateTime;
    t.width = 4;
    t.ns_factor = 1'000'000'000LL;
    return t;
  }
  if (auto args = strip_call(s, "DateTime64"); !args.empty()) {
    int p = args[0] - '0';
    if (p < 0 || p > 9) throw_error(ErrorCode::kInvalidArgument, "Native: bad type " + std::string(name));
    t.kind = NativeType::kDateTime64;
    t.ns_factor = 1;
    for (int i = p; i < 9; ++i) t.ns_factor *= 10;
    return t;
  }
  if (auto args = strip_call(s, "FixedString"); !args.empty()) {
    t.kind = NativeType::kFixedString;
    t.fixed_size = static_cast<size_t>(std::stoul(std::string(args)));
    return t;
  }
  throw_error(ErrorCode::kTypeMismatch, "Native: column '" + column + "' has type " + std::string(name) +
                                            ", which ZeptoDB does not read (use integers, floats, Bool, String, "
                                            "LowCardinality(String), Date, DateTime or DateTime64)");
}

template <typename T>
std::shared_ptr<const void> share(std::vector<T>&& v) {
  auto owner = std::make_shared<std::vector<T>>(std::move(v));
  return std::shared_ptr<const void>(owner, owner->data());
}

// A copy of `n` values of T stored at `p` (possibly unaligned), without
// first zero-filling the destination.
template <typename T>
std::shared_ptr<const void> copy_values(const char* p, size_t n) {
  std::shared_ptr<T[]> v(new T[n]);
  std::memcpy(v.get(), p, n * sizeof(T));
  return std::shared_ptr<const void>(v, v.get());
}

// Reads `n` strings (String or FixedString) into an Arrow utf8 column.
void read_strings(Reader& in, const NativeType& t, size_t n, ArrowColumn& col) {
  auto chars = std::make_shared<std::string>();
  std::vector<int64_t> offsets(n + 1, 0);
  for (size_t r = 0; r < n; ++r) {
    if (t.kind == NativeType::kFixedString) {
      std::string_view s(in.take(t.fixed_size), t.fixed_size);
      while (!s.empty() && s.back() == '\0') s.remove_suffix(1);
      *chars += s;
    } else {
      *chars += in.string();
    }
    offsets[r + 1] = static_cast<int64_t>(chars->size());
  }
  col.kind = ArrowKind::kLargeUtf8;
  col.values = share(std::move(offsets));
  col.chars = std::shared_ptr<const char>(chars, chars->data());
}

// Reads `n` values of a non-string type into `col`.
void read_values(Reader& in, const NativeType& t, size_t n, ArrowColumn& col) {
  if (t.kind == NativeType::kString || t.kind == NativeType::kFixedString) return read_strings(in, t, n, col);
  if (t.kind == NativeType::kFloat32) {
    std::vector<double> v(n);
    for (size_t r = 0; r < n; ++r) v[r] = in.fixed<float>();
    col.kind = ArrowKind::kFloat64;
    col.values = share(std::move(v));
    return;
  }
  if (t.kind == NativeType::kBool) {
    std::vector<uint8_t> v(n);
    const char* p = in.take(n);
    for (size_t r = 0; r < n; ++r) v[r] = p[r] != 0;
    col.kind = ArrowKind::kBool;
    col.values = share(std::move(v));
    return;
  }
  if (t.kind == NativeType::kInt && t.width == 4) {
    col.kind = ArrowKind::kInt32;
    col.values = copy_values<int32_t>(in.take(n * 4), n);
    return;
  }
  const bool time = t.kind == NativeType::kDate || t.kind == NativeType::kDate32 || t.kind == NativeType::kDateTime ||
                    t.kind == NativeType::kDateTime64;
  if (t.kind == NativeType::kFloat64) {
    col.kind = ArrowKind::kFloat64;
    col.values = copy_values<double>(in.take(n * 8), n);
    return;
  }
  if (t.kind == NativeType::kDateTime64 && t.ns_factor == 1) {
    col.kind = ArrowKind::kTimestamp;
    col.values = copy_values<int64_t>(in.take(n * 8), n);
    return;
  }
  if (t.kind == NativeType::kInt && t.width == 8) {
    col.kind = ArrowKind::kInt64;
    col.values = copy_values<int64_t>(in.take(n * 8), n);
    return;
  }
  std::vector<int64_t> v(n);
  if (t.kind == NativeType::kDateTime64) {
    std::memcpy(v.data(), in.take(n * 8), n * 8);
  } else {
    for (size_t r = 0; r < n; ++r) {
      switch (t.width) {
        case 1: v[r] = t.kind == NativeType::kInt ? in.fixed<int8_t>() : in.fixed<uint8_t>(); break;
        case 2: v[r] = t.kind == NativeType::kInt ? in.fixed<int16_t>() : in.fixed<uint16_t>(); break;
        case 4:
          v[r] = (t.kind == NativeType::kInt || t.kind == NativeType::kDate32) ? in.fixed<int32_t>() : in.fixed<uint32_t>();
          break;
        default: {
          uint64_t u = in.fixed<uint64_t>();
          if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            throw_error(ErrorCode::kInvalidArgument, "Native: column '" + col.name + "' row " + std::to_string(r + 1) +
                                                         ": UInt64 value " + std::to_string(u) + " does not fit in BIGINT");
          v[r] = static_cast<int64_t>(u);
        }
      }
    }
  }
  if (time) {
    if (t.ns_factor != 1)
      for (size_t r = 0; r < n; ++r) {
        int64_t ns;
        if (__builtin_mul_overflow(v[r], t.ns_factor, &ns))
          throw_error(ErrorCode::kInvalidArgument, "Native: column '" + col.name + "' row " + std::to_string(r + 1) +
                                                       ": time out of the nanosecond range");
        v[r] = ns;
      }
    col.kind = ArrowKind::kTimestamp;
  } else {
    col.kind = ArrowKind::kInt64;
  }
  col.values = share(std::move(v));
}

// LowCardinality(String) / LowCardinality(Nullable(String)): a dictionary column.
void read_low_cardinality(Reader& in, const NativeType& t, size_t n, ArrowColumn& col) {
  if (t.kind != NativeType::kString && t.kind != NativeType::kFixedString)
    throw_error(ErrorCode::kTypeMismatch, "Native: LowCardinality is read for strings only (column '" + col.name + "')");
  uint64_t version = in.fixed<uint64_t>();
  if (version != 1) throw_error(ErrorCode::kInvalidArgument, "Native: unknown LowCardinality serialization version");
  std::vector<int32_t> indices(n);
  std::vector<uint8_t> valid;
  size_t done = 0;
  std::vector<std::string> keys;
  while (done < n) {
    uint64_t flags = in.fixed<uint64_t>();
    int index_type = static_cast<int>(flags & 0xff);
    if (!(flags & (1u << 9)) || index_type > 3)
      throw_error(ErrorCode::kInvalidArgument, "Native: LowCardinality without its own keys is not supported");
    uint64_t nkeys = in.fixed<uint64_t>();
    ArrowColumn tmp;
    read_strings(in, t, nkeys, tmp);
    const int64_t* off = static_cast<const int64_t*>(tmp.values.get());
    size_t base = keys.size();
    for (uint64_t k = 0; k < nkeys; ++k) keys.emplace_back(tmp.chars.get() + off[k], static_cast<size_t>(off[k + 1] - off[k]));
    uint64_t rows = in.fixed<uint64_t>();
    if (rows > n - done) throw_error(ErrorCode::kInvalidArgument, "Native: LowCardinality has more rows than its block");
    if (nkeys > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()) - base)
      throw_error(ErrorCode::kInvalidArgument, "Native: LowCardinality has too many keys");
    const int width = 1 << index_type;
    const char* raw = in.take(rows * width);
    // One tight loop per index width; the range check is folded into a max.
    auto convert = [&](auto tag) {
      using I = decltype(tag);
      uint64_t top = 0;
      int32_t* dst = indices.data() + done;
      for (uint64_t r = 0; r < rows; ++r) {
        I ix;
        std::memcpy(&ix, raw + r * sizeof(I), sizeof(I));
        top = std::max<uint64_t>(top, ix);
        dst[r] = static_cast<int32_t>(base + ix);
      }
      if (rows && top >= nkeys) throw_error(ErrorCode::kInvalidArgument, "Native: LowCardinality index out of range");
      if (t.nullable)
        for (uint64_t r = 0; r < rows; ++r)
          if (dst[r] == static_cast<int32_t>(base)) {
            if (valid.empty()) valid.assign(n, 1);
            valid[done + r] = 0;
          }
    };
    switch (index_type) {
      case 0: convert(uint8_t{}); break;
      case 1: convert(uint16_t{}); break;
      case 2: convert(uint32_t{}); break;
      default: convert(uint64_t{});
    }
    done += rows;
  }
  auto dict = std::make_shared<ArrowColumn>(utf8_column(col.name, keys));
  col.kind = ArrowKind::kDictionary;
  col.values = share(std::move(indices));
  col.dictionary = dict;
  if (!valid.empty()) col.valid = std::static_pointer_cast<const uint8_t>(share(std::move(valid)));
}

}  // namespace

std::unique_ptr<Encoder> make_native_encoder(const exec::ResultSet& rs, const OutputOptions& options) {
  return std::make_unique<NativeEncoder>(rs, options.native_low_cardinality_strings);
}

std::vector<ArrowBatch> decode_native(std::string_view data, const Schema& schema, std::string_view table,
                                      const std::vector<std::string>& names) {
  Reader in(data);
  std::vector<ArrowBatch> batches;
  while (!in.done()) {
    uint64_t ncols = in.varint();
    uint64_t nrows = in.varint();
    if (!names.empty() && ncols != names.size())
      throw_error(ErrorCode::kInvalidArgument, "Native block has " + std::to_string(ncols) + " columns, the INSERT names " +
                                                   std::to_string(names.size()));
    ArrowBatch batch;
    batch.rows = nrows;
    for (uint64_t c = 0; c < ncols; ++c) {
      ArrowColumn col;
      col.name = std::string(in.string());
      if (!names.empty()) col.name = names[c];
      schema.require(col.name, table);
      std::string type_name(in.string());
      col.length = nrows;
      NativeType t = parse_type(type_name, col.name);
      if (nrows > data.size())  // every row takes at least one byte
        throw_error(ErrorCode::kInvalidArgument, "Native: block claims more rows than the data holds");
      if (nrows > 0) {
        if (t.low_cardinality) {
          read_low_cardinality(in, t, nrows, col);
        } else {
          std::vector<uint8_t> valid;
          if (t.nullable) {
            const char* nulls = in.take(nrows);
            valid.resize(nrows);
            bool any = false;
            for (size_t r = 0; r < nrows; ++r) {
              valid[r] = nulls[r] == 0;
              any |= nulls[r] != 0;
            }
            if (!any) valid.clear();
          }
          read_values(in, t, nrows, col);
          if (!valid.empty()) col.valid = std::static_pointer_cast<const uint8_t>(share(std::move(valid)));
        }
      } else {
        read_values(in, t, 0, col);
      }
      batch.columns.push_back(std::move(col));
    }
    if (nrows > 0) batches.push_back(std::move(batch));
  }
  return batches;
}

}  // namespace zepto::formats
