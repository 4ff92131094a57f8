#include "zeptodb/exec/vector.h"

#include <cmath>

#include "zeptodb/common/error.h"

namespace zepto::exec {

std::string_view ltype_name(LType t) {
  switch (t) {
    case LType::kNull: return "NULL";
    case LType::kBoolean: return "BOOLEAN";
    case LType::kInteger: return "INTEGER";
    case LType::kBigint: return "BIGINT";
    case LType::kDouble: return "DOUBLE";
    case LType::kTimestamp: return "TIMESTAMP";
    case LType::kVarchar: return "VARCHAR";
    case LType::kSymbol: return "SYMBOL";
  }
  return "?";
}

bool is_int_like(LType t) {
  return t == LType::kInteger || t == LType::kBigint || t == LType::kTimestamp || t == LType::kSymbol;
}

bool is_numeric(LType t) {
  return t == LType::kInteger || t == LType::kBigint || t == LType::kDouble || t == LType::kBoolean;
}

LType ltype_of(ColumnType t) {
  switch (t) {
    case ColumnType::INT64: return LType::kBigint;
    case ColumnType::INT32: return LType::kInteger;
    case ColumnType::DOUBLE: return LType::kDouble;
    case ColumnType::BOOL: return LType::kBoolean;
    case ColumnType::TIMESTAMP: return LType::kTimestamp;
    case ColumnType::SYMBOL: return LType::kSymbol;
  }
  return LType::kBigint;
}

DataType result_type(LType t) {
  switch (t) {
    case LType::kBoolean: return DataType::kBoolean;
    case LType::kInteger: return DataType::kInteger;
    case LType::kDouble: return DataType::kDouble;
    case LType::kTimestamp: return DataType::kTimestamp;
    case LType::kVarchar:
    case LType::kSymbol: return DataType::kVarchar;
    default: return DataType::kBigint;  // BIGINT and the type of a bare NULL
  }
}

Phys phys_of(LType t) {
  switch (t) {
    case LType::kNull: return Phys::kNone;
    case LType::kBoolean: return Phys::kU8;
    case LType::kDouble: return Phys::kF64;
    case LType::kVarchar: return Phys::kStr;
    default: return Phys::kI64;
  }
}

double Vec::num(size_t i) const {
  switch (phys_of(type)) {
    case Phys::kU8: return b8(i);
    case Phys::kI64: return static_cast<double>(i64(i));
    case Phys::kF64: return f64(i);
    default: return 0;
  }
}

uint8_t* alloc_valid(Vec& v) {
  auto owner = std::make_shared<std::vector<uint8_t>>(v.constant ? 1 : v.n, uint8_t{1});
  v.valid = owner->data();
  v.keep_valid = owner;
  return owner->data();
}

namespace {

template <typename T>
Vec make_const(LType t, T value, size_t n) {
  Vec v;
  alloc_values<T>(v, t, 1)[0] = std::move(value);
  v.n = n;
  v.constant = true;
  return v;
}

template <typename T>
void gather_values(const Vec& v, const uint32_t* idx, size_t m, Vec& out) {
  T* o = alloc_values<T>(out, v.type, m, false);
  const T* in = v.as<T>();
  for (size_t k = 0; k < m; ++k) o[k] = in[idx[k]];
}

// Whether any index is negative (those rows get T{}).
template <typename T>
bool gather_values64(const Vec& v, const int64_t* idx, size_t m, Vec& out) {
  T* o = alloc_values<T>(out, v.type, m, false);
  const T* in = v.as<T>();
  int64_t any = 0;  // the OR of the indices: negative iff one is
  if (v.constant) {
    for (size_t k = 0; k < m; ++k) {
      any |= idx[k];
      o[k] = idx[k] < 0 ? T{} : in[0];
    }
  } else {
    for (size_t k = 0; k < m; ++k) {
      any |= idx[k];
      o[k] = idx[k] < 0 ? T{} : in[idx[k]];
    }
  }
  return any < 0;
}

template <typename T>
void concat_values(const std::vector<Vec>& parts, size_t total, Vec& out, LType t) {
  T* o = alloc_values<T>(out, t, total);
  for (const auto& p : parts) {
    if (p.type == LType::kNull) {
      for (size_t i = 0; i < p.n; ++i) *o++ = T{};
    } else if (p.constant) {
      for (size_t i = 0; i < p.n; ++i) *o++ = p.as<T>()[0];
    } else if constexpr (std::is_trivially_copyable_v<T>) {
      if (p.n) std::memcpy(o, p.data, p.n * sizeof(T));
      o += p.n;
    } else {
      for (size_t i = 0; i < p.n; ++i) *o++ = p.as<T>()[i];
    }
  }
}

}  // namespace

Vec const_null(LType t, size_t n) {
  Vec v;
  switch (phys_of(t)) {
    case Phys::kU8: v = make_const<uint8_t>(t, 0, n); break;
    case Phys::kI64: v = make_const<int64_t>(t, 0, n); break;
    case Phys::kF64: v = make_const<double>(t, 0, n); break;
    case Phys::kStr: v = make_const<std::string>(t, {}, n); break;
    case Phys::kNone: v.type = LType::kNull; v.n = n; v.constant = true; return v;
  }
  alloc_valid(v)[0] = 0;
  return v;
}

Vec const_int(LType t, int64_t value, size_t n) { return make_const<int64_t>(t, value, n); }
Vec const_double(double value, size_t n) { return make_const<double>(LType::kDouble, value, n); }
Vec const_bool(bool value, size_t n) { return make_const<uint8_t>(LType::kBoolean, value, n); }
Vec const_string(std::string value, size_t n) {
  return make_const<std::string>(LType::kVarchar, std::move(value), n);
}

Vec resize_const(const Vec& c, size_t n) {
  Vec v = c;
  v.n = n;
  v.constant = c.type != LType::kNull || c.constant;
  return v;
}

Vec gather(const Vec& v, const uint32_t* idx, size_t m) {
  if (v.constant || v.type == LType::kNull) return resize_const(v, m);
  Vec out;
  switch (phys_of(v.type)) {
    case Phys::kU8: gather_values<uint8_t>(v, idx, m, out); break;
    case Phys::kI64: gather_values<int64_t>(v, idx, m, out); break;
    case Phys::kF64: gather_values<double>(v, idx, m, out); break;
    case Phys::kStr: gather_values<std::string>(v, idx, m, out); break;
    case Phys::kNone: break;
  }
  if (v.valid) {
    uint8_t* o = alloc_valid(out);
    for (size_t k = 0; k < m; ++k) o[k] = v.valid[idx[k]];
  }
  return out;
}

Vec gather_nullable(const Vec& v, const int64_t* idx, size_t m) {
  Vec out;
  if (v.type == LType::kNull) return const_null(LType::kNull, m);
  bool negative = false;
  switch (phys_of(v.type)) {
    case Phys::kU8: negative = gather_values64<uint8_t>(v, idx, m, out); break;
    case Phys::kI64: negative = gather_values64<int64_t>(v, idx, m, out); break;
    case Phys::kF64: negative = gather_values64<double>(v, idx, m, out); break;
    case Phys::kStr: negative = gather_values64<std::string>(v, idx, m, out); break;
    case Phys::kNone: break;
  }
  if (negative || v.valid) {
    uint8_t* o = alloc_valid(out);
    for (size_t k = 0; k < m; ++k) o[k] = idx[k] >= 0 && v.is_valid(static_cast<size_t>(idx[k]));
  }
  return out;
}

Vec slice(const Vec& v, size_t begin, size_t m) {
  Vec out = v;
  out.n = m;
  if (v.constant || v.type == LType::kNull) return out;
  size_t w = 0;
  switch (phys_of(v.type)) {
    case Phys::kU8: w = 1; break;
    case Phys::kI64:
    case Phys::kF64: w = 8; break;
    case Phys::kStr: w = sizeof(std::string); break;
    case Phys::kNone: break;
  }
  out.data = static_cast<const char*>(v.data) + begin * w;
  if (v.valid) out.valid = v.valid + begin;
  return out;
}

Vec flatten(const Vec& v) {
  if (!v.constant) return v;
  std::vector<uint32_t> zeros(v.n, 0);
  Vec base = v;
  base.constant = false;
  base.n = 1;
  return gather(base, zeros.data(), v.n);
}

Vec concat(const std::vector<Vec>& parts, LType t) {
  if (parts.size() == 1 && parts[0].type == t) return parts[0];
  size_t total = 0;
  bool nulls = false;
  for (const auto& p : parts) {
    total += p.n;
    nulls |= p.valid != nullptr || p.type == LType::kNull;
  }
  Vec out;
  switch (phys_of(t)) {
    case Phys::kU8: concat_values<uint8_t>(parts, total, out, t); break;
    case Phys::kI64: concat_values<int64_t>(parts, total, out, t); break;
    case Phys::kF64: concat_values<double>(parts, total, out, t); break;
    case Phys::kStr: concat_values<std::string>(parts, total, out, t); break;
    case Phys::kNone: return const_null(LType::kNull, total);
  }
  if (nulls) {
    uint8_t* o = alloc_valid(out);
    for (const auto& p : parts) {
      for (size_t i = 0; i < p.n; ++i) *o++ = p.is_valid(i);
    }
  }
  return out;
}

void append_key(std::string& key, const Vec& v, size_t i) {
  if (!v.is_valid(i)) {
    key.push_back('\0');
    return;
  }
  key.push_back('\1');
  switch (phys_of(v.type)) {
    case Phys::kU8: key.push_back(static_cast<char>(v.b8(i))); break;
    case Phys::kI64: {
      int64_t x = v.i64(i);
      key.append(reinterpret_cast<const char*>(&x), 8);
      break;
    }
    case Phys::kF64: {
      double x = v.f64(i);
      if (x == 0) x = 0;        // -0.0 and 0.0 group together
      if (std::isnan(x)) x = NAN;  // one NaN
      key.append(reinterpret_cast<const char*>(&x), 8);
      break;
    }
    case Phys::kStr: {
      const std::string& s = v.str(i);
      uint32_t len = static_cast<uint32_t>(s.size());
      key.append(reinterpret_cast<const char*>(&len), 4);
      key.append(s);
      break;
    }
    case Phys::kNone: break;
  }
}

bool same_value(const Vec& a, size_t i, const Vec& b, size_t j) {
  bool va = a.is_valid(i), vb = b.is_valid(j);
  if (!va || !vb) return va == vb;
  switch (phys_of(a.type)) {
    case Phys::kU8: return a.b8(i) == b.b8(j);
    case Phys::kI64: return a.i64(i) == b.i64(j);
    case Phys::kF64: {
      double x = a.f64(i), y = b.f64(j);
      return x == y || (std::isnan(x) && std::isnan(y));
    }
    case Phys::kStr: return a.str(i) == b.str(j);
    case Phys::kNone: return true;
  }
  return false;
}

int compare_values(const Vec& a, size_t i, const Vec& b, size_t j) {
  switch (phys_of(a.type)) {
    case Phys::kU8: return int(a.b8(i)) - int(b.b8(j));
    case Phys::kI64: {
      int64_t x = a.i64(i), y = b.i64(j);
      return x < y ? -1 : x > y;
    }
    case Phys::kF64: {
      double x = a.f64(i), y = b.f64(j);
      bool nx = std::isnan(x), ny = std::isnan(y);  // NaN sorts after every number
      if (nx || ny) return int(nx) - int(ny);
      return x < y ? -1 : x > y;
    }
    case Phys::kStr: {
      int c = a.str(i).compare(b.str(j));
      return c < 0 ? -1 : c > 0;
    }
    case Phys::kNone: return 0;
  }
  return 0;
}

void VecBuilder::push_valid(bool ok) {
  valid_.push_back(ok);
  nulls_ |= !ok;
  ++n_;
}

void VecBuilder::append(const Vec& v, size_t i) {
  if (!v.is_valid(i)) return append_null();
  switch (phys_of(type_)) {
    case Phys::kU8: u8_.push_back(v.b8(i)); break;
    case Phys::kI64: i64_.push_back(v.i64(i)); break;
    case Phys::kF64: f64_.push_back(v.f64(i)); break;
    case Phys::kStr: str_.push_back(v.str(i)); break;
    case Phys::kNone: break;
  }
  push_valid(true);
}

void VecBuilder::append_null() {
  switch (phys_of(type_)) {
    case Phys::kU8: u8_.push_back(0); break;
    case Phys::kI64: i64_.push_back(0); break;
    case Phys::kF64: f64_.push_back(0); break;
    case Phys::kStr: str_.emplace_back(); break;
    case Phys::kNone: break;
  }
  push_valid(false);
}

void VecBuilder::append_int(int64_t x) {
  if (phys_of(type_) == Phys::kU8) u8_.push_back(x != 0);
  else if (phys_of(type_) == Phys::kF64) f64_.push_back(static_cast<double>(x));
  else i64_.push_back(x);
  push_valid(true);
}

void VecBuilder::append_double(double x) {
  f64_.push_back(x);
  push_valid(true);
}

void VecBuilder::append_string(std::string s) {
  str_.push_back(std::move(s));
  push_valid(true);
}

namespace {
template <typename T>
void own(Vec& v, std::vector<T>&& data) {
  auto owner = std::make_shared<std::vector<T>>(std::move(data));
  v.data = owner->data();
  v.keep = owner;
}
}  // namespace

Vec VecBuilder::finish() {
  Vec v;
  v.type = type_;
  v.n = n_;
  switch (phys_of(type_)) {
    case Phys::kU8: own(v, std::move(u8_)); break;
    case Phys::kI64: own(v, std::move(i64_)); break;
    case Phys::kF64: own(v, std::move(f64_)); break;
    case Phys::kStr: own(v, std::move(str_)); break;
    case Phys::kNone: return const_null(LType::kNull, n_);
  }
  if (nulls_) {
    auto owner = std::make_shared<std::vector<uint8_t>>(std::move(valid_));
    v.valid = owner->data();
    v.keep_valid = owner;
  }
  n_ = 0;
  nulls_ = false;
  valid_.clear();
  return v;
}

}  // namespace zepto::exec
