#include "zeptodb/formats/arrow_import.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <exception>
#include <optional>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "zeptodb/common/error.h"
#include "zeptodb/common/recycled_memory.h"
#include "zeptodb/common/two_threads.h"
#include "zeptodb/storage/scatter.h"

namespace zepto::formats {

namespace {

// Release-on-destruction holders for structs moved from a producer.
struct OwnedSchema {
  ArrowSchema s{};
  ~OwnedSchema() {
    if (s.release != nullptr) s.release(&s);
  }
};
struct OwnedArray {
  ArrowArray a{};
  ~OwnedArray() {
    if (a.release != nullptr) a.release(&a);
  }
};
struct OwnedStream {
  ArrowArrayStream* s;
  ~OwnedStream() {
    if (s->release != nullptr) s->release(s);
  }
};

// What a source column holds, decoded from its format string.
enum class Src { kInt, kUInt, kFloat, kBool, kTimestamp, kString, kLargeString, kStringView, kNull };

struct SourceType {
  Src src = Src::kNull;
  int width = 0;          // bytes per value of kInt / kUInt / kFloat
  int64_t ns_factor = 1;  // kTimestamp (also date32/date64): ns per stored unit
  bool dictionary = false;  // src/width describe the indices; dict_src the values
  Src dict_src = Src::kNull;
  std::string format;
};

bool is_string(Src s) { return s == Src::kString || s == Src::kLargeString || s == Src::kStringView; }

[[noreturn]] void unsupported(const std::string& column, const std::string& format, const std::string& why) {
  throw_error(ErrorCode::kTypeMismatch, "column '" + column + "': Arrow type '" + format + "' " + why);
}

std::optional<SourceType> plain_type(std::string_view f) {
  SourceType t;
  t.format = std::string(f);
  auto num = [&](Src s, int w) { t.src = s; t.width = w; return t; };
  if (f == "c") return num(Src::kInt, 1);
  if (f == "s") return num(Src::kInt, 2);
  if (f == "i") return num(Src::kInt, 4);
  if (f == "l") return num(Src::kInt, 8);
  if (f == "C") return num(Src::kUInt, 1);
  if (f == "S") return num(Src::kUInt, 2);
  if (f == "I") return num(Src::kUInt, 4);
  if (f == "L") return num(Src::kUInt, 8);
  if (f == "f") return num(Src::kFloat, 4);
  if (f == "g") return num(Src::kFloat, 8);
  if (f == "b") return num(Src::kBool, 0);
  if (f == "n") return num(Src::kNull, 0);
  if (f == "u") return num(Src::kString, 0);
  if (f == "U") return num(Src::kLargeString, 0);
  if (f == "vu") return num(Src::kStringView, 0);
  if (f == "tdD") {  // date32: days
    t.ns_factor = 86'400'000'000'000;
    return num(Src::kTimestamp, 4);
  }
  if (f == "tdm") {  // date64: milliseconds
    t.ns_factor = 1'000'000;
    return num(Src::kTimestamp, 8);
  }
  if (f.size() >= 4 && f.substr(0, 2) == "ts" && f[3] == ':') {  // any time zone: values are UTC
    switch (f[2]) {
      case 's': t.ns_factor = 1'000'000'000; break;
      case 'm': t.ns_factor = 1'000'000; break;
      case 'u': t.ns_factor = 1'000; break;
      case 'n': t.ns_factor = 1; break;
      default: return std::nullopt;
    }
    return num(Src::kTimestamp, 8);
  }
  return std::nullopt;
}

SourceType source_type(const ArrowSchema& s, const std::string& column) {
  std::string_view f = s.format != nullptr ? s.format : "";
  auto t = plain_type(f);
  if (!t) unsupported(column, std::string(f), "is not supported");
  if (s.dictionary == nullptr) return *t;
  if (t->src != Src::kInt && t->src != Src::kUInt) unsupported(column, t->format, "is not a dictionary index type");
  std::string_view vf = s.dictionary->format != nullptr ? s.dictionary->format : "";
  auto v = plain_type(vf);
  if (!v || !is_string(v->src))
    unsupported(column, "dictionary<" + t->format + ", " + std::string(vf) + ">",
                "is not supported (dictionaries must hold strings)");
  t->dictionary = true;
  t->dict_src = v->src;
  t->format = "dictionary<" + t->format + ", " + std::string(vf) + ">";
  return *t;
}

bool bit(const void* bits, int64_t i) {
  return (static_cast<const uint8_t*>(bits)[i >> 3] >> (i & 7)) & 1;
}

template <typename T>
const T* buffer(const ArrowArray& a, int64_t index) {
  if (a.n_buffers <= index) throw_error(ErrorCode::kInvalidArgument, "Arrow array has too few buffers");
  return static_cast<const T*>(a.buffers[index]);
}

// The string at slot `i` (already offset) of a string array of kind `s`.
struct StringReader {
  const ArrowArray* a;
  Src s;
  std::string_view at(int64_t i) const {
    if (s == Src::kString) {
      const int32_t* off = buffer<int32_t>(*a, 1);
      return {buffer<char>(*a, 2) + off[i], static_cast<size_t>(off[i + 1] - off[i])};
    }
    if (s == Src::kLargeString) {
      const int64_t* off = buffer<int64_t>(*a, 1);
      return {buffer<char>(*a, 2) + off[i], static_cast<size_t>(off[i + 1] - off[i])};
    }
    const uint8_t* view = buffer<uint8_t>(*a, 1) + i * 16;  // string view: 16 bytes per value
    int32_t len, buf, pos;
    std::memcpy(&len, view, 4);
    if (len <= 12) return {reinterpret_cast<const char*>(view + 4), static_cast<size_t>(len)};
    std::memcpy(&buf, view + 8, 4);
    std::memcpy(&pos, view + 12, 4);
    return {buffer<char>(*a, 2 + buf) + pos, static_cast<size_t>(len)};
  }
};

// Interns strings with a per-column cache, so each distinct name takes the
// dictionary's lock once.
class Interner {
 public:
  explicit Interner(SymbolDictionary& d) : dict_(d) {}
  int64_t id(std::string_view s) {
    if (have_last_ && s == last_) return last_id_;
    auto it = cache_.find(s);
    int64_t v = it != cache_.end() ? it->second : cache_.emplace(s, dict_.intern(s)).first->second;
    last_ = s;
    last_id_ = v;
    have_last_ = true;
    return v;
  }

