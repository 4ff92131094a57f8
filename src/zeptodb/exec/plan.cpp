#include "zeptodb/exec/plan.h"

#include <algorithm>
#include <array>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "zeptodb/common/error.h"
#include "zeptodb/common/target_clones.h"
#include "zeptodb/exec/kernels/grouping.h"
#include "zeptodb/exec/kernels/join.h"
#include "zeptodb/exec/kernels/range_agg.h"
#include "zeptodb/exec/thread_pool.h"
#include "zeptodb/sql/time_literal.h"

namespace zepto::exec {

namespace {

constexpr size_t kChunkRows = 8192;          // rows per vector in aggregation
constexpr size_t kMorselRows = size_t{1} << 20;  // rows per parallel task at most
constexpr size_t kAll = SIZE_MAX;

std::string indent(int depth) { return std::string(static_cast<size_t>(depth) * 2, ' '); }

// Applies `filter` to a chunk and hands the surviving rows to fn.
void emit(const std::vector<Vec>& cols, size_t n, int64_t seq, const BoundExpr* filter,
          const std::vector<bool>& needed, const ChunkFn& fn) {
  if (filter == nullptr) {
    fn(cols, n, seq);
    return;
  }
  Vec cond = eval(*filter, cols, n);
  if (cond.constant) {
    if (cond.is_valid(0) && cond.b8(0)) fn(cols, n, seq);
    return;
  }
  std::vector<uint32_t> sel = select_true(cond);
  if (sel.size() == n) {
    fn(cols, n, seq);
    return;
  }
  if (sel.empty()) return;
  std::vector<Vec> out(cols.size());
  for (size_t c = 0; c < cols.size(); ++c)
    out[c] = c < needed.size() && needed[c] ? gather(cols[c], sel.data(), sel.size())
                                            : const_null(LType::kNull, sel.size());
  fn(out, sel.size(), seq);
}

// ------------------------------------------------------------ sources

class TableSource : public ChunkSource {
  struct Morsel {
    size_t part, begin, end;
    bool full_filter;  // the partition has NULL timestamps: apply the time range as a filter
  };

 public:
  TableSource(const ScanNode& node, ExecContext& ctx) : node_(node), ctx_(ctx) {
    const Schema& schema = node.table->schema();
    for (const auto& c : schema.columns()) types_.push_back(ltype_of(c.type));
    // One key (a query on one symbol): its partition by lookup, without
    // touching the others. Otherwise every partition, in creation order.
    std::vector<const Partition*> parts;
    if (node.keys && node.keys->size() == 1) {
      if (const Partition* p = node.table->find_partition(node.keys->front())) parts.push_back(p);
    } else {
      parts = node.table->partitions();
    }
    std::unordered_set<int64_t> keys;
    if (node.keys) keys.insert(node.keys->begin(), node.keys->end());
    int ts = node.ts_column();
    if (node.time_filter) {
      full_filter_ = node.filter ? make_node(ExprOp::kAnd, LType::kBoolean, {}) : node.time_filter->clone();
      if (node.filter) {
        full_filter_->children.push_back(node.filter->clone());
        full_filter_->children.push_back(node.time_filter->clone());
      }
    }
    // The partition objects first, all at once: on a cold cache their
    // misses then overlap instead of coming one snapshot after the other.
    for (const Partition* p : parts) {
      __builtin_prefetch(p);
      __builtin_prefetch(reinterpret_cast<const char*>(p) + 64);
    }
    snaps_.reserve(parts.size());
    for (const Partition* p : parts) {
      if (node.keys && !keys.count(p->key())) continue;
      PartitionSnapshot snap = p->snapshot();
      size_t b = 0, e = snap.rows;
      bool full = false;
      if (ts >= 0 && e > 0 && (node.ts_lo != INT64_MIN || node.ts_hi != INT64_MAX)) {
        if (node.ts_lo > node.ts_hi) continue;
        const int64_t* t = snap.data<int64_t>(static_cast<size_t>(ts));
        const uint8_t* tv = snap.valid(static_cast<size_t>(ts));
        if (tv == nullptr) {
          b = static_cast<size_t>(std::lower_bound(t, t + e, node.ts_lo) - t);
          e = static_cast<size_t>(std::upper_bound(t + b, t + e, node.ts_hi) - t);
        } else {
          full = node.time_filter != nullptr;
        }
      }
      if (b >= e) continue;
      size_t idx = snaps_.size();
      snaps_.push_back(std::move(snap));
      for (size_t s = b; s < e; s += kMorselRows) morsels_.push_back({idx, s, std::min(e, s + kMorselRows), full});
      rows_ += e - b;
    }
    // The partition keys in one buffer, which each morsel's constant key
    // column shares (no allocation per morsel).
    Vec all;
    int64_t* k = alloc_values<int64_t>(all, LType::kBigint, snaps_.size(), false);
    for (size_t i = 0; i < snaps_.size(); ++i) k[i] = snaps_[i].key;
    keys_ = all.keep;
    if (node.filter) collect_columns(*node.filter, filter_cols_);
    if (full_filter_) collect_columns(*full_filter_, full_filter_cols_);
  }

  // Asks the cache for the first and last rows of the `needed` columns of
  // every morsel, so that a caller that reads a row or two of each morsel
  // (the latest values per partition) waits for all those misses at once.
  void prefetch_ends(const std::vector<bool>& needed) const override {
    for (const Morsel& mo : morsels_) {
      const PartitionSnapshot& snap = snaps_[mo.part];
      for (size_t c = 0; c < needed.size() && c < snap.columns.size(); ++c) {
        if (!needed[c] || !snap.columns[c] || static_cast<int>(c) == node_.key_column()) continue;
        const char* d = reinterpret_cast<const char*>(snap.columns[c]->data());
        size_t w = type_width(node_.table->schema().column(c).type);
        __builtin_prefetch(d + mo.begin * w);
        __builtin_prefetch(d + (mo.end - 1) * w);
      }
    }
  }

  size_t morsels() const override { return morsels_.size(); }
  size_t rows() const override { return rows_; }

  void scan(size_t m, const std::vector<bool>& needed, size_t chunk, const ChunkFn& fn) override {
    const Morsel& mo = morsels_[m];
    ctx_.rows_scanned.fetch_add(mo.end - mo.begin, std::memory_order_relaxed);
    std::vector<Vec> cols(types_.size());
    const BoundExpr* filter = mo.full_filter ? full_filter_.get() : node_.filter.get();
    for (size_t off = mo.begin, n = 0; off < mo.end; off += n) {
      n = std::min(chunk, mo.end - off);
      for (size_t c = 0; c < cols.size(); ++c)
        cols[c] = reads(mo, needed, c) ? column(mo, c, off, n) : const_null(LType::kNull, n);
      emit(cols, n, static_cast<int64_t>(m << 32) + static_cast<int64_t>(off - mo.begin), filter, needed, fn);
    }
  }

  bool view(size_t m, const std::vector<bool>& needed, MorselView& out) override {
    const Morsel& mo = morsels_[m];
    const PartitionSnapshot& snap = snaps_[mo.part];
    ctx_.rows_scanned.fetch_add(mo.end - mo.begin, std::memory_order_relaxed);
    size_t n = mo.end - mo.begin;
    out.filter = mo.full_filter ? full_filter_.get() : node_.filter.get();
    out.cols.resize(types_.size());
    for (size_t c = 0; c < out.cols.size(); ++c)
      out.cols[c] = reads(mo, needed, c) ? column(mo, c, mo.begin, n) : const_null(LType::kNull, n);
    out.n = n;
    out.seq = static_cast<int64_t>(m << 32);
    int ts = node_.ts_column();
    out.ts_column = ts >= 0 && snap.valid(static_cast<size_t>(ts)) == nullptr ? ts : -1;
    return true;
  }

 private:
  // Whether column c of morsel mo is read: needed, or read by its filter.
  bool reads(const Morsel& mo, const std::vector<bool>& needed, size_t c) const {
    const std::vector<bool>& f = mo.full_filter ? full_filter_cols_ : filter_cols_;
    return (c < needed.size() && needed[c]) || (c < f.size() && f[c]);
  }

  // Rows [off, off + n) of column c of morsel mo's partition (zero copy
  // except INT32, widened).
  Vec column(const Morsel& mo, size_t c, size_t off, size_t n) const {
    const PartitionSnapshot& snap = snaps_[mo.part];
    const uint8_t* valid = snap.valid(c);
    if (static_cast<int>(c) == node_.key_column() && valid == nullptr) {
      Vec k;
      k.type = types_[c];
      k.n = n;
      k.constant = true;
      k.data = static_cast<const int64_t*>(keys_.get()) + mo.part;
      k.keep = keys_;
      return k;
    }
    Vec v;
    v.type = types_[c];
    v.n = n;
    ColumnType ct = node_.table->schema().column(c).type;
    if (ct == ColumnType::INT32) {
      const int32_t* src = snap.data<int32_t>(c) + off;
      int64_t* o = alloc_values<int64_t>(v, types_[c], n);
      for (size_t i = 0; i < n; ++i) o[i] = src[i];
    } else {
      v.data = reinterpret_cast<const std::byte*>(snap.columns[c]->data()) + off * type_width(ct);
      v.keep = snap.columns[c];
    }
    if (valid) {
      v.valid = valid + off;
      v.keep_valid = snap.validity[c];
    }
    v.ascending = static_cast<int>(c) == node_.ts_column() && valid == nullptr;  // storage keeps them in order
    return v;
  }

 private:
  const ScanNode& node_;
  BoundPtr full_filter_;
  std::vector<bool> filter_cols_, full_filter_cols_;  // the columns each filter reads
  std::shared_ptr<const void> keys_;  // int64 per snapshot: its partition key
  ExecContext& ctx_;
  std::vector<LType> types_;
  std::vector<PartitionSnapshot> snaps_;
  std::vector<Morsel> morsels_;
  size_t rows_ = 0;
};

class RelationSource : public ChunkSource {
 public:
  RelationSource(Relation rel, const BoundExpr* filter) : rel_(std::move(rel)), filter_(filter) {}
  size_t morsels() const override { return (rel_.n + kMorselRows - 1) / kMorselRows; }
  size_t rows() const override { return rel_.n; }
  void scan(size_t m, const std::vector<bool>& needed, size_t chunk, const ChunkFn& fn) override {
    size_t begin = m * kMorselRows, end = std::min(rel_.n, begin + kMorselRows);
    std::vector<Vec> cols(rel_.cols.size());
    // Columns not needed downstream and not read by the filter stay NULL placeholders.
    std::vector<bool> read = needed;
    if (filter_) collect_columns(*filter_, read);
    for (size_t off = begin, n = 0; off < end; off += n) {
      n = std::min(chunk, end - off);
      for (size_t c = 0; c < cols.size(); ++c)
        cols[c] = c < read.size() && read[c] ? slice(rel_.cols[c], off, n) : const_null(LType::kNull, n);
      emit(cols, n, static_cast<int64_t>(off), filter_, needed, fn);
    }
  }

