// Vec: a column of values while a query runs.
//
// A Vec is a typed view of `n` values: a pointer to contiguous values, an
// optional validity array (one byte per row, 0 = NULL) and owners that keep
// both alive. Scans hand out Vecs that point straight into storage blocks
// (zero copy); operators allocate new ones for what they compute. A
// `constant` Vec holds one value that stands for all n rows (literals, the
// partition key within one partition), so kernels can skip per-row work.
//
// Physical representation by logical type:
//   BOOLEAN                               uint8_t (0/1)
//   INTEGER, BIGINT, TIMESTAMP, SYMBOL    int64_t (INTEGER is widened)
//   DOUBLE                                double
//   VARCHAR                               std::string
//   NULL (the type of a bare NULL)        no values; every row is NULL
// SYMBOL values are dictionary ids; they become VARCHAR names only when a
// result is built (or when a string operation needs the name).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "zeptodb/common/recycled_memory.h"
#include "zeptodb/common/types.h"
#include "zeptodb/exec/result_set.h"

namespace zepto::exec {

enum class LType : uint8_t { kNull, kBoolean, kInteger, kBigint, kDouble, kTimestamp, kVarchar, kSymbol };

std::string_view ltype_name(LType t);
bool is_int_like(LType t);  // stored as int64: INTEGER, BIGINT, TIMESTAMP, SYMBOL
bool is_numeric(LType t);   // INTEGER, BIGINT, DOUBLE (and BOOLEAN for sums)
LType ltype_of(ColumnType t);
// The result type a column of `t` is presented as (SYMBOL → VARCHAR).
DataType result_type(LType t);

struct Vec {
  LType type = LType::kNull;
  size_t n = 0;
  bool constant = false;
  const void* data = nullptr;
  const uint8_t* valid = nullptr;  // nullptr: no NULLs
  // The values (not constant, no NULLs) are known never to decrease: a
  // partition's timestamps as stored, or a slice of them. False: unknown.
  bool ascending = false;
  std::shared_ptr<const void> keep;
  std::shared_ptr<const void> keep_valid;

  template <typename T>
  const T* as() const {
    return static_cast<const T*>(data);
  }
  size_t at(size_t i) const { return constant ? 0 : i; }
  bool is_valid(size_t i) const { return type != LType::kNull && (!valid || valid[at(i)]); }
  bool all_valid() const { return type != LType::kNull && !valid; }

  int64_t i64(size_t i) const { return as<int64_t>()[at(i)]; }
  double f64(size_t i) const { return as<double>()[at(i)]; }
  uint8_t b8(size_t i) const { return as<uint8_t>()[at(i)]; }
  const std::string& str(size_t i) const { return as<std::string>()[at(i)]; }
  // Any numeric value as a double (BOOLEAN, int-like, DOUBLE).
  double num(size_t i) const;
};

// Allocates a Vec of `n` values of type `t` and returns it with a writable
// pointer to its values (zeros for numbers, empty strings; numbers are left
// unwritten when `zero` is false, for a caller that writes every one).
// Numeric values live in recycled_memory() (common/recycled_memory.h).
template <typename T>
T* alloc_values(Vec& v, LType t, size_t n, bool zero = true) {
  T* data;
  if constexpr (std::is_trivially_copyable_v<T>) {
    std::shared_ptr<void> owner = recycled_memory(n * sizeof(T));  // not yet written
    data = static_cast<T*>(owner.get());
    if (zero) std::fill_n(data, n, T{});
    v.keep = std::move(owner);
  } else {
    auto owner = std::make_shared<std::vector<T>>(n);
    data = owner->data();
    v.keep = std::move(owner);
  }
  v.type = t;
  v.n = n;
  v.constant = false;
  v.data = data;
  v.valid = nullptr;
  v.ascending = false;
  v.keep_valid.reset();
  return data;
}

// Gives `v` a writable validity array initialized to all valid (1).
uint8_t* alloc_valid(Vec& v);

// Physical values of a type, for switches: one of these per LType.
enum class Phys : uint8_t { kNone, kU8, kI64, kF64, kStr };
Phys phys_of(LType t);

// Constant Vecs (n rows of one value).
Vec const_null(LType t, size_t n);
Vec const_int(LType t, int64_t v, size_t n);
Vec const_double(double v, size_t n);
Vec const_bool(bool v, size_t n);
Vec const_string(std::string v, size_t n);
// The same constant with a different row count.
Vec resize_const(const Vec& c, size_t n);

// Values at rows `idx[0..m)` of `v` (a constant stays constant).
Vec gather(const Vec& v, const uint32_t* idx, size_t m);
// Like gather with 64-bit indices; an index of -1 gives NULL.
Vec gather_nullable(const Vec& v, const int64_t* idx, size_t m);
// Rows [begin, begin+m) of `v`, sharing its memory.
Vec slice(const Vec& v, size_t begin, size_t m);
// A non-constant copy with every row materialized.
Vec flatten(const Vec& v);
// Concatenation of `parts` (same type) in order; one part is returned as is.
Vec concat(const std::vector<Vec>& parts, LType t);

// Builds a Vec of one type row by row (group keys, join output).
class VecBuilder {
 public:
  explicit VecBuilder(LType type = LType::kNull) : type_(type) {}
  LType type() const { return type_; }
  size_t size() const { return n_; }
  void append(const Vec& v, size_t i);  // row i of v (same physical type)
  void append_null();
  void append_int(int64_t x);
  void append_double(double x);
  void append_string(std::string s);
  Vec finish();

 private:
  void push_valid(bool ok);

  LType type_;
  size_t n_ = 0;
  std::vector<uint8_t> u8_;
  std::vector<int64_t> i64_;
  std::vector<double> f64_;
  std::vector<std::string> str_;
  std::vector<uint8_t> valid_;
  bool nulls_ = false;
};

// A materialized relation: columns of equal length.
struct Relation {
  std::vector<Vec> cols;
  size_t n = 0;
};

// Serializes row `i` of `v` into `key` (for hashing rows and grouping):
// NULL-ness and the value, so that equal values give equal bytes.
void append_key(std::string& key, const Vec& v, size_t i);
// Whether rows i of a and j of b hold the same value (NULLs are equal).
bool same_value(const Vec& a, size_t i, const Vec& b, size_t j);
// Total order for sorting: <0, 0, >0 (NULLs compare equal to each other and
// are placed by the caller); both rows must be valid.
int compare_values(const Vec& a, size_t i, const Vec& b, size_t j);

}  // namespace zepto::exec