 private:
  SymbolDictionary& dict_;
  std::unordered_map<std::string_view, int64_t> cache_;  // views into arrays kept alive by the reader
  std::string_view last_;
  int64_t last_id_ = 0;
  bool have_last_ = false;
};

// Half away from zero, like std::round, with the int64 range check; false if
// `y` is NaN, infinite or out of range.
inline bool round_to_i64(double y, int64_t* out) {
  if (!(y >= -9223372036854775808.0 && y < 9223372036854775808.0)) return false;
  int64_t i = static_cast<int64_t>(y);  // truncates; exact difference below 2^53
  double frac = y - static_cast<double>(i);
  *out = i + (frac >= 0.5) - (frac <= -0.5);
  return true;
}

// Imports from this many rows up decode their columns on two threads.
constexpr size_t kParallelRows = size_t{1} << 18;

std::string row_msg(const std::string& column, size_t row) {
  return "column '" + column + "' row " + std::to_string(row);
}

// `bytes` of memory for a decoded column (contents unspecified, 64-byte
// aligned) at *data, owned by the returned pointer. Recycled memory: a big
// import's buffers serve the next one (fresh pages would cost a fault and a
// zeroed page each, more than the decode itself for a 10 M-row import).
std::shared_ptr<void> scratch(size_t bytes, uint8_t** data) {
  std::shared_ptr<void> m = recycled_memory(std::max<size_t>(bytes, 8));
  *data = static_cast<uint8_t*>(m.get());
  return m;
}

// d[i] = f(i) for i < n. Whole cache lines are written with non-temporal
// stores where available: the destination is not read first, which saves a
// third of the memory traffic of a conversion pass.
template <typename F>
void write_int64(int64_t* d, size_t n, F&& f) {
  size_t i = 0;
#if defined(__SSE2__)
  for (; i < n && reinterpret_cast<uintptr_t>(d + i) % scatter::kLine != 0; ++i) d[i] = f(i);
  alignas(scatter::kLine) int64_t line[scatter::kPerLine];
  for (; i + scatter::kPerLine <= n; i += scatter::kPerLine) {
    for (size_t j = 0; j < scatter::kPerLine; ++j) line[j] = f(i + j);
    scatter::stream_line(reinterpret_cast<std::byte*>(d + i), reinterpret_cast<const std::byte*>(line));
  }
  _mm_sfence();
#endif
  for (; i < n; ++i) d[i] = f(i);
}

}  // namespace

// Decodes the chunks of one import. See import_arrow_stream.
class ArrowReader {
 public:
  ArrowReader(const Schema& schema, const std::string& table, SymbolDictionary& symbols,
              const ArrowImportOptions& options)
      : schema_(schema), table_(table), symbols_(symbols), options_(options) {}