 private:
  Relation rel_;
  const BoundExpr* filter_;
};

// Change flags between consecutive rows of the key columns (flags[0] = 1).
std::vector<uint8_t> key_breaks(const std::vector<Vec>& keys, size_t n) {
  std::vector<uint8_t> f(n, 0);
  if (n) f[0] = 1;
  for (const Vec& k : keys) {
    if (k.constant) continue;
    switch (phys_of(k.type)) {
      case Phys::kI64: {
        const int64_t* x = k.as<int64_t>();
        for (size_t i = 1; i < n; ++i) f[i] |= x[i] != x[i - 1];
        break;
      }
      case Phys::kU8: {
        const uint8_t* x = k.as<uint8_t>();
        for (size_t i = 1; i < n; ++i) f[i] |= x[i] != x[i - 1];
        break;
      }
      default:
        for (size_t i = 1; i < n; ++i) f[i] |= !same_value(k, i, k, i - 1);
        continue;
    }
    if (k.valid)
      for (size_t i = 1; i < n; ++i) f[i] |= k.valid[i] != k.valid[i - 1];
  }
  return f;
}

// Groups rows by key value: key bytes → row indices in row order; NULL keys
// (any NULL component) are skipped. Also returns the keys in first-seen order.
struct KeyGroups {
  std::unordered_map<std::string, std::vector<int64_t>> rows;
  std::vector<std::string> order;
};

KeyGroups group_by_key(const std::vector<Vec>& keys, size_t n) {
  KeyGroups g;
  std::string k;
  std::vector<int64_t>* prev = nullptr;  // the group of row i - 1: rows in storage order come in runs
  for (size_t i = 0; i < n; ++i) {
    if (prev && i > 0) {
      bool same = true;
      for (size_t c = 0; c < keys.size() && same; ++c) same = keys[c].is_valid(i) && same_value(keys[c], i, keys[c], i - 1);
      if (same) {
        prev->push_back(static_cast<int64_t>(i));
        continue;
      }
    }
    prev = nullptr;
    k.clear();
    bool null = false;
    for (const auto& v : keys) {
      null |= !v.is_valid(i);
      append_key(k, v, i);
    }
    if (null) continue;
    auto [it, added] = g.rows.try_emplace(k);
    if (added) g.order.push_back(k);
    it->second.push_back(static_cast<int64_t>(i));
    prev = &it->second;
  }
  return g;
}

// Sorts `idx` by ts[idx] (stable); rows with a NULL ts are removed.
void sort_by_ts(std::vector<int64_t>& idx, const Vec& ts) {
  idx.erase(std::remove_if(idx.begin(), idx.end(), [&](int64_t i) { return !ts.is_valid(static_cast<size_t>(i)); }),
            idx.end());
  auto less = [&](int64_t a, int64_t b) { return ts.i64(static_cast<size_t>(a)) < ts.i64(static_cast<size_t>(b)); };
  if (!std::is_sorted(idx.begin(), idx.end(), less)) std::stable_sort(idx.begin(), idx.end(), less);
}

std::vector<int64_t> ts_values(const std::vector<int64_t>& idx, const Vec& ts) {
  std::vector<int64_t> out(idx.size());
  for (size_t j = 0; j < idx.size(); ++j) out[j] = ts.i64(static_cast<size_t>(idx[j]));
  return out;
}

std::vector<Vec> eval_all(const std::vector<BoundPtr>& exprs, const std::vector<Vec>& in, size_t n) {
  std::vector<Vec> out;
  for (const auto& e : exprs) out.push_back(eval(*e, in, n));
  return out;
}

Relation gather_relation(const Relation& r, const std::vector<uint32_t>& idx) {
  Relation out;
  out.n = idx.size();
  for (const auto& c : r.cols) out.cols.push_back(gather(c, idx.data(), idx.size()));
  return out;
}

// If `right` is a scan keyed by the join key, reads only the partitions of
// the keys the left side has.
void prune_right_scan(PlanNode* right, const std::vector<BoundPtr>& right_keys, const std::vector<Vec>& left_keys,
                      size_t n) {
  auto* scan = dynamic_cast<ScanNode*>(right);
  if (!scan || right_keys.size() != 1 || right_keys[0]->op != ExprOp::kColumn ||
      static_cast<int>(right_keys[0]->column) != scan->key_column() || phys_of(left_keys[0].type) != Phys::kI64)
    return;
  std::unordered_set<int64_t> keys;
  const Vec& k = left_keys[0];
  for (size_t i = 0; i < (k.constant ? std::min<size_t>(n, 1) : n); ++i)
    if (k.is_valid(i) && (i == 0 || k.i64(i) != k.i64(i - 1) || !k.is_valid(i - 1))) keys.insert(k.i64(i));
  std::vector<int64_t> want(keys.begin(), keys.end());
  if (scan->keys) {
    std::unordered_set<int64_t> have(scan->keys->begin(), scan->keys->end());
    want.erase(std::remove_if(want.begin(), want.end(), [&](int64_t k) { return !have.count(k); }), want.end());
  }
  scan->keys = std::move(want);
}

// ----------------------------------------------------------- windows

template <typename T>
std::span<const T> span_of(const Vec& v, size_t n) {
  return std::span<const T>(v.as<T>(), n);
}

// Each row's frame as a range [begin, end) of window-order positions.
// `peer` flags the first row of each peer group (and of each partition);
// `key` (RANGE frames with offsets) is the ORDER BY key in window order.
void frame_ranges(const WindowCall& w, const std::vector<int64_t>& offsets, const std::vector<uint8_t>& peer,
                  const Vec* key, std::vector<int64_t>& begin, std::vector<int64_t>& end) {
  bool no_order = w.order_by.empty();
  for (size_t p = 0; p + 1 < offsets.size(); ++p) {
    int64_t pb = offsets[p], pe = offsets[p + 1];
    // Peer groups of the partition: the end of the group holding each row.
    std::vector<int64_t> group_end(static_cast<size_t>(pe - pb)), group_begin(group_end.size());
    for (int64_t i = pe, e = pe; i-- > pb;) {
      group_end[static_cast<size_t>(i - pb)] = e;
      if (i == pb || (!no_order && peer[static_cast<size_t>(i)])) e = i;
    }
    for (int64_t i = pb, b = pb; i < pe; ++i) {
      if (i == pb || (!no_order && peer[static_cast<size_t>(i)])) b = i;
      group_begin[static_cast<size_t>(i - pb)] = b;
    }
    if (!key) {
      for (int64_t i = pb; i < pe; ++i) {
        size_t j = static_cast<size_t>(i);
        __int128 b = w.frame.preceding == kUnbounded ? pb : std::max<__int128>(pb, __int128{i} - w.frame.preceding);
        __int128 e = w.frame.following == kUnbounded ? pe : std::min<__int128>(pe, __int128{i} + w.frame.following + 1);
        if (w.peers_share_frame) e = group_end[static_cast<size_t>(i - pb)];
        begin[j] = static_cast<int64_t>(std::min<__int128>(b, pe));
        end[j] = static_cast<int64_t>(std::max<__int128>(e, begin[j]));
      }
      continue;
    }
    // RANGE: the rows whose key lies within the distances; keys ascend (or
    // descend) within the partition, NULL keys form one peer group at an end.
    bool desc = w.order_by[0].descending;
    int64_t vb = pb, ve = pe;  // the rows with a valid key
    while (vb < ve && !key->is_valid(static_cast<size_t>(vb))) ++vb;
    while (ve > vb && !key->is_valid(static_cast<size_t>(ve - 1))) --ve;
    auto at = [&](int64_t i) -> long double {
      long double x = key->type == LType::kDouble ? key->f64(static_cast<size_t>(i))
                                                  : static_cast<long double>(key->i64(static_cast<size_t>(i)));
      return desc ? -x : x;  // ascending along the window order
    };
    for (int64_t i = pb; i < pe; ++i) {
      size_t j = static_cast<size_t>(i);
      int64_t b, e;
      if (!key->is_valid(j)) {
        b = group_begin[static_cast<size_t>(i - pb)];
        e = group_end[static_cast<size_t>(i - pb)];
      } else {
        long double u = at(i);
        if (w.range_preceding == kUnbounded) {
          b = pb;
        } else {
          long double lo = u - static_cast<long double>(w.range_preceding);
          int64_t l = vb, h = ve;  // first row with key >= lo
          while (l < h) {
            int64_t m = l + (h - l) / 2;
            if (at(m) < lo) l = m + 1;
            else h = m;
          }
          b = l;
        }
        if (w.range_following == kUnbounded) {
          e = pe;
        } else {
          long double hi = u + static_cast<long double>(w.range_following);
          int64_t l = vb, h = ve;  // first row with key > hi
          while (l < h) {
            int64_t m = l + (h - l) / 2;
            if (at(m) <= hi) l = m + 1;
            else h = m;
          }
          e = l;
        }
      }
      begin[j] = b;
      end[j] = std::max(b, e);
    }
  }
}

// A frame-based window function over per-row frame ranges (in window order).
Vec framed_by_ranges(const WindowCall& w, const Relation& p, const std::vector<int64_t>& order,
                     const std::vector<int64_t>& begin, const std::vector<int64_t>& end) {
  size_t n = p.n;
  std::vector<uint32_t> perm(order.begin(), order.end());
  auto in_window_order = [&](const Vec& v) { return order.empty() ? v : gather(v, perm.data(), n); };
  Vec out;
  std::span<const int64_t> bs(begin), es(end);
  if (w.kind == WinKind::kCountStar || w.kind == WinKind::kCount) {
    Vec a = w.kind == WinKind::kCount ? flatten(in_window_order(flatten(eval(*w.args[0], p.cols, n)))) : Vec{};
    std::vector<uint8_t> va;
    if (w.kind == WinKind::kCount && !a.all_valid()) {
      va.resize(n);
      for (size_t i = 0; i < n; ++i) va[i] = a.is_valid(i);
    }
    int64_t* o = alloc_values<int64_t>(out, LType::kBigint, n);
    range_count(va.empty() ? nullptr : va.data(), n, bs, es, std::span<int64_t>(o, n));
  } else {
    Vec a = flatten(in_window_order(flatten(eval(*w.args[0], p.cols, n))));
    bool dbl = a.type == LType::kDouble;
    LType rt = w.type;
    uint8_t* ov = nullptr;
    auto go = [&](auto tag, auto out_tag, auto kernel) {
      using T = decltype(tag);
      using O = decltype(out_tag);
      O* o = alloc_values<O>(out, rt, n);
      ov = alloc_valid(out);
      if (a.type == LType::kNull) {
        std::fill(ov, ov + n, uint8_t{0});
        return;
      }
      kernel(std::span<const T>(a.as<T>(), n), a.valid, std::span<O>(o, n), std::span<uint8_t>(ov, n));
    };
    auto typed = [&](auto tag) {
      using T = decltype(tag);
      switch (w.kind) {
        case WinKind::kSum:
          go(T{}, sum_type_t<T>{}, [&](auto x, auto v, auto o, auto ovs) { range_sum<T>(x, v, bs, es, o, ovs); });
          break;
        case WinKind::kAvg:
          go(T{}, double{}, [&](auto x, auto v, auto o, auto ovs) { range_avg<T>(x, v, bs, es, o, ovs); });
          break;
        case WinKind::kMin:
          go(T{}, T{}, [&](auto x, auto v, auto o, auto ovs) { range_min<T>(x, v, bs, es, o, ovs); });
          break;
        case WinKind::kMax:
          go(T{}, T{}, [&](auto x, auto v, auto o, auto ovs) { range_max<T>(x, v, bs, es, o, ovs); });
          break;
        case WinKind::kFirstValue:
          go(T{}, T{}, [&](auto x, auto v, auto o, auto ovs) { range_first<T>(x, v, bs, es, o, ovs, false); });
          break;
        case WinKind::kLastValue:
          go(T{}, T{}, [&](auto x, auto v, auto o, auto ovs) { range_last<T>(x, v, bs, es, o, ovs, false); });
          break;
        default: throw_error(ErrorCode::kInternal, "window function without a frame over a RANGE frame");
      }
    };
    if (dbl) typed(double{});
    else typed(int64_t{});
    bool all = true;
    for (size_t i = 0; i < n && all; ++i) all = ov[i];
    if (all) {
      out.valid = nullptr;
      out.keep_valid.reset();
    }
  }
  if (order.empty()) return out;
  // Back to row order: position j of the window order is row order[j].
  std::vector<uint32_t> inverse(n);
  for (size_t j = 0; j < n; ++j) inverse[static_cast<size_t>(order[j])] = static_cast<uint32_t>(j);
  return gather(out, inverse.data(), n);
}

Vec compute_window(const WindowCall& w, const Relation& p) {
  size_t n = p.n;
  std::vector<Vec> keys = eval_all(w.partition_by, p.cols, n);
  size_t nparts = keys.size();
  std::vector<SortKey> spec;
  for (size_t i = 0; i < nparts; ++i) spec.push_back({nullptr, false, true});
  for (const auto& o : w.order_by) {
    keys.push_back(eval(*o.expr, p.cols, n));
    spec.push_back({nullptr, o.descending, o.nulls_first});
  }
  for (auto& k : keys) k = flatten(k);
  std::vector<int64_t> order;
  std::vector<int64_t> offsets{0};
  std::vector<uint8_t> peer(n, 0);
  std::vector<Vec> sorted;
  if (!keys.empty()) {
    std::vector<uint32_t> perm = sort_rows(keys, spec, n, n);
    order.assign(perm.begin(), perm.end());
    for (auto& k : keys) sorted.push_back(gather(k, perm.data(), n));
    std::vector<Vec> part_keys(sorted.begin(), sorted.begin() + static_cast<long>(nparts));
    std::vector<uint8_t> pb = key_breaks(part_keys, n);
    peer = key_breaks(sorted, n);
    for (size_t i = 1; i < n; ++i)
      if (pb[i]) offsets.push_back(static_cast<int64_t>(i));
    if (w.order_by.empty()) std::fill(peer.begin(), peer.end(), 0);  // all rows of a partition are peers
  }
  offsets.push_back(static_cast<int64_t>(n));
  if (n == 0) offsets = {0};
  std::span<const int64_t> offs(offsets), ord(order);
  if (w.range_frame || w.kind == WinKind::kFirstValue || w.kind == WinKind::kLastValue) {
    std::vector<int64_t> begin(n), end(n);
    frame_ranges(w, offsets, peer, w.range_frame ? &sorted[nparts] : nullptr, begin, end);
    return framed_by_ranges(w, p, order, begin, end);
  }

  Vec out;
  if (w.kind == WinKind::kRowNumber || w.kind == WinKind::kRank || w.kind == WinKind::kDenseRank) {
    int64_t* o = alloc_values<int64_t>(out, LType::kBigint, n);
    RankKind rk = w.kind == WinKind::kRowNumber ? RankKind::kRowNumber
                  : w.kind == WinKind::kRank    ? RankKind::kRank
                                                : RankKind::kDenseRank;
    rank_partitioned(rk, offs, ord, peer, std::span<int64_t>(o, n));
    return out;
  }
  if (w.kind == WinKind::kCountStar || w.kind == WinKind::kCount) {
    int64_t* o = alloc_values<int64_t>(out, LType::kBigint, n);
    Vec a = w.kind == WinKind::kCount ? flatten(eval(*w.args[0], p.cols, n)) : Vec{};
    std::vector<uint8_t> va;
    const uint8_t* valid = nullptr;
    if (w.kind == WinKind::kCount && !a.all_valid()) {
      va.resize(n);
      for (size_t i = 0; i < n; ++i) va[i] = a.is_valid(i);
      valid = va.data();
    }
    std::vector<uint8_t> ones(n, 1);
    size_t part = 0;
    // window_count takes validity only; feed it through run_partitioned with a dummy input.
    std::vector<int64_t> dummy(n, 0);
    run_partitioned<int64_t, int64_t>(offs, ord, std::span<const int64_t>(dummy), valid ? valid : ones.data(),
                                      std::span<int64_t>(o, n), {}, [&](auto, const uint8_t* vs, auto os, auto) {
                                        window_count(valid ? vs : nullptr, w.frame, os);
                                        if (w.peers_share_frame)
                                          broadcast_peer_last<int64_t>(
                                              std::span<const uint8_t>(peer).subspan(offsets[part], os.size()), os, {});
                                        ++part;
                                      });
    return out;
  }
  Vec a = flatten(eval(*w.args[0], p.cols, n));
  uint8_t* ov = nullptr;
  auto run = [&](auto in_tag, auto out_tag, LType rt, auto kernel) {
    using In = decltype(in_tag);
    using Out = decltype(out_tag);
    Out* o = alloc_values<Out>(out, rt, n);
    ov = alloc_valid(out);
    size_t part = 0;
    if (a.type == LType::kNull) {
      std::fill(ov, ov + n, uint8_t{0});
      return;
    }
    run_partitioned<In, Out>(offs, ord, span_of<In>(a, n), a.valid, std::span<Out>(o, n), std::span<uint8_t>(ov, n),
                             [&](auto xs, const uint8_t* vs, auto os, auto ovs) {
                               kernel(xs, vs, os, ovs);
                               if constexpr (!std::is_same_v<Out, uint8_t>)
                                 if (w.peers_share_frame)
                                   broadcast_peer_last<Out>(
                                     std::span<const uint8_t>(peer).subspan(offsets[part], os.size()), os, ovs);
                               ++part;
                             });
  };
  bool dbl = a.type == LType::kDouble;
  LType at = a.type == LType::kNull ? LType::kBigint : a.type;
  switch (w.kind) {
    case WinKind::kSum:
      if (dbl) run(double{}, double{}, LType::kDouble, [&](auto x, auto v, auto o, auto ov2) { window_sum<double>(x, v, w.frame, o, ov2); });
      else run(int64_t{}, int64_t{}, LType::kBigint, [&](auto x, auto v, auto o, auto ov2) { window_sum<int64_t>(x, v, w.frame, o, ov2); });
      break;
    case WinKind::kAvg:
      if (dbl) run(double{}, double{}, LType::kDouble, [&](auto x, auto v, auto o, auto ov2) { window_avg<double>(x, v, w.frame, o, ov2); });
      else run(int64_t{}, double{}, LType::kDouble, [&](auto x, auto v, auto o, auto ov2) { window_avg<int64_t>(x, v, w.frame, o, ov2); });
      break;
    case WinKind::kMin:
    case WinKind::kMax: {
      bool mx = w.kind == WinKind::kMax;
      if (dbl)
        run(double{}, double{}, at, [&](auto x, auto v, auto o, auto ov2) {
          mx ? window_max<double>(x, v, w.frame, o, ov2) : window_min<double>(x, v, w.frame, o, ov2);
        });
      else
        run(int64_t{}, int64_t{}, at, [&](auto x, auto v, auto o, auto ov2) {
          mx ? window_max<int64_t>(x, v, w.frame, o, ov2) : window_min<int64_t>(x, v, w.frame, o, ov2);
        });
      break;
    }
    case WinKind::kEma:
      if (dbl) run(double{}, double{}, LType::kDouble, [&](auto x, auto v, auto o, auto ov2) { ema<double>(x, v, w.alpha, o, ov2); });
      else run(int64_t{}, double{}, LType::kDouble, [&](auto x, auto v, auto o, auto ov2) { ema<int64_t>(x, v, w.alpha, o, ov2); });
      break;
    case WinKind::kDelta:
      if (dbl) run(double{}, double{}, at, [&](auto x, auto v, auto o, auto ov2) { delta<double>(x, v, o, ov2); });
      else run(int64_t{}, int64_t{}, at, [&](auto x, auto v, auto o, auto ov2) { delta<int64_t>(x, v, o, ov2); });
      break;
    case WinKind::kLag:
    case WinKind::kLead: {
      bool lead_fn = w.kind == WinKind::kLead;
      int64_t off = w.offset;
      Vec d = w.has_default ? eval(*w.args[1], p.cols, 1) : Vec{};
      auto go = [&](auto tag) {
        using T = decltype(tag);
        std::optional<T> dflt;
        if (w.has_default && d.is_valid(0)) dflt = d.as<T>()[0];
        run(T{}, T{}, at, [&](auto x, auto v, auto o, auto ov2) {
          lead_fn ? lead<T>(x, v, off, dflt, o, ov2) : lag<T>(x, v, off, dflt, o, ov2);
        });
      };
      if (dbl) go(double{});
      else if (phys_of(a.type) == Phys::kU8) go(uint8_t{});
      else go(int64_t{});
      break;
    }
    default: throw_error(ErrorCode::kInternal, "window function not implemented");
  }
  bool all = true;
  for (size_t i = 0; i < n && all; ++i) all = ov[i];
  if (all) {
    out.valid = nullptr;
    out.keep_valid.reset();
  }
  return out;
}

}  // namespace

size_t threads_for(const ExecContext& ctx, size_t rows) {
  if (ctx.options.threads <= 1 || rows < ctx.options.row_threshold) return 1;
  return ctx.options.threads;
}

std::unique_ptr<ChunkSource> relation_source(Relation rel, const BoundExpr* filter, ExecContext&) {
  return std::make_unique<RelationSource>(std::move(rel), filter);
}

std::vector<uint32_t> sort_rows(const std::vector<Vec>& keys, const std::vector<SortKey>& spec, size_t n,
                                size_t limit) {
  std::vector<uint32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0u);
  auto less = [&](uint32_t a, uint32_t b) {
    for (size_t k = 0; k < keys.size(); ++k) {
      const Vec& v = keys[k];
      bool va = v.is_valid(a), vb = v.is_valid(b);
      if (va != vb) return spec[k].nulls_first ? !va : va;
      if (!va) continue;
      int c = compare_values(v, a, v, b);
      if (c != 0) return spec[k].descending ? c > 0 : c < 0;
    }
    return a < b;
  };
  if (limit < n) {
    std::partial_sort(idx.begin(), idx.begin() + static_cast<long>(limit), idx.end(), less);
    idx.resize(limit);
  } else {
    std::sort(idx.begin(), idx.end(), less);
  }
  return idx;
}