  void plan(const ArrowSchema& s) {
    std::string_view f = s.format != nullptr ? s.format : "";
    if (f != "+s")
      throw_error(ErrorCode::kTypeMismatch,
                  "expected Arrow record batches (a struct array), got Arrow type '" + std::string(f) + "'");
    std::vector<std::string> names;
    for (int64_t i = 0; i < s.n_children; ++i)
      names.emplace_back(s.children[i]->name != nullptr ? s.children[i]->name : "");
    auto add = [&](size_t src, const std::string& target) {
      size_t idx = schema_.require(target, table_);
      Plan p;
      p.src = src;
      p.name = names[src];
      p.def = schema_.column(idx);
      p.is_key = static_cast<int>(idx) == schema_.symbol_index();
      p.is_ts = static_cast<int>(idx) == schema_.timestamp_index() || p.def.type == ColumnType::TIMESTAMP;
      p.type = source_type(*s.children[src], p.name);
      for (const auto& [col, factor] : options_.scales)
        if (schema_.find(col) == static_cast<int>(idx)) p.scale = factor;
      check(p);
      plans_.push_back(std::move(p));
    };
    if (options_.columns.empty()) {
      for (size_t i = 0; i < names.size(); ++i) add(i, names[i]);
      return;
    }
    for (const auto& [source, target] : options_.columns) {
      auto it = std::find(names.begin(), names.end(), source);
      if (it == names.end()) {
        std::string have;
        for (const auto& n : names) have += (have.empty() ? "" : ", ") + n;
        throw_error(ErrorCode::kNotFound, "column '" + source + "' is not in the Arrow data; it has: " + have);
      }
      add(static_cast<size_t>(it - names.begin()), target);
    }
  }

  void add_chunk(std::shared_ptr<OwnedArray> chunk) {
    const ArrowArray& a = chunk->a;
    if (a.n_children < static_cast<int64_t>(plans_.empty() ? 0 : max_src() + 1))
      throw_error(ErrorCode::kInvalidArgument, "Arrow record batch has fewer columns than its schema");
    rows_ += static_cast<size_t>(a.length);
    if (a.length > 0) chunks_.push_back(std::move(chunk));
  }

  ImportedBatch finish() {
    ImportedBatch out;
    out.rows = rows_;
    decode_all(out);
    for (auto& c : chunks_) out.keep_.push_back(c);
    return out;
  }

 private:
  struct Plan {
    size_t src = 0;
    std::string name;  // source column
    ColumnDef def;     // table column
    bool is_key = false, is_ts = false;
    SourceType type;
    std::optional<double> scale;
  };

  size_t max_src() const {
    size_t m = 0;
    for (const auto& p : plans_) m = std::max(m, p.src);
    return m;
  }

  // Rejects, before any data is read, a source type the column cannot take.
  void check(const Plan& p) const {
    const Src s = p.type.src;
    const ColumnType t = p.def.type;
    const bool symbolic = p.is_key || t == ColumnType::SYMBOL;
    std::string target = "column '" + p.def.name + "' of table '" + table_ + "' (" +
                         std::string(type_name(t)) + ")";
    auto reject = [&](const std::string& hint) {
      unsupported(p.name, p.type.format, "cannot be stored in " + target + hint);
    };
    if (s == Src::kNull) return;
    if (p.type.dictionary || is_string(s)) {
      if (!symbolic) reject(" (strings are stored in SYMBOL columns)");
      return;
    }
    if (s == Src::kTimestamp) {
      if (!p.is_ts) reject("");
      return;
    }
    if (t == ColumnType::BOOL) {
      if (s != Src::kBool) reject("");
      return;
    }
    if (s == Src::kBool) reject("");
    if (t == ColumnType::DOUBLE) return;
    if (s == Src::kFloat && !p.scale)
      reject(symbolic || p.is_ts ? "" : " (floating-point values need a scale, e.g. price_scale)");
  }

  // Writes `valid` (one byte per row of the whole import) for chunk rows
  // [at, at + n) if the chunk has NULLs; allocates it on first need.
  void read_validity(const Plan& p, const ArrowArray& a, int64_t off, size_t at, size_t n,
                     std::vector<uint8_t>& valid) const {
    if (a.n_buffers == 0 || a.buffers[0] == nullptr || a.null_count == 0) {
      if (!valid.empty()) std::fill(valid.begin() + at, valid.begin() + at + n, 1);
      return;
    }
    if (valid.empty()) valid.assign(rows_, 1);
    for (size_t i = 0; i < n; ++i) valid[at + i] = bit(a.buffers[0], off + static_cast<int64_t>(i));
    auto first_null = std::find(valid.begin() + at, valid.begin() + at + n, 0);
    if (options_.reject_nulls && first_null != valid.begin() + at + n)
      missing(p, static_cast<size_t>(first_null - valid.begin()), "null");
  }

  [[noreturn]] static void missing(const Plan& p, size_t row, const char* what) {
    throw_error(ErrorCode::kInvalidArgument,
                row_msg(p.name, row) + " is " + what + " (missing values are not accepted)");
  }

  // True if the column's values go through the symbol dictionary.
  static bool interns(const Plan& p) { return p.type.dictionary || is_string(p.type.src); }

  // Decodes every planned column into `out`. A big import runs on two
  // threads, a column at a time; the columns whose names go through the
  // symbol dictionary stay together on one of them, in order, so that new
  // names get their ids in the order they come. Whatever fails, the error
  // of the first failing column (in plan order) is the one raised.
  void decode_all(ImportedBatch& out) {
    const size_t m = plans_.size();
    out.columns.resize(m);
    std::vector<std::vector<std::shared_ptr<void>>> keep(m);
    std::vector<std::exception_ptr> errors(m);
    std::vector<std::vector<size_t>> tasks;
    for (size_t i = 0; i < m; ++i) {
      if (interns(plans_[i]) && !tasks.empty() && interns(plans_[tasks.front().front()]))
        tasks.front().push_back(i);
      else if (interns(plans_[i]))
        tasks.insert(tasks.begin(), {i});
      else
        tasks.push_back({i});
    }
    std::atomic<size_t> next{0};
    auto work = [&] {  // claims tasks in order; never throws (errors are kept per column)
      for (size_t t; (t = next.fetch_add(1)) < tasks.size();) {
        for (size_t i : tasks[t]) {
          try {
            out.columns[i] = decode(plans_[i], keep[i]);
          } catch (...) {
            errors[i] = std::current_exception();
          }
        }
      }
    };
    // A thread of its own rather than a shared pool: an import never waits
    // for someone else's work to finish.
    run_two(rows_ >= kParallelRows && tasks.size() > 1 && std::thread::hardware_concurrency() != 1,
            [&](size_t) { work(); });
    for (const auto& e : errors)
      if (e) std::rethrow_exception(e);
    for (auto& k : keep)
      for (auto& b : k) out.keep_.push_back(std::move(b));
  }