// ------------------------------------------------------------- ScanNode

std::unique_ptr<ChunkSource> ScanNode::open(ExecContext& ctx) const { return std::make_unique<TableSource>(*this, ctx); }

Relation ScanNode::execute(ExecContext& ctx) {
  auto src = open(ctx);
  std::vector<bool> read = needed.empty() ? std::vector<bool>(columns.size(), true) : needed;
  read.resize(columns.size(), false);
  std::vector<std::vector<Relation>> pieces(src->morsels());
  ThreadPool::shared().parallel_for(src->morsels(), threads_for(ctx, src->rows()), [&](size_t m, size_t) {
    src->scan(m, read, kAll, [&](const std::vector<Vec>& cols, size_t n, int64_t) {
      pieces[m].push_back(Relation{cols, n});
    });
  });
  Relation out;
  for (auto& ps : pieces)
    for (auto& p : ps) out.n += p.n;
  for (size_t c = 0; c < columns.size(); ++c) {
    if (!read[c]) {
      out.cols.push_back(const_null(LType::kNull, out.n));
      continue;
    }
    std::vector<Vec> parts;
    for (auto& ps : pieces)
      for (auto& p : ps) parts.push_back(p.cols[c]);
    // The partition key of a single partition stays a constant.
    out.cols.push_back(parts.empty() ? const_null(columns[c].type, 0) : concat(parts, columns[c].type));
  }
  return out;
}