  ImportedColumn decode(const Plan& p, std::vector<std::shared_ptr<void>>& keep) const {
    ImportedColumn col{p.def.name, p.def.type, nullptr, nullptr};
    const size_t width = type_width(p.def.type);
    // A single chunk already in the column's layout is passed through.
    const bool same = !p.type.dictionary && !p.scale &&
                      ((p.type.src == Src::kInt && p.type.width == static_cast<int>(width) &&
                        p.def.type != ColumnType::DOUBLE && p.def.type != ColumnType::BOOL) ||
                       (p.type.src == Src::kFloat && p.type.width == 8 && p.def.type == ColumnType::DOUBLE) ||
                       (p.type.src == Src::kTimestamp && p.type.width == 8 && p.type.ns_factor == 1));
    auto valid = std::make_shared<std::vector<uint8_t>>();
    if (p.type.src == Src::kNull && options_.reject_nulls && rows_ > 0) missing(p, 0, "null");
    size_t at = 0;
    for (auto& c : chunks_) {
      const ArrowArray& parent = c->a;
      const ArrowArray& a = *parent.children[p.src];
      read_validity(p, a, a.offset + parent.offset, at, static_cast<size_t>(parent.length), *valid);
      at += static_cast<size_t>(parent.length);
    }
    if (same && chunks_.size() == 1) {
      const ArrowArray& parent = chunks_[0]->a;
      const ArrowArray& a = *parent.children[p.src];
      col.data = buffer<uint8_t>(a, 1) + (a.offset + parent.offset) * static_cast<int64_t>(width);
      if (p.type.src == Src::kTimestamp && options_.reject_nat) {
        const int64_t* v = static_cast<const int64_t*>(col.data);
        for (size_t i = 0; i < rows_; ++i)
          if (v[i] == INT64_MIN && (valid->empty() || (*valid)[i])) missing(p, i, "NaT");
      }
    } else {
      uint8_t* data = nullptr;
      keep.push_back(scratch(rows_ * width, &data));
      Interner names(symbols_);  // one per column: each distinct name is looked up once
      at = 0;
      for (auto& c : chunks_) {
        const ArrowArray& parent = c->a;
        const ArrowArray& a = *parent.children[p.src];
        convert(p, a, a.offset + parent.offset, static_cast<size_t>(parent.length), at, data + at * width, *valid,
                names);
        at += static_cast<size_t>(parent.length);
      }
      col.data = data;
    }
    if (p.type.src == Src::kNull) valid->assign(std::max<size_t>(rows_, 1), 0);
    if (!valid->empty()) {
      col.valid = valid->data();
      keep.push_back(valid);
    }
    return col;
  }

  // Converts n values of `a` starting at slot `off` to the column's type at
  // `dst` (rows [at, at + n) of the import).
  void convert(const Plan& p, const ArrowArray& a, int64_t off, size_t n, size_t at, uint8_t* dst,
               std::vector<uint8_t>& valid, Interner& names) const {
    const uint8_t* ok = valid.empty() ? nullptr : valid.data() + at;
    auto present = [&](size_t i) { return ok == nullptr || ok[i] != 0; };
    const SourceType& t = p.type;
    if (t.src == Src::kNull) {
      std::memset(dst, 0, n * type_width(p.def.type));
      return;
    }
    if (interns(p)) return intern(p, a, off, n, at, reinterpret_cast<int64_t*>(dst), valid, names);
    if (p.def.type == ColumnType::BOOL) {
      const void* bits = buffer<void>(a, 1);
      for (size_t i = 0; i < n; ++i) dst[i] = bit(bits, off + static_cast<int64_t>(i));
      return;
    }
    if (p.def.type == ColumnType::DOUBLE) {
      double* d = reinterpret_cast<double*>(dst);
      return visit_numbers(t, a, off, [&](const auto* v) {
        using S = std::remove_cv_t<std::remove_pointer_t<decltype(v)>>;
        for (size_t i = 0; i < n; ++i) {
          if constexpr (std::is_integral_v<S> && sizeof(S) == 8) {
            constexpr S kExact = S(1) << 53;
            if (present(i) && (v[i] > kExact || (std::is_signed_v<S> && v[i] < S(0) - kExact)))
              throw_error(ErrorCode::kInvalidArgument, row_msg(p.name, at + i) + ": " + std::to_string(v[i]) +
                                                           " is not exact as a DOUBLE");
          }
          d[i] = static_cast<double>(v[i]);
        }
      });
    }
    // Integer columns: INT64 / INT32, timestamps, symbol ids.
    const bool i32 = p.def.type == ColumnType::INT32;
    if (!i32 && ok == nullptr && fast_int64(p, a, off, n, reinterpret_cast<int64_t*>(dst))) return;
    const int64_t lo = i32 ? INT32_MIN : INT64_MIN, hi = i32 ? INT32_MAX : INT64_MAX;
    auto put = [&](size_t i, int64_t v) {
      if (present(i) && (v < lo || v > hi))
        throw_error(ErrorCode::kInvalidArgument,
                    row_msg(p.name, at + i) + ": " + std::to_string(v) + " does not fit in int32");
      if (i32) reinterpret_cast<int32_t*>(dst)[i] = static_cast<int32_t>(v);
      else reinterpret_cast<int64_t*>(dst)[i] = v;
    };
    const int64_t factor = t.src == Src::kTimestamp ? t.ns_factor : 1;
    const std::optional<double> scale = t.src == Src::kTimestamp ? std::nullopt : p.scale;
    const bool nat = t.src == Src::kTimestamp && options_.reject_nat;
    visit_numbers(t, a, off, [&](const auto* v) {
      using S = std::remove_cv_t<std::remove_pointer_t<decltype(v)>>;
      for (size_t i = 0; i < n; ++i) {
        if (!present(i)) {
          put(i, 0);
          continue;
        }
        if constexpr (std::is_floating_point_v<S>) {
          int64_t r;
          double y = static_cast<double>(v[i]) * scale.value_or(1.0);
          if (!round_to_i64(y, &r))
            throw_error(ErrorCode::kInvalidArgument,
                        row_msg(p.name, at + i) + (std::isnan(y)   ? " is NaN"
                                                   : std::isinf(y) ? " is infinite"
                                                                   : " overflows int64 after scaling"));
          put(i, r);
        } else {
          if (std::is_unsigned_v<S> && static_cast<uint64_t>(v[i]) > static_cast<uint64_t>(INT64_MAX))
            throw_error(ErrorCode::kInvalidArgument, row_msg(p.name, at + i) + ": " + std::to_string(v[i]) +
                                                         " does not fit in int64");
          int64_t x = static_cast<int64_t>(v[i]), r;
          if (nat && x == INT64_MIN) missing(p, at + i, "NaT");
          if (scale && *scale != 1.0) {
            if (!round_to_i64(static_cast<double>(x) * *scale, &r))
              throw_error(ErrorCode::kInvalidArgument, row_msg(p.name, at + i) + " overflows int64 after scaling");
            x = r;
          } else if (factor != 1 && __builtin_mul_overflow(x, factor, &r)) {
            throw_error(ErrorCode::kInvalidArgument,
                        row_msg(p.name, at + i) + " overflows int64 nanoseconds");
          } else if (factor != 1) {
            x = r;
          }
          put(i, x);
        }
      }
    });
  }