void ScanNode::explain(std::string& out, int depth) const {
  out += indent(depth) + "SCAN " + table->name();
  if (!alias.empty() && alias != table->name()) out += " AS " + alias;
  if (keys) {
    out += " partitions=[";
    for (size_t i = 0; i < keys->size(); ++i) {
      if (i) out += ",";
      out += std::to_string((*keys)[i]);
    }
    out += "]";
  } else {
    out += " partitions=all";
  }
  if (ts_lo != INT64_MIN || ts_hi != INT64_MAX) {
    out += " time=[" + (ts_lo == INT64_MIN ? std::string("-inf") : std::to_string(ts_lo)) + ", " +
           (ts_hi == INT64_MAX ? std::string("+inf") : std::to_string(ts_hi)) + "] (binary search)";
  }
  if (filter) out += " filter=" + filter_text;
  out += "\n";
}

// ----------------------------------------------------------- SelectNode

Relation SelectNode::execute(ExecContext& ctx) {
  if (window_join) return finish(window_join_rows(ctx), ctx);
  std::unique_ptr<ChunkSource> src;
  size_t width = 0;
  if (!source) {
    Relation one;
    one.n = 1;
    src = relation_source(std::move(one), where.get(), ctx);
  } else if (auto* scan = dynamic_cast<ScanNode*>(source.get())) {
    src = scan->open(ctx);
    width = scan->columns.size();
  } else {
    width = source->columns.size();
  }
  std::vector<bool> needed;
  if (aggregate) {
    for (const auto& k : group_keys) collect_columns(*k, needed);
    for (const auto& a : aggs)
      for (const auto& e : a.args) collect_columns(*e, needed);
  } else {
    for (const auto& e : outputs) collect_columns(*e, needed);
    if (having) collect_columns(*having, needed);
    for (const auto& s : order_by) collect_columns(*s.expr, needed);
    for (const auto& w : windows) {
      for (const auto& e : w.args) collect_columns(*e, needed);
      for (const auto& e : w.partition_by) collect_columns(*e, needed);
      for (const auto& s : w.order_by) collect_columns(*s.expr, needed);
    }
  }
  needed.resize(width, false);
  if (source && !src) {
    if (dynamic_cast<JoinNode*>(source.get())) {
      source->needed = needed;
      if (where) collect_columns(*where, source->needed);
      source->needed.resize(width, false);
    }
    src = relation_source(source->execute(ctx), where.get(), ctx);
  }
  Relation p = aggregate ? aggregate_rows(*src, needed, ctx) : collect_rows(*src, needed, width, ctx);
  return finish(std::move(p), ctx);
}