  // The common conversions into an INT64 column of a chunk without NULLs
  // (float64 scaled and rounded, int64 and timestamps scaled to ns) in one
  // branch-free pass: the checks only raise a flag. Returns false if the
  // source type has no such pass or a value failed a check; the general
  // loop then converts again and names the first bad row.
  bool fast_int64(const Plan& p, const ArrowArray& a, int64_t off, size_t n, int64_t* d) const {
    const SourceType& t = p.type;
    bool bad = false;
    if (t.src == Src::kFloat && t.width == 8) {
      const double* v = buffer<double>(a, 1) + off;
      const double s = p.scale.value_or(1.0);
      write_int64(d, n, [&](size_t i) {
        double y = v[i] * s;
        const bool in = y >= -9223372036854775808.0 && y < 9223372036854775808.0;  // false for NaN
        bad |= !in;
        y = in ? y : 0.0;
        const auto r = static_cast<int64_t>(y);  // truncates; exact difference below 2^53
        const double frac = y - static_cast<double>(r);
        return r + (frac >= 0.5) - (frac <= -0.5);  // half away from zero
      });
      return !bad;
    }
    const bool ts = t.src == Src::kTimestamp;
    if (t.width != 8 || !(ts || (t.src == Src::kInt && !(p.scale && *p.scale != 1.0)))) return false;
    const int64_t* v = buffer<int64_t>(a, 1) + off;
    const int64_t f = ts ? t.ns_factor : 1;
    const int64_t lo = INT64_MIN / f, hi = INT64_MAX / f;
    const bool nat = ts && options_.reject_nat;
    write_int64(d, n, [&](size_t i) {
      const int64_t x = v[i];
      bad |= (x < lo) | (x > hi) | (nat & (x == INT64_MIN));
      return static_cast<int64_t>(static_cast<uint64_t>(x) * static_cast<uint64_t>(f));
    });
    return !bad;
  }

  // Calls f with a typed pointer to slot `off` of a numeric array.
  template <typename F>
  static void visit_numbers(const SourceType& t, const ArrowArray& a, int64_t off, F&& f) {
    const void* base = buffer<void>(a, 1);
    auto at = [&](auto* typed) { return typed + off; };
    if (t.src == Src::kFloat) {
      if (t.width == 4) return f(at(static_cast<const float*>(base)));
      return f(at(static_cast<const double*>(base)));
    }
    const bool u = t.src == Src::kUInt;
    switch (t.width) {
      case 1: return u ? f(at(static_cast<const uint8_t*>(base))) : f(at(static_cast<const int8_t*>(base)));
      case 2: return u ? f(at(static_cast<const uint16_t*>(base))) : f(at(static_cast<const int16_t*>(base)));
      case 4: return u ? f(at(static_cast<const uint32_t*>(base))) : f(at(static_cast<const int32_t*>(base)));
      default: return u ? f(at(static_cast<const uint64_t*>(base))) : f(at(static_cast<const int64_t*>(base)));
    }
  }

  // Strings (plain or dictionary encoded) to symbol ids.
  void intern(const Plan& p, const ArrowArray& a, int64_t off, size_t n, size_t at, int64_t* dst,
              std::vector<uint8_t>& valid, Interner& in) const {
    auto present = [&](size_t i) { return valid.empty() || valid[at + i] != 0; };
    if (!p.type.dictionary) {
      StringReader sr{&a, p.type.src};
      for (size_t i = 0; i < n; ++i) dst[i] = present(i) ? in.id(sr.at(off + static_cast<int64_t>(i))) : 0;
      return;
    }
    if (a.dictionary == nullptr)
      throw_error(ErrorCode::kInvalidArgument, "column '" + p.name + "': dictionary array without a dictionary");
    const ArrowArray& d = *a.dictionary;
    StringReader sr{&d, p.type.dict_src};
    const void* dnulls = d.n_buffers > 0 && d.null_count != 0 ? d.buffers[0] : nullptr;
    std::vector<int64_t> ids(static_cast<size_t>(d.length), INT64_MIN);  // interned on first use
    auto id_of = [&](size_t i, int64_t k) {
      if (k < 0 || k >= d.length)
        throw_error(ErrorCode::kInvalidArgument, row_msg(p.name, at + i) + ": dictionary index " +
                                                     std::to_string(k) + " is out of range");
      int64_t& id = ids[static_cast<size_t>(k)];
      if (id == INT64_MIN) id = in.id(sr.at(d.offset + k));
      return id;
    };
    visit_numbers(p.type, a, off, [&](const auto* idx) {
      if (valid.empty() && dnulls == nullptr)  // no NULLs anywhere: one streaming pass
        return write_int64(dst, n, [&](size_t i) { return id_of(i, static_cast<int64_t>(idx[i])); });
      for (size_t i = 0; i < n; ++i) {
        if (!present(i)) {
          dst[i] = 0;
          continue;
        }
        const auto k = static_cast<int64_t>(idx[i]);
        if (dnulls != nullptr && k >= 0 && k < d.length && !bit(dnulls, d.offset + k)) {  // a NULL entry
          if (options_.reject_nulls) missing(p, at + i, "null");
          if (valid.empty()) valid.assign(rows_, 1);
          valid[at + i] = 0;
          dst[i] = 0;
          continue;
        }
        dst[i] = id_of(i, k);
      }
    });
  }

  const Schema& schema_;
  const std::string& table_;
  SymbolDictionary& symbols_;
  const ArrowImportOptions& options_;
  std::vector<Plan> plans_;
  std::vector<std::shared_ptr<OwnedArray>> chunks_;
  size_t rows_ = 0;
};

namespace {

std::shared_ptr<OwnedArray> take(ArrowArray* a) {
  auto owned = std::make_shared<OwnedArray>();
  owned->a = *a;
  a->release = nullptr;
  return owned;
}

}  // namespace

ImportedBatch import_arrow_stream(ArrowArrayStream* stream, const Schema& schema,
                                  const std::string& table_name, SymbolDictionary& symbols,
                                  const ArrowImportOptions& options) {
  OwnedStream guard{stream};
  auto fail = [&](int code, const char* what) {
    const char* msg = stream->get_last_error != nullptr ? stream->get_last_error(stream) : nullptr;
    throw_error(ErrorCode::kInvalidArgument, std::string("Arrow stream ") + what + " failed (error " +
                                                 std::to_string(code) + ")" + (msg ? ": " : "") +
                                                 (msg ? msg : ""));
  };
  OwnedSchema s;
  if (int rc = stream->get_schema(stream, &s.s); rc != 0) fail(rc, "get_schema");
  ArrowReader reader(schema, table_name, symbols, options);
  reader.plan(s.s);
  for (;;) {
    ArrowArray next{};
    if (int rc = stream->get_next(stream, &next); rc != 0) fail(rc, "get_next");
    if (next.release == nullptr) break;
    reader.add_chunk(take(&next));
  }
  return reader.finish();
}

namespace {

struct SingleBatch {
  ArrowSchema schema;
  ArrowArray array;
};

SingleBatch* single(ArrowArrayStream* s) { return static_cast<SingleBatch*>(s->private_data); }

}  // namespace

void single_batch_stream(ArrowSchema* schema, ArrowArray* array, ArrowArrayStream* out) {
  auto* d = new SingleBatch{*schema, *array};
  schema->release = nullptr;
  array->release = nullptr;
  *out = ArrowArrayStream{};
  out->get_schema = [](ArrowArrayStream* s, ArrowSchema* o) {
    // The stream keeps its schema: hand out a shallow copy whose release is a no-op.
    *o = single(s)->schema;
    o->release = [](ArrowSchema* x) { x->release = nullptr; };
    return 0;
  };
  out->get_next = [](ArrowArrayStream* s, ArrowArray* o) {
    *o = single(s)->array;  // moved out once; afterwards release == nullptr ends the stream
    single(s)->array.release = nullptr;
    return 0;
  };
  out->get_last_error = [](ArrowArrayStream*) -> const char* { return nullptr; };
  out->release = [](ArrowArrayStream* s) {
    SingleBatch* d = single(s);
    if (d->array.release != nullptr) d->array.release(&d->array);
    if (d->schema.release != nullptr) d->schema.release(&d->schema);
    delete d;
    s->release = nullptr;
  };
  out->private_data = d;
}

}  // namespace zepto::formats