namespace {

// Buffers a worker reuses from morsel to morsel: a query over many small
// partitions (the latest row of each) would otherwise allocate them for
// each partition.
struct MorselScratch {
  MorselView view;
  std::vector<uint32_t> starts;
  std::vector<Vec> at, keys;
  std::vector<std::vector<Vec>> args;
  std::vector<size_t> groups;
};

struct AggLocal {
  std::unique_ptr<GroupTable> groups;
  std::vector<std::unique_ptr<Aggregator>> aggs;
  MorselScratch scratch;
};

// out = the values of `exprs` over `in` (out's buffers reused).
void eval_into(const std::vector<BoundPtr>& exprs, const std::vector<Vec>& in, size_t n, std::vector<Vec>& out) {
  out.resize(exprs.size());
  for (size_t i = 0; i < exprs.size(); ++i) out[i] = eval(*exprs[i], in, n);
}

void update_aggs(AggLocal& L, const std::vector<AggCall>& calls, const std::vector<std::vector<Vec>>& args, size_t g,
                 size_t b, size_t e, int64_t seq) {
  for (size_t a = 0; a < calls.size(); ++a) {
    L.aggs[a]->resize(L.groups->size());
    L.aggs[a]->update(g, args[a].data(), b, e, seq);
  }
}

Relation finalize_groups(AggLocal& L, const std::vector<AggCall>& calls) {
  size_t groups = L.groups->size();
  Relation p;
  p.n = groups;
  p.cols = L.groups->keys();
  for (auto& a : L.aggs) p.cols.push_back(a->finalize(groups));
  // Groups in order of first appearance in the input.
  const auto& first = L.groups->first_seq();
  std::vector<uint32_t> perm(groups);
  std::iota(perm.begin(), perm.end(), 0u);
  std::stable_sort(perm.begin(), perm.end(), [&](uint32_t a, uint32_t b) { return first[a] < first[b]; });
  bool identity = true;
  for (size_t i = 0; i < groups && identity; ++i) identity = perm[i] == i;
  return identity ? p : gather_relation(p, perm);
}

// GROUP BY over a morsel as stored (no filter): when every group key is
// constant in the morsel (the partition key) except at most one
// xbar(timestamp, width) over its sorted timestamps, the groups are
// contiguous row ranges found by binary search, with no key computed per
// row. The aggregators see the same calls as over scanned chunks (ranges
// split at the same chunk boundaries), so results are identical; first/last
// by the timestamp and min/max of the timestamp read one row of each range.
struct OrderedAggPlan {
  enum class Take : uint8_t { kRange, kFirstValid, kLastValid, kFirstRow, kLastRow };
  bool usable = false;
  int bucket_key = -1;  // the group key xbar(column bucket_col, width), or -1
  size_t bucket_col = 0;
  int64_t width = 0;
  std::vector<bool> key_cols;  // columns the other keys read: each must be constant in the morsel
  std::vector<Take> take;      // per aggregate, when order_col[a] is the morsel's sorted column
  std::vector<int> order_col;  // per aggregate: that column, or -1 (always kRange)
};

OrderedAggPlan plan_ordered_agg(const std::vector<BoundPtr>& keys, const std::vector<AggCall>& aggs) {
  using Take = OrderedAggPlan::Take;
  OrderedAggPlan p;
  for (size_t k = 0; k < keys.size(); ++k) {
    const BoundExpr& e = *keys[k];
    if (p.bucket_key < 0 && e.op == ExprOp::kFunction && e.fn == ScalarFn::kXbar &&
        e.children[0]->op == ExprOp::kColumn && phys_of(e.children[0]->type) == Phys::kI64 &&
        e.children[1]->op == ExprOp::kConst && phys_of(e.children[1]->type) == Phys::kI64 &&
        e.children[1]->value.is_valid(0) && e.children[1]->value.i64(0) > 0) {
      p.bucket_key = static_cast<int>(k);
      p.bucket_col = e.children[0]->column;
      p.width = e.children[1]->value.i64(0);
      continue;
    }
    collect_columns(e, p.key_cols);
  }
  for (const auto& a : aggs) {
    for (const auto& arg : a.args)
      if (arg->op != ExprOp::kColumn && arg->op != ExprOp::kConst) return p;
    Take t = Take::kRange;
    int col = -1;
    if ((a.spec.kind == AggKind::kFirst || a.spec.kind == AggKind::kLast) && a.spec.ordered &&
        a.args.back()->op == ExprOp::kColumn) {
      t = a.spec.kind == AggKind::kFirst ? Take::kFirstValid : Take::kLastValid;
      col = static_cast<int>(a.args.back()->column);
    } else if ((a.spec.kind == AggKind::kMin || a.spec.kind == AggKind::kMax) && a.args[0]->op == ExprOp::kColumn &&
               phys_of(a.args[0]->type) == Phys::kI64) {
      t = a.spec.kind == AggKind::kMin ? Take::kFirstRow : Take::kLastRow;
      col = static_cast<int>(a.args[0]->column);
    }
    p.take.push_back(t);
    p.order_col.push_back(col);
  }
  p.usable = true;
  return p;
}

// {min, max} of n >= 1 values in one pass. Baseline x86-64 has no 64-bit
// vector compare, so the loop is also compiled for AVX2 and AVX-512, where
// it vectorizes; the CPU picks the version at load time.
ZEPTO_TARGET_CLONES
std::array<int64_t, 2> minmax_i64(const int64_t* x, size_t n) {
  int64_t lo = x[0], hi = x[0];
  for (size_t i = 1; i < n; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  return {lo, hi};
}

// Whether the columns the plan's non-bucket keys read are constant in v.
bool keys_constant(const OrderedAggPlan& plan, const MorselView& v) {
  for (size_t c = 0; c < plan.key_cols.size() && c < v.cols.size(); ++c)
    if (plan.key_cols[c] && !v.cols[c].constant) return false;
  return true;
}

// k[i] = x[i] op c. The int64 and double versions are also compiled for
// AVX2 and AVX-512 (baseline x86-64 has no 64-bit integer vector compare);
// the CPU picks one at load time.
template <typename T>
void compare_into(ExprOp op, const T* x, T c, size_t n, uint8_t* k) {
  with_comparison(op, [&](auto cmp) {
    for (size_t i = 0; i < n; ++i) k[i] = cmp(x[i], c);
  });
}

// flatten: the loops must be compiled into each clone (a callee left out of
// line gets the baseline instruction set, and 64-bit compares go scalar).
ZEPTO_TARGET_CLONES [[gnu::flatten]]
void compare_i64(ExprOp op, const int64_t* x, int64_t c, size_t n, uint8_t* k) { compare_into(op, x, c, n, k); }

ZEPTO_TARGET_CLONES [[gnu::flatten]]
void compare_f64(ExprOp op, const double* x, double c, size_t n, uint8_t* k) { compare_into(op, x, c, n, k); }

// keep[i] = the filter's value for `column op constant` over a BIGINT-like
// or DOUBLE column without NULLs in these rows, straight from the column;
// false (nothing written) for any other filter.
bool compare_mask(const BoundExpr& f, const std::vector<Vec>& cols, size_t n, uint8_t* keep) {
  if (f.op < ExprOp::kEq || f.op > ExprOp::kGe || f.children.size() != 2) return false;
  const BoundExpr* col = f.children[0].get();
  const BoundExpr* cst = f.children[1].get();
  ExprOp op = f.op;
  if (col->op == ExprOp::kConst && cst->op == ExprOp::kColumn) {
    std::swap(col, cst);  // c op x  is  x mirror(op) c
    op = mirror(op);
  }
  if (col->op != ExprOp::kColumn || cst->op != ExprOp::kConst || !cst->value.is_valid(0)) return false;
  const Vec& x = cols[col->column];
  Phys p = phys_of(x.type);
  if (x.constant || x.valid || p != phys_of(cst->value.type) || (p != Phys::kI64 && p != Phys::kF64)) return false;
  if (p == Phys::kI64) compare_i64(op, x.as<int64_t>(), cst->value.i64(0), n, keep);
  else compare_f64(op, x.as<double>(), cst->value.f64(0), n, keep);
  return true;
}

// A filtered morsel whose rows all form one group (keys constant in it):
// per chunk, the filter's result goes straight to the aggregators as a mask
// (Aggregator::update_kept), without gathering the rows that pass. Same
// calls in effect as the chunked scan (chunks of kChunkRows).
bool aggregate_filtered(const OrderedAggPlan& plan, AggLocal& L, const MorselView& v,
                        const std::vector<BoundPtr>& group_keys, const std::vector<AggCall>& aggs) {
  if (plan.bucket_key >= 0 || !keys_constant(plan, v) || v.n == 0) return false;
  std::vector<Vec> first(v.cols.size());
  for (size_t c = 0; c < first.size(); ++c) first[c] = slice(v.cols[c], 0, 1);
  std::vector<Vec> keys = eval_all(group_keys, first, 1);
  std::vector<std::vector<Vec>> whole(aggs.size()), args(aggs.size());
  for (size_t a = 0; a < aggs.size(); ++a) whole[a] = args[a] = eval_all(aggs[a].args, v.cols, v.n);
  std::vector<Vec> cols(v.cols.size());
  std::vector<uint8_t> keep(kChunkRows);
  size_t g = SIZE_MAX;  // the group, once a row passed
  for (size_t off = 0, n = 0; off < v.n; off += n) {
    n = std::min(kChunkRows, v.n - off);
    for (size_t c = 0; c < cols.size(); ++c) cols[c] = slice(v.cols[c], off, n);
    size_t kept = 0;
    Vec cond;
    if (compare_mask(*v.filter, cols, n, keep.data())) {
      for (size_t i = 0; i < n; ++i) kept += keep[i];
    } else if ((cond = eval(*v.filter, cols, n)).constant) {
      uint8_t all = cond.is_valid(0) && cond.b8(0);
      std::fill(keep.begin(), keep.begin() + static_cast<long>(n), all);
      kept = all ? n : 0;
    } else {
      const uint8_t* b = cond.as<uint8_t>();
      const uint8_t* valid = cond.valid;
      uint8_t* k = keep.data();
      if (valid) {
        for (size_t i = 0; i < n; ++i) k[i] = static_cast<uint8_t>((b[i] != 0) & (valid[i] != 0));
      } else {
        for (size_t i = 0; i < n; ++i) k[i] = static_cast<uint8_t>(b[i] != 0);
      }
      for (size_t i = 0; i < n; ++i) kept += k[i];
    }
    if (kept == 0) continue;
    int64_t seq = v.seq + static_cast<int64_t>(off);
    if (g == SIZE_MAX) {
      g = L.groups->find_or_add(keys, 0, seq);
      for (auto& agg : L.aggs) agg->resize(L.groups->size());
    }
    for (size_t a = 0; a < aggs.size(); ++a) {
      for (size_t i = 0; i < args[a].size(); ++i) args[a][i] = slice(whole[a][i], off, n);
      L.aggs[a]->update_kept(g, args[a].data(), args[a].size(), keep.data(), n, seq);
    }
  }
  return true;
}

// Aggregates morsel view v into L by the plan; false (nothing done) when the
// morsel does not have the shape the plan needs.
bool aggregate_ordered(const OrderedAggPlan& plan, AggLocal& L, const MorselView& v,
                       const std::vector<BoundPtr>& group_keys, const std::vector<AggCall>& aggs) {
  using Take = OrderedAggPlan::Take;
  if (v.filter || !keys_constant(plan, v)) return false;
  if (plan.bucket_key >= 0 && v.ts_column != static_cast<int>(plan.bucket_col)) return false;
  size_t n = v.n;
  MorselScratch& scratch = L.scratch;
  std::vector<uint32_t>& starts = scratch.starts;  // first row of each group's range
  starts.clear();
  if (plan.bucket_key >= 0) {
    const int64_t* t = v.cols[plan.bucket_col].as<int64_t>();
    size_t step = 1;  // the previous bucket's length: where the next boundary likely is
    for (size_t i = 0; i < n;) {
      starts.push_back(static_cast<uint32_t>(i));
      int64_t lo = xbar_value(t[i], plan.width);
      if (lo > INT64_MAX - plan.width) break;
      int64_t next = lo + plan.width;
      // Gallop from i (probes stay near the rows just read), then binary search.
      size_t a = i + 1, b = i + step;
      while (b < n && t[b] < next) {
        a = b + 1;
        b = i + (b - i) * 2;
      }
      b = std::min(b, n);
      size_t j = static_cast<size_t>(std::lower_bound(t + a, t + b, next) - t);
      step = std::max<size_t>(1, j - i);
      i = j;
    }
  } else if (n > 0) {
    starts.push_back(0);
  }
  size_t r = starts.size();
  // The group keys' inputs at the ranges' first rows; columns the keys do
  // not read are not touched (in a cold cache each costs a miss per morsel).
  std::vector<Vec>& at = scratch.at;
  at.resize(v.cols.size());
  for (size_t c = 0; c < at.size(); ++c) {
    bool read = (c < plan.key_cols.size() && plan.key_cols[c]) || (plan.bucket_key >= 0 && c == plan.bucket_col);
    at[c] = !read ? const_null(LType::kNull, r) : r == 1 ? slice(v.cols[c], starts[0], 1) : gather(v.cols[c], starts.data(), r);
  }
  std::vector<Vec>& keys = scratch.keys;
  eval_into(group_keys, at, r, keys);
  std::vector<std::vector<Vec>>& args = scratch.args;
  args.resize(aggs.size());
  for (size_t a = 0; a < aggs.size(); ++a) eval_into(aggs[a].args, v.cols, n, args[a]);
  for (auto& agg : L.aggs) agg->resize(L.groups->size() + r);
  std::vector<size_t>& gs = scratch.groups;
  gs.resize(r);
  for (size_t j = 0; j < r; ++j) gs[j] = L.groups->find_or_add(keys, j, v.seq + static_cast<int64_t>(starts[j]));
  auto range_end = [&](size_t j) -> size_t { return j + 1 < r ? starts[j + 1] : n; };
  // Each aggregate goes through all ranges before the next: every column is
  // read in one pass over the morsel. min and max of an integer column
  // without NULLs come from one pass for both, given to the aggregator as a
  // one-row constant.
  std::vector<std::pair<const int64_t*, std::vector<std::array<int64_t, 2>>>> extremes;
  for (size_t a = 0; a < aggs.size(); ++a) {
    Aggregator& agg = *L.aggs[a];
    const Vec* in = args[a].data();
    Take t = plan.order_col[a] == v.ts_column && v.ts_column >= 0 ? plan.take[a] : Take::kRange;
    bool minmax = aggs[a].spec.kind == AggKind::kMin || aggs[a].spec.kind == AggKind::kMax;
    if (t == Take::kRange && minmax && !in[0].constant && !in[0].valid && phys_of(in[0].type) == Phys::kI64) {
      const int64_t* x = in[0].as<int64_t>();
      size_t k = 0;
      while (k < extremes.size() && extremes[k].first != x) ++k;
      if (k == extremes.size()) {
        extremes.push_back({x, std::vector<std::array<int64_t, 2>>(r)});
        for (size_t j = 0; j < r; ++j) extremes[k].second[j] = minmax_i64(x + starts[j], range_end(j) - starts[j]);
      }
      Vec one = in[0];
      one.constant = true;
      one.n = 1;
      for (size_t j = 0; j < r; ++j) {
        one.data = &extremes[k].second[j][aggs[a].spec.kind == AggKind::kMax];
        agg.update(gs[j], &one, 0, 1, v.seq);
      }
      continue;
    }
    for (size_t j = 0; j < r; ++j) {
      size_t b = starts[j], e = range_end(j), g = gs[j];
      switch (t) {
        case Take::kRange:
          // The pieces a chunked scan would give (chunks of kChunkRows from the morsel's start).
          for (size_t p = b, q; p < e; p = q) {
            q = std::min(e, (p / kChunkRows + 1) * kChunkRows);
            agg.update(g, in, p, q, v.seq);
          }
          break;
        case Take::kFirstRow: agg.update(g, in, b, b + 1, v.seq); break;
        case Take::kLastRow: agg.update(g, in, e - 1, e, v.seq); break;
        case Take::kFirstValid:
          for (size_t i = b; i < e; ++i)
            if (in[0].is_valid(i)) {
              agg.update(g, in, i, i + 1, v.seq);
              break;
            }
          break;
        case Take::kLastValid:
          for (size_t i = e; i-- > b;)
            if (in[0].is_valid(i)) {
              agg.update(g, in, i, i + 1, v.seq);
              break;
            }
          break;
      }
    }
  }
  return true;
}

}  // namespace

Relation SelectNode::aggregate_rows(ChunkSource& src, const std::vector<bool>& needed, ExecContext& ctx) {
  OrderedAggPlan ordered = plan_ordered_agg(group_keys, aggs);
  // One group per partition and aggregates that read a row or two of it
  // (latest values, count(*)): a few lookups per partition, cheaper than
  // waking another thread.
  auto* scan = dynamic_cast<ScanNode*>(source.get());
  bool lookups = ordered.usable && ordered.bucket_key < 0 && scan && !scan->filter;
  for (size_t a = 0; a < aggs.size() && lookups; ++a)
    lookups = ordered.take[a] != OrderedAggPlan::Take::kRange || aggs[a].spec.kind == AggKind::kCountStar;
  size_t threads = lookups ? 1 : threads_for(ctx, src.rows());
  if (lookups) src.prefetch_ends(needed);
  std::vector<LType> key_types;
  for (const auto& k : group_keys) key_types.push_back(k->type);
  std::vector<AggLocal> locals(std::max<size_t>(1, std::min(threads, src.morsels())));
  for (auto& L : locals) {
    L.groups = std::make_unique<GroupTable>(key_types);
    for (const auto& a : aggs) L.aggs.push_back(make_aggregator(a.spec));
  }
  // Rows of a chunk: runs of equal keys, each looked up once.
  auto add_chunk = [&](AggLocal& L, const std::vector<Vec>& cols, size_t n, int64_t seq) {
    std::vector<Vec> keys = eval_all(group_keys, cols, n);
    std::vector<std::vector<Vec>> args(aggs.size());
    for (size_t a = 0; a < aggs.size(); ++a) args[a] = eval_all(aggs[a].args, cols, n);
    std::vector<uint8_t> breaks = key_breaks(keys, n);
    for (size_t i = 0; i < n;) {
      size_t j = i + 1;
      while (j < n && !breaks[j]) ++j;
      size_t g = L.groups->find_or_add(keys, i, seq + static_cast<int64_t>(i));
      update_aggs(L, aggs, args, g, i, j, seq);
      i = j;
    }
  };
  ThreadPool::shared().parallel_for(src.morsels(), threads, [&](size_t m, size_t w) {
    AggLocal& L = locals[w];
    MorselView& v = L.scratch.view;
    if (ordered.usable && src.view(m, needed, v)) {
      if (aggregate_ordered(ordered, L, v, group_keys, aggs)) return;
      if (v.filter && aggregate_filtered(ordered, L, v, group_keys, aggs)) return;
      std::vector<Vec> cols(v.cols.size());
      auto add = [&](const std::vector<Vec>& c, size_t n, int64_t seq) { add_chunk(L, c, n, seq); };
      for (size_t off = 0, n = 0; off < v.n; off += n) {
        n = std::min(kChunkRows, v.n - off);
        for (size_t c = 0; c < cols.size(); ++c) cols[c] = slice(v.cols[c], off, n);
        emit(cols, n, v.seq + static_cast<int64_t>(off), v.filter, needed, add);
      }
      return;
    }
    src.scan(m, needed, kChunkRows, [&](const std::vector<Vec>& cols, size_t n, int64_t seq) { add_chunk(L, cols, n, seq); });
  });
  AggLocal& G = locals[0];
  for (size_t w = 1; w < locals.size(); ++w) {
    if (locals[w].groups->size() == 0) continue;
    std::vector<uint32_t> map = G.groups->absorb(*locals[w].groups);
    for (size_t a = 0; a < aggs.size(); ++a) G.aggs[a]->merge(*locals[w].aggs[a], map);
  }
  if (group_keys.empty() && G.groups->size() == 0) G.groups->find_or_add({}, 0, 0);
  for (auto& a : G.aggs) a->resize(G.groups->size());
  return finalize_groups(G, aggs);
}

Relation SelectNode::collect_rows(ChunkSource& src, const std::vector<bool>& needed, size_t width, ExecContext& ctx) {
  std::vector<std::vector<Relation>> pieces(src.morsels());
  ThreadPool::shared().parallel_for(src.morsels(), threads_for(ctx, src.rows()), [&](size_t m, size_t) {
    src.scan(m, needed, kAll, [&](const std::vector<Vec>& cols, size_t n, int64_t) {
      Relation r;
      r.n = n;
      for (size_t c = 0; c < width; ++c) r.cols.push_back(needed[c] ? cols[c] : Vec{});
      pieces[m].push_back(std::move(r));
    });
  });
  Relation out;
  for (auto& ps : pieces)
    for (auto& p : ps) out.n += p.n;
  for (size_t c = 0; c < width; ++c) {
    if (!needed[c]) {
      out.cols.push_back(const_null(LType::kNull, out.n));
      continue;
    }
    std::vector<Vec> parts;
    for (auto& ps : pieces)
      for (auto& p : ps) parts.push_back(p.cols[c]);
    LType t = source->columns[c].type;
    out.cols.push_back(parts.empty() ? const_null(t, 0) : concat(parts, t));
  }
  return out;
}

Relation SelectNode::window_join_rows(ExecContext& ctx) {
  WindowJoinSpec& wj = *window_join;
  Relation l = wj.left->execute(ctx);
  std::vector<Vec> lk = eval_all(wj.left_keys, l.cols, l.n);
  prune_right_scan(wj.right.get(), wj.right_keys, lk, l.n);
  Relation r = wj.right->execute(ctx);
  std::vector<Vec> rk = eval_all(wj.right_keys, r.cols, r.n);
  Vec lt = flatten(eval(*wj.left_ts, l.cols, l.n));
  Vec rt = flatten(eval(*wj.right_ts, r.cols, r.n));
  KeyGroups rg = group_by_key(rk, r.n);
  // Right rows sorted by (key, time), so each window is a contiguous range.
  std::vector<uint32_t> rperm;
  std::unordered_map<std::string, std::pair<size_t, size_t>> rrange;
  for (const auto& key : rg.order) {
    auto& idx = rg.rows[key];
    sort_by_ts(idx, rt);
    rrange[key] = {rperm.size(), rperm.size() + idx.size()};
    for (int64_t i : idx) rperm.push_back(static_cast<uint32_t>(i));
  }
  Relation rs = gather_relation(r, rperm);
  Vec rts = gather(rt, rperm.data(), rperm.size());
  std::vector<std::vector<Vec>> args(aggs.size());
  for (size_t a = 0; a < aggs.size(); ++a) args[a] = eval_all(aggs[a].args, rs.cols, rs.n);
  AggLocal L;
  L.groups = std::make_unique<GroupTable>(std::vector<LType>{});
  for (const auto& a : aggs) {
    L.aggs.push_back(make_aggregator(a.spec));
    L.aggs.back()->resize(l.n);
  }
  KeyGroups lg = group_by_key(lk, l.n);
  std::vector<int64_t> begin(l.n, 0), end(l.n, 0);
  for (const auto& key : lg.order) {
    auto it = rrange.find(key);
    if (it == rrange.end()) continue;
    auto& idx = lg.rows[key];
    sort_by_ts(idx, lt);
    std::vector<int64_t> lts = ts_values(idx, lt);
    auto [rb, re] = it->second;
    std::span<const int64_t> rts_span(rts.as<int64_t>() + rb, re - rb);
    std::vector<int64_t> b(idx.size()), e(idx.size());
    window_join_ranges(lts, rts_span, wj.lo, wj.hi, b, e);
    for (size_t j = 0; j < idx.size(); ++j) {
      begin[static_cast<size_t>(idx[j])] = static_cast<int64_t>(rb) + b[j];
      end[static_cast<size_t>(idx[j])] = static_cast<int64_t>(rb) + e[j];
    }
  }
  for (size_t i = 0; i < l.n; ++i) {
    if (end[i] <= begin[i]) continue;
    for (size_t a = 0; a < aggs.size(); ++a)
      L.aggs[a]->update(i, args[a].data(), static_cast<size_t>(begin[i]), static_cast<size_t>(end[i]), 0);
  }
  Relation p = l;
  for (auto& a : L.aggs) p.cols.push_back(a->finalize(l.n));
  return p;
}

Relation SelectNode::finish(Relation p, ExecContext& ctx) {
  size_t n = p.n;
  if (having) {
    Vec cond = eval(*having, p.cols, n);
    std::vector<uint32_t> sel = select_true(cond);
    if (sel.size() != n) {
      p = gather_relation(p, sel);
      n = p.n;
    }
  }
  for (const auto& w : windows) p.cols.push_back(compute_window(w, p));
  Relation out;
  out.n = n;
  for (size_t i = 0; i < outputs.size(); ++i) {
    Vec v = eval(*outputs[i], p.cols, n);
    if (v.type != columns[i].type) v = cast_vec(v, columns[i].type, ctx.symbols);
    out.cols.push_back(flatten(v));
  }
  if (distinct) {
    std::unordered_set<std::string> seen;
    std::vector<uint32_t> keep;
    std::string key;
    for (size_t i = 0; i < n; ++i) {
      key.clear();
      for (const auto& c : out.cols) append_key(key, c, i);
      if (seen.insert(key).second) keep.push_back(static_cast<uint32_t>(i));
    }
    if (keep.size() != n) {
      out = gather_relation(out, keep);
      n = out.n;
      // P no longer lines up with the rows: sort keys may use outputs only.
      for (auto& c : p.cols) c = const_null(LType::kNull, n);
      p.n = n;
    }
  }
  size_t off = static_cast<size_t>(std::max<int64_t>(0, offset));
  size_t want = limit < 0 ? SIZE_MAX : static_cast<size_t>(limit);
  if (!order_by.empty() && n > 0) {
    std::vector<Vec> layout = p.cols;
    layout.insert(layout.end(), out.cols.begin(), out.cols.end());
    std::vector<Vec> keys;
    for (const auto& s : order_by) keys.push_back(flatten(eval(*s.expr, layout, n)));
    size_t top = want == SIZE_MAX ? n : std::min(n, off + want);
    out = gather_relation(out, sort_rows(keys, order_by, n, top));
    n = out.n;
  }
  if (off > 0 || want < n) {
    size_t b = std::min(off, n);
    size_t m = std::min(want, n - b);
    for (auto& c : out.cols) c = slice(c, b, m);
    out.n = m;
  }
  return out;
}

void SelectNode::explain(std::string& out, int depth) const {
  std::string pad = indent(depth);
  std::string names;
  for (size_t i = 0; i < columns.size(); ++i) names += (i ? ", " : "") + columns[i].name;
  if (limit >= 0 || offset > 0)
    out += pad + "LIMIT " + (limit >= 0 ? std::to_string(limit) : std::string("ALL")) +
           (offset > 0 ? " OFFSET " + std::to_string(offset) : "") + "\n";
  if (!order_by.empty()) {
    out += pad + "ORDER BY ";
    for (size_t i = 0; i < order_texts.size(); ++i) out += (i ? ", " : "") + order_texts[i];
    out += "\n";
  }
  if (distinct) out += pad + "DISTINCT\n";
  out += pad + "PROJECT " + names + "\n";
  for (const auto& w : windows) out += pad + "WINDOW " + w.text + "\n";
  if (having) out += pad + "HAVING\n";
  if (aggregate) {
    out += pad + "AGGREGATE";
    if (!group_texts.empty()) {
      out += " BY ";
      for (size_t i = 0; i < group_texts.size(); ++i) out += (i ? ", " : "") + group_texts[i];
    }
    // Which path aggregate_rows() takes over a table whose partitions have
    // timestamps without NULLs (keys reading only the partition key).
    auto* scan = dynamic_cast<const ScanNode*>(source.get());
    OrderedAggPlan ordered = plan_ordered_agg(group_keys, aggs);
    bool per_partition = scan && ordered.usable;
    for (size_t c = 0; c < ordered.key_cols.size() && per_partition; ++c)
      per_partition = !ordered.key_cols[c] || static_cast<int>(c) == scan->key_column();
    if (per_partition && !scan->filter &&
        (ordered.bucket_key < 0 || static_cast<int>(ordered.bucket_col) == scan->ts_column()))
      out += " (partitions as stored: groups are row ranges of the sorted timestamps)";
    else if (per_partition && scan->filter && ordered.bucket_key < 0)
      out += " (one group per partition: the filter is a mask for the aggregates)";
    else if (!group_texts.empty())
      out += " (runs of equal keys in storage order, then hash)";
    out += ":";
    for (size_t i = 0; i < aggs.size(); ++i) out += (i ? ", " : " ") + aggs[i].text;
    out += "\n";
  }
  if (window_join) {
    out += pad + "WINDOW JOIN [ts - " + std::to_string(window_join->lo) + ", ts + " + std::to_string(window_join->hi) +
           "]\n";
    window_join->left->explain(out, depth + 1);
    window_join->right->explain(out, depth + 1);
    return;
  }
  if (where && !dynamic_cast<const ScanNode*>(source.get())) out += pad + "FILTER " + where_text + "\n";
  if (source) source->explain(out, depth + 1);
}

// ------------------------------------------------------------ UnionNode

Relation UnionNode::execute(ExecContext& ctx) {
  std::vector<std::vector<Vec>> parts(columns.size());
  Relation out;
  for (auto& in : inputs) {
    Relation r = in->execute(ctx);
    for (size_t c = 0; c < columns.size(); ++c) parts[c].push_back(cast_vec(r.cols[c], columns[c].type, ctx.symbols));
    out.n += r.n;
  }
  for (size_t c = 0; c < columns.size(); ++c) out.cols.push_back(flatten(concat(parts[c], columns[c].type)));
  return out;
}

void UnionNode::explain(std::string& out, int depth) const {
  out += indent(depth) + "UNION ALL\n";
  for (const auto& in : inputs) in->explain(out, depth + 1);
}

void ValuesNode::explain(std::string& out, int depth) const {
  out += indent(depth) + "VALUES (" + std::to_string(rel.n) + " rows)\n";
}

// ------------------------------------------------------------- JoinNode

Relation JoinNode::execute(ExecContext& ctx) {
  if (!needed.empty()) {
    // What each side must produce: what the parent reads, the keys, the times and the residual.
    size_t lw = left->columns.size(), rw = right->columns.size();
    std::vector<bool> all = needed;
    all.resize(lw + rw, false);
    if (residual) collect_columns(*residual, all);
    std::vector<bool> ln(all.begin(), all.begin() + static_cast<long>(lw)), rn(all.begin() + static_cast<long>(lw), all.end());
    for (const auto& k : left_keys) collect_columns(*k, ln);
    for (const auto& k : right_keys) collect_columns(*k, rn);
    if (left_ts) collect_columns(*left_ts, ln);
    if (right_ts) collect_columns(*right_ts, rn);
    left->needed = std::move(ln);
    right->needed = std::move(rn);
  }
  Relation l = left->execute(ctx);
  if (!left_keys.empty() && (kind == JoinKind2::kInner || kind == JoinKind2::kLeft || kind == JoinKind2::kAsof ||
                             kind == JoinKind2::kAsofLeft)) {
    std::vector<Vec> lk = eval_all(left_keys, l.cols, l.n);
    prune_right_scan(right.get(), right_keys, lk, l.n);
  }
  Relation r = right->execute(ctx);
  if (kind == JoinKind2::kAsof || kind == JoinKind2::kAsofLeft) return asof(std::move(l), std::move(r), ctx);
  return equi(std::move(l), std::move(r), ctx);
}

namespace {
Relation combine(const Relation& l, const Relation& r, const std::vector<int64_t>& li, const std::vector<int64_t>& ri) {
  Relation out;
  out.n = li.size();
  for (const auto& c : l.cols) out.cols.push_back(gather_nullable(c, li.data(), li.size()));
  for (const auto& c : r.cols) out.cols.push_back(gather_nullable(c, ri.data(), ri.size()));
  return out;
}
}  // namespace

namespace {
// ASOF matches of any keys: rows grouped by key value, each group sorted by time.
void asof_by_groups(const std::vector<Vec>& lk, const Vec& lt, const std::vector<Vec>& rk, const Vec& rt, size_t ln,
                    size_t rn, bool strict, std::vector<int64_t>& match) {
  KeyGroups rg = group_by_key(rk, rn);
  KeyGroups lg = group_by_key(lk, ln);
  for (const auto& key : lg.order) {
    auto it = rg.rows.find(key);
    if (it == rg.rows.end()) continue;
    auto& ridx = it->second;
    sort_by_ts(ridx, rt);
    auto& lidx = lg.rows[key];
    sort_by_ts(lidx, lt);
    std::vector<int64_t> lts = ts_values(lidx, lt), rts = ts_values(ridx, rt), out(lidx.size());
    asof_match(lts, rts, strict, out);
    for (size_t j = 0; j < lidx.size(); ++j)
      if (out[j] >= 0) match[static_cast<size_t>(lidx[j])] = ridx[static_cast<size_t>(out[j])];
  }
}
}  // namespace

namespace {

// Runs of equal values of an integer key column: (key, begin, end); false
// if a key has more than one run or a key is NULL.
bool key_runs(const Vec& k, size_t n, std::vector<std::array<int64_t, 3>>& runs) {
  if (phys_of(k.type) != Phys::kI64 || !k.all_valid()) return false;
  std::unordered_set<int64_t> seen;
  for (size_t i = 0; i < n;) {
    int64_t key = k.i64(i);
    size_t j = i + 1;
    if (!k.constant)
      while (j < n && k.i64(j) == key) ++j;
    else
      j = n;
    if (!seen.insert(key).second) return false;
    runs.push_back({key, static_cast<int64_t>(i), static_cast<int64_t>(j)});
    i = j;
  }
  return true;
}

// Whether x[0, n) never decreases (a branch-free pass the compiler
// vectorizes, stopping at the first block out of order).
bool ascending(const int64_t* x, size_t n) {
  constexpr size_t kBlock = 4096;
  for (size_t b = 1; b < n; b += kBlock) {
    size_t e = std::min(n, b + kBlock);
    bool down = false;
    for (size_t i = b; i < e; ++i) down |= x[i] < x[i - 1];
    if (down) return false;
  }
  return true;
}

// ASOF matches when each side is one run of rows per key, with times
// without NULLs in order within each run (a scan of partitions keyed by the
// join key): a merge per key over the time columns as they are, no copies.
// Appends to `matched` the rows of each left run that have a match,
// [begin, end) in row order (the unmatched rows of a run come before its
// matched ones). The matches are computed in pieces of left rows, each on
// one of `threads` threads, and handed to on_piece(b, e, m) on that thread
// (m[k]: the match of left row b + k, or -1); with a non-null `match` (room
// for every left row) they are kept there, else in a buffer per thread that
// the next piece reuses. False, with nothing done, if the inputs do not
// have this shape.
bool asof_by_runs(const std::vector<Vec>& lk, const Vec& lt, const std::vector<Vec>& rk, const Vec& rt, size_t ln,
                  size_t rn, bool strict, size_t threads, int64_t* match, std::vector<std::array<size_t, 2>>& matched,
                  const std::function<void(size_t, size_t, const int64_t*)>& on_piece) {
  if (lk.size() != 1 || rk.size() != 1 || !lt.all_valid() || !rt.all_valid() || lt.constant || rt.constant)
    return false;
  std::vector<std::array<int64_t, 3>> lr, rr;
  if (!key_runs(lk[0], ln, lr) || !key_runs(rk[0], rn, rr)) return false;
  const int64_t* l = lt.as<int64_t>();
  const int64_t* r = rt.as<int64_t>();
  std::unordered_map<int64_t, size_t> right_of;
  for (size_t k = 0; k < rr.size(); ++k) {
    if (!rt.ascending && !ascending(r + rr[k][1], static_cast<size_t>(rr[k][2] - rr[k][1]))) return false;
    right_of[rr[k][0]] = k;
  }
  for (const auto& run : lr)
    if (!lt.ascending && !ascending(l + run[1], static_cast<size_t>(run[2] - run[1]))) return false;
  // Pieces of at most kPiece left rows, each merged with its key's right
  // rows on its own (one symbol's rows are split among the threads).
  constexpr int64_t kPiece = 16384;
  struct Piece {
    int64_t b, e, rb, re;
  };
  std::vector<Piece> pieces;
  for (const auto& [key, b, e] : lr) {
    auto it = right_of.find(key);
    if (it == right_of.end()) {
      if (match) std::fill(match + b, match + e, int64_t{-1});
      continue;
    }
    int64_t rb = rr[it->second][1], re = rr[it->second][2];
    // The run's rows before its first right row (at or before it, if strict) have no match.
    const int64_t* first = strict ? std::upper_bound(l + b, l + e, r[rb]) : std::lower_bound(l + b, l + e, r[rb]);
    if (first != l + e) matched.push_back({static_cast<size_t>(first - l), static_cast<size_t>(e)});
    for (int64_t p = b; p < e; p += kPiece) pieces.push_back({p, std::min(e, p + kPiece), rb, re});
  }
  ThreadPool::shared().parallel_for(pieces.size(), threads, [&](size_t k, size_t) {
    const Piece& p = pieces[k];
    // The right rows the piece can match: from the match of its first row
    // (or the first right row) to the last one at or before its last row.
    auto after = [&](int64_t t) {  // the first right row after t (at or after t, if strict)
      return (strict ? std::lower_bound(r + p.rb, r + p.re, t) : std::upper_bound(r + p.rb, r + p.re, t)) - r;
    };
    int64_t rb = std::max(p.rb, after(l[p.b]) - 1), re = after(l[p.e - 1]);
    size_t n = static_cast<size_t>(p.e - p.b);
    thread_local std::vector<int64_t> scratch;
    if (!match && scratch.size() < n) scratch.resize(static_cast<size_t>(kPiece));
    int64_t* out = match ? match + p.b : scratch.data();
    asof_match(std::span<const int64_t>(l + p.b, n), std::span<const int64_t>(r + rb, static_cast<size_t>(std::max(re, rb) - rb)),
               strict, std::span<int64_t>(out, n), rb);
    on_piece(static_cast<size_t>(p.b), static_cast<size_t>(p.e), out);
  });
  return true;
}

// The values of fixed-width column `src` at the matches m[0, e - b) of left
// rows [b, e), written at the left rows' positions in `out` (allocated for
// every left row by the caller; unmatched rows are left unwritten).
void gather_at_matches(const Vec& src, const int64_t* m, size_t b, size_t e, Vec& out) {
  auto go = [&](auto tag) {
    using T = decltype(tag);
    const T* in = src.as<T>();
    T* o = const_cast<T*>(out.as<T>()) + b;
    for (size_t k = 0; k < e - b; ++k)
      if (m[k] >= 0) o[k] = in[m[k]];
    if (src.valid) {
      uint8_t* ov = const_cast<uint8_t*>(out.valid) + b;
      for (size_t k = 0; k < e - b; ++k) ov[k] = m[k] >= 0 && src.valid[m[k]];
    }
  };
  switch (phys_of(src.type)) {
    case Phys::kU8: go(uint8_t{}); break;
    case Phys::kI64: go(int64_t{}); break;
    case Phys::kF64: go(double{}); break;
    default: break;
  }
}

}  // namespace

Relation JoinNode::asof(Relation l, Relation r, ExecContext& ctx) {
  std::vector<Vec> lk = eval_all(left_keys, l.cols, l.n);
  std::vector<Vec> rk = eval_all(right_keys, r.cols, r.n);
  Vec lt = flatten(eval(*left_ts, l.cols, l.n));
  Vec rt = flatten(eval(*right_ts, r.cols, r.n));
  auto wanted = [&](size_t c) { return needed.empty() || needed[c]; };
  // ASOF (not LEFT): the right columns the query reads, when fixed-width
  // and not constant, are gathered by the merge's own pieces (on its
  // threads, while the matches are hot) at the left rows' positions; below
  // they are sliced or gathered like the left columns. When every right
  // column read is, the matches need not be kept for all left rows.
  std::vector<Vec> at_left(r.cols.size());
  std::vector<bool> fused(r.cols.size(), false);
  bool keep_matches = kind != JoinKind2::kAsof;
  for (size_t c = 0; c < r.cols.size(); ++c) {
    const Vec& v = r.cols[c];
    Phys p = phys_of(v.type);
    if (!wanted(l.cols.size() + c) || v.type == LType::kNull) continue;
    if (kind != JoinKind2::kAsof || v.constant || (p != Phys::kU8 && p != Phys::kI64 && p != Phys::kF64)) {
      keep_matches = true;
      continue;
    }
    fused[c] = true;
    if (p == Phys::kU8) alloc_values<uint8_t>(at_left[c], v.type, l.n, false);
    else if (p == Phys::kI64) alloc_values<int64_t>(at_left[c], v.type, l.n, false);
    else alloc_values<double>(at_left[c], v.type, l.n, false);
    if (v.valid) alloc_valid(at_left[c]);
  }
  auto on_piece = [&](size_t pb, size_t pe, const int64_t* m) {
    for (size_t c = 0; c < r.cols.size(); ++c)
      if (fused[c]) gather_at_matches(r.cols[c], m, pb, pe, at_left[c]);
  };
  // The match of each left row, when kept: in a buffer this thread keeps
  // between queries (up to 2^20 rows, 8 MB), so repeated joins reuse its
  // pages instead of faulting fresh ones in.
  thread_local std::vector<int64_t> kept_buffer;
  std::vector<int64_t> fresh;
  std::vector<int64_t>& match = l.n <= (size_t{1} << 20) ? kept_buffer : fresh;
  if (keep_matches) match.resize(l.n);
  // The left rows kept: all (ASOF LEFT), else those with a match. When they
  // are one range of rows [a, b) (unmatched rows only come before a key's
  // first right row, and there is one key), the left columns are sliced,
  // not copied.
  size_t a = 0, b = l.n, kept = l.n;
  std::vector<std::array<size_t, 2>> matched;
  if (asof_by_runs(lk, lt, rk, rt, l.n, r.n, strict, threads_for(ctx, l.n + r.n), keep_matches ? match.data() : nullptr,
                   matched, on_piece)) {
    if (kind == JoinKind2::kAsof) {
      kept = 0;
      for (const auto& [mb, me] : matched) kept += me - mb;
      a = matched.empty() ? 0 : matched.front()[0];
      b = matched.empty() ? 0 : matched.back()[1];
    }
  } else {
    std::fill(fused.begin(), fused.end(), false);
    match.assign(l.n, int64_t{-1});
    keep_matches = true;
    asof_by_groups(lk, lt, rk, rt, l.n, r.n, strict, match);
    if (kind == JoinKind2::kAsof) {
      kept = static_cast<size_t>(std::count_if(match.begin(), match.end(), [](int64_t m) { return m >= 0; }));
      while (a < l.n && match[a] < 0) ++a;
      while (b > a && match[b - 1] < 0) --b;
    }
  }
  Relation out;
  out.n = kept;
  if (kept == b - a) {
    for (size_t c = 0; c < l.cols.size(); ++c)
      out.cols.push_back(wanted(c) ? slice(l.cols[c], a, kept) : const_null(LType::kNull, kept));
    for (size_t c = 0; c < r.cols.size(); ++c)
      out.cols.push_back(!wanted(l.cols.size() + c) || r.cols[c].type == LType::kNull ? const_null(LType::kNull, kept)
                         : fused[c] ? slice(at_left[c], a, kept)
                                                    : gather_nullable(r.cols[c], match.data() + a, kept));
    return out;
  }
  // Several ranges (ASOF, not LEFT): the rows of `matched`, or those whose
  // kept match is not -1.
  std::vector<int64_t> li, ri;
  li.reserve(kept);
  if (!keep_matches) {
    for (const auto& [mb, me] : matched)
      for (size_t i = mb; i < me; ++i) li.push_back(static_cast<int64_t>(i));
  } else {
    ri.reserve(kept);
    for (size_t i = 0; i < l.n; ++i) {
      if (match[i] < 0) continue;
      li.push_back(static_cast<int64_t>(i));
      ri.push_back(match[i]);
    }
  }
  for (size_t c = 0; c < l.cols.size(); ++c)
    out.cols.push_back(wanted(c) ? gather_nullable(l.cols[c], li.data(), kept) : const_null(LType::kNull, kept));
  for (size_t c = 0; c < r.cols.size(); ++c)
    out.cols.push_back(!wanted(l.cols.size() + c) || r.cols[c].type == LType::kNull ? const_null(LType::kNull, kept)
                       : fused[c] ? gather_nullable(at_left[c], li.data(), kept)
                                                  : gather_nullable(r.cols[c], ri.data(), kept));
  return out;
}


Relation JoinNode::equi(Relation l, Relation r, ExecContext&) {
  std::vector<int64_t> pl, pr;
  if (left_keys.empty()) {
    if (static_cast<double>(l.n) * static_cast<double>(r.n) > 2e8)
      throw_error(ErrorCode::kInvalidArgument, "join without equality condition would produce " +
                                                   std::to_string(l.n) + " x " + std::to_string(r.n) +
                                                   " rows; add an ON condition with =");
    for (size_t i = 0; i < l.n; ++i)
      for (size_t j = 0; j < r.n; ++j) {
        pl.push_back(static_cast<int64_t>(i));
        pr.push_back(static_cast<int64_t>(j));
      }
  } else {
    std::vector<Vec> lk = eval_all(left_keys, l.cols, l.n);
    std::vector<Vec> rk = eval_all(right_keys, r.cols, r.n);
    bool int_key = lk.size() == 1 && phys_of(lk[0].type) == Phys::kI64 && phys_of(rk[0].type) == Phys::kI64;
    if (int_key) {
      Vec a = flatten(lk[0]), b = flatten(rk[0]);
      JoinPairs jp = hash_join(span_of<int64_t>(a, l.n), a.valid, span_of<int64_t>(b, r.n), b.valid, JoinKind::kInner);
      pl = std::move(jp.left);
      pr = std::move(jp.right);
    } else {
      KeyGroups rg = group_by_key(rk, r.n);
      std::string k;
      for (size_t i = 0; i < l.n; ++i) {
        k.clear();
        bool null = false;
        for (const auto& v : lk) {
          null |= !v.is_valid(i);
          append_key(k, v, i);
        }
        if (null) continue;
        auto it = rg.rows.find(k);
        if (it == rg.rows.end()) continue;
        for (int64_t j : it->second) {
          pl.push_back(static_cast<int64_t>(i));
          pr.push_back(j);
        }
      }
    }
  }
  if (residual && !pl.empty()) {
    Relation pairs = combine(l, r, pl, pr);
    std::vector<uint32_t> sel = select_true(eval(*residual, pairs.cols, pairs.n));
    std::vector<int64_t> nl, nr;
    for (uint32_t s : sel) {
      nl.push_back(pl[s]);
      nr.push_back(pr[s]);
    }
    pl.swap(nl);
    pr.swap(nr);
  }
  bool keep_left = kind == JoinKind2::kLeft || kind == JoinKind2::kFull;
  bool keep_right = kind == JoinKind2::kRight || kind == JoinKind2::kFull;
  std::vector<int64_t> li, ri;
  if (keep_left) {
    size_t k = 0;
    for (size_t i = 0; i < l.n; ++i) {
      bool any = false;
      while (k < pl.size() && pl[k] == static_cast<int64_t>(i)) {
        li.push_back(pl[k]);
        ri.push_back(pr[k]);
        ++k;
        any = true;
      }
      if (!any) {
        li.push_back(static_cast<int64_t>(i));
        ri.push_back(-1);
      }
    }
  } else {
    li = pl;
    ri = pr;
  }
  if (keep_right) {
    std::vector<uint8_t> hit(r.n, 0);
    for (int64_t j : pr) hit[static_cast<size_t>(j)] = 1;
    for (size_t j = 0; j < r.n; ++j)
      if (!hit[j]) {
        li.push_back(-1);
        ri.push_back(static_cast<int64_t>(j));
      }
  }
  return combine(l, r, li, ri);
}

void JoinNode::explain(std::string& out, int depth) const {
  static const char* names[] = {"INNER JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", "CROSS JOIN", "ASOF JOIN",
                                "ASOF LEFT JOIN"};
  out += indent(depth) + names[static_cast<int>(kind)];
  if (!text.empty()) out += " ON " + text;
  if (kind == JoinKind2::kAsof || kind == JoinKind2::kAsofLeft)
    out += " (per key: latest right row with time " + std::string(strict ? "<" : "<=") + " left time)";
  else if (!left_keys.empty())
    out += " (hash on " + std::to_string(left_keys.size()) + " key" + (left_keys.size() > 1 ? "s" : "") + ")";
  out += "\n";
  left->explain(out, depth + 1);
  right->explain(out, depth + 1);
}

// ------------------------------------------------------------ results

ResultSet make_result(const Relation& rel, const std::vector<ColumnInfo>& columns, const SymbolDictionary* symbols) {
  ResultSet rs;
  rs.rows = rel.n;
  std::vector<std::string> names;
  for (const auto& c : columns) names.push_back(c.name);
  deduplicate_names(names);
  for (size_t c = 0; c < columns.size(); ++c) {
    Vec v = flatten(rel.cols[c]);
    LType t = v.type == LType::kNull ? columns[c].type : v.type;
    DataType dt = result_type(t);
    ResultColumn col;
    if (v.type == LType::kSymbol) {
      col = symbol_result_column(names[c], v, rel.n, symbols);  // ids and the distinct names
    } else if (v.type == LType::kNull || v.n == 0 || dt == DataType::kInteger || dt == DataType::kVarchar ||
        (v.valid == nullptr && v.n > 0 && v.data == nullptr)) {
      ColumnBuilder b(names[c], dt, rel.n);
      for (size_t i = 0; i < rel.n; ++i) {
        if (!v.is_valid(i)) b.append_null();
        else if (dt == DataType::kVarchar) b.append_string(v.str(i));
        else if (dt == DataType::kDouble) b.append_double(v.f64(i));
        else if (dt == DataType::kBoolean) b.append_int(v.b8(i));
        else b.append_int(v.i64(i));
      }
      col = b.finish();
    } else {
      col.name = names[c];
      col.type = dt;
      col.length = rel.n;
      col.values = Buffer(v.keep, static_cast<const std::byte*>(v.data));
      if (v.valid && std::find(v.valid, v.valid + v.n, uint8_t{0}) != v.valid + v.n)
        col.validity = Buffer(v.keep_valid, reinterpret_cast<const std::byte*>(v.valid));
    }
    rs.columns.push_back(std::move(col));
  }
  return rs;
}

}  // namespace zepto::exec
