#include "zeptodb/exec/kernels/join.h"

#include <algorithm>
#include <limits>

#include "zeptodb/exec/kernels/kernel_internal.h"

namespace zepto::exec {

namespace {

// Advances j to the first position in [j, m) where !pred(right[j]), given
// that pred holds on a prefix. Gallops (1, 2, 4, ... steps) and then
// bisects, so a long skip costs O(log skip) and a short one O(1).
template <class Pred>
size_t advance_while(std::span<const int64_t> right, size_t j, Pred pred) {
  const size_t m = right.size();
  if (j >= m || !pred(right[j])) return j;
  size_t lo = j;  // pred(right[lo]) holds
  size_t step = 1;
  size_t hi = j + 1;
  while (hi < m && pred(right[hi])) {
    lo = hi;
    step <<= 1;
    hi = lo + step;
  }
  hi = std::min(hi, m);
  // pred(right[lo]) holds; the answer is in (lo, hi].
  return static_cast<size_t>(std::partition_point(right.begin() + lo + 1, right.begin() + hi, pred) -
                             right.begin());
}

inline int64_t saturate(__int128 v) {
  if (v > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (v < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

// The build side of a hash join: key -> the build rows with that key, in
// ascending order. A slot holds the key and either the one row with it or,
// for duplicated keys, a range of rows_ (rows grouped by key), so a probe
// that finds a unique key touches one cache line.
class KeyIndex {
 public:
  KeyIndex(std::span<const int64_t> keys, const uint8_t* valid) {
    if (keys.size() >= std::numeric_limits<uint32_t>::max()) {
      throw_error(ErrorCode::kInvalidArgument, "hash_join: the smaller input has more than 2^32 - 1 rows");
    }
    const size_t cap = internal::table_capacity(keys.size());
    mask_ = cap - 1;
    slots_.assign(cap, Slot{0, 0, 0});
    // Pass 1: count rows per key (and remember the row of unique keys).
    for (size_t r = 0; r < keys.size(); ++r) {
      if (!is_valid(valid, r)) continue;
      Slot& s = slot_for(keys[r]);
      s.key = keys[r];
      if (s.count++ == 0) s.pos = static_cast<uint32_t>(r);
    }
    // Pass 2: give each duplicated key a range of rows_ (pos = the range's
    // end for now), then fill the ranges backwards so rows come out ascending
    // and pos ends at the range's start.
    size_t total = 0;
    for (Slot& s : slots_) {
      if (s.count > 1) {
        total += s.count;
        s.pos = static_cast<uint32_t>(total);
      }
    }
    if (total == 0) return;
    rows_.resize(total);
    for (size_t r = keys.size(); r-- > 0;) {
      if (!is_valid(valid, r)) continue;
      Slot& s = slot_for(keys[r]);
      if (s.count > 1) rows_[--s.pos] = static_cast<int64_t>(r);
    }
  }

  // Hints the cache that `key` will be looked up soon.
  void prefetch(int64_t key) const { __builtin_prefetch(&slots_[slot_of(key)]); }

  // Calls fn(row) for every build row with `key`, in ascending order.
  template <class Fn>
  void for_each_match(int64_t key, Fn&& fn) const {
    for (size_t s = slot_of(key); slots_[s].count != 0; s = (s + 1) & mask_) {
      if (slots_[s].key != key) continue;
      const Slot& hit = slots_[s];
      if (hit.count == 1) {
        fn(static_cast<int64_t>(hit.pos));
      } else {
        for (uint32_t k = 0; k < hit.count; ++k) fn(rows_[hit.pos + k]);
      }
      return;
    }
  }

 private:
  struct Slot {
    int64_t key;
    uint32_t pos;    // the row (count == 1) or the start of the key's rows in rows_
    uint32_t count;  // rows with this key; 0 = empty slot
  };
  size_t slot_of(int64_t key) const { return internal::hash64(static_cast<uint64_t>(key)) & mask_; }
  Slot& slot_for(int64_t key) {
    size_t s = slot_of(key);
    while (slots_[s].count != 0 && slots_[s].key != key) s = (s + 1) & mask_;
    return slots_[s];
  }

  size_t mask_ = 0;
  std::vector<Slot> slots_;
  std::vector<int64_t> rows_;
};

// How far ahead of the probe the table is prefetched.
constexpr size_t kPrefetchDistance = 16;

// Every left row has a match (r[0] comes at or before, before if strict,
// l[0]); out[i] = base + its index.
template <bool kStrict>
void asof_merge(const int64_t* l, size_t n, const int64_t* r, size_t m, int64_t* out, int64_t base) {
  const int64_t first = base - 1;
  auto step = [&](size_t& i, size_t& j) {
    const bool take = kStrict ? r[j] < l[i] : r[j] <= l[i];
    out[i] = first + static_cast<int64_t>(j) + take;
    j += take;
    i += !take;
  };
  // Two left rows against the next right row r[j]: the left rows before it
  // (at or before it, if strict) settle with match j - 1; r[j] is passed
  // once the second left row is not before it. Writes both rows' out[]
  // (a row not settled is written again later). Settles up to two left
  // rows or passes one right row per step: fewer steps when left rows are
  // the denser side.
  auto step2 = [&](size_t& i, size_t& j) {
    const int64_t next = r[j];
    const bool a = kStrict ? l[i] <= next : l[i] < next;
    const bool b = kStrict ? l[i + 1] <= next : l[i + 1] < next;
    const int64_t v = first + static_cast<int64_t>(j);
    out[i] = v;
    out[i + 1] = v;
    i += static_cast<size_t>(a) + b;
    j += !b;
  };
  constexpr size_t kParts = 4;
  size_t i[kParts], stop[kParts], j[kParts];
  const size_t parts = n >= 1024 ? kParts : 1;
  for (size_t k = 0; k < parts; ++k) {
    i[k] = n * k / parts;
    stop[k] = n * (k + 1) / parts;
    j[k] = 0;
    if (k > 0) {
      const int64_t t = l[i[k]];
      j[k] = static_cast<size_t>((kStrict ? std::lower_bound(r, r + m, t) : std::upper_bound(r, r + m, t)) - r);
    }
  }
  if (parts == kParts) {
    // Each step moves i or j by one, so kSteps steps stay in bounds when
    // every chain has that many rows left on both sides: the bounds are
    // checked once per kSteps steps.
    constexpr size_t kSteps = 16;
    if (n >= m) {
      for (;;) {  // step2 moves i by up to two
        bool room = true;
        for (size_t k = 0; k < kParts; ++k) room &= i[k] + 2 * kSteps <= stop[k] && j[k] + kSteps <= m;
        if (!room) break;
        for (size_t s = 0; s < kSteps; ++s)
          for (size_t k = 0; k < kParts; ++k) step2(i[k], j[k]);
      }
    }
    for (;;) {
      bool room = true;
      for (size_t k = 0; k < kParts; ++k) room &= i[k] + kSteps <= stop[k] && j[k] + kSteps <= m;
      if (!room) break;
      for (size_t s = 0; s < kSteps; ++s)
        for (size_t k = 0; k < kParts; ++k) step(i[k], j[k]);
    }
  }
  for (size_t k = 0; k < parts; ++k) {
    while (i[k] < stop[k] && j[k] < m) step(i[k], j[k]);
    for (; i[k] < stop[k]; ++i[k]) out[i[k]] = first + static_cast<int64_t>(j[k]);
  }
}

}  // namespace

void asof_match(std::span<const int64_t> left_ts, std::span<const int64_t> right_ts, bool strict,
                std::span<int64_t> out, int64_t base) {
  // The left rows without a match: those before the first right row.
  const size_t none =
      right_ts.empty() ? left_ts.size()
      : strict ? static_cast<size_t>(std::upper_bound(left_ts.begin(), left_ts.end(), right_ts[0]) - left_ts.begin())
               : static_cast<size_t>(std::lower_bound(left_ts.begin(), left_ts.end(), right_ts[0]) - left_ts.begin());
  std::fill(out.begin(), out.begin() + static_cast<long>(none), int64_t{-1});
  left_ts = left_ts.subspan(none);
  out = out.subspan(none);
  const size_t n = left_ts.size(), m = right_ts.size();
  if (n == 0) return;
  if (m > 4 * n) {
    // Right rows far denser than left ones: skip them by galloping.
    size_t j = 0;  // number of right rows at or before (before, if strict) the current left row
    for (size_t i = 0; i < n; ++i) {
      const int64_t t = left_ts[i];
      if (strict) j = advance_while(right_ts, j, [t](int64_t r) { return r < t; });
      else j = advance_while(right_ts, j, [t](int64_t r) { return r <= t; });
      out[i] = base + static_cast<int64_t>(j) - 1;
    }
    return;
  }
  // A branch-free merge: each step takes the next right row if it comes at
  // or before (before, if strict) the current left row, else settles that
  // left row, whose out[] was written on every step it stayed current. The
  // left rows are split into parts merged side by side (each starts at its
  // first row's match, found by binary search), so independent chains of
  // loads and compares overlap.
  if (strict) asof_merge<true>(left_ts.data(), n, right_ts.data(), m, out.data(), base);
  else asof_merge<false>(left_ts.data(), n, right_ts.data(), m, out.data(), base);
}

void window_join_ranges(std::span<const int64_t> left_ts, std::span<const int64_t> right_ts, int64_t lo,
                        int64_t hi, std::span<int64_t> begin, std::span<int64_t> end) {
  size_t b = 0, e = 0;
  for (size_t i = 0; i < left_ts.size(); ++i) {
    const int64_t from = lo == kUnbounded ? std::numeric_limits<int64_t>::min()
                                          : saturate(static_cast<__int128>(left_ts[i]) - lo);
    const int64_t to = hi == kUnbounded ? std::numeric_limits<int64_t>::max()
                                        : saturate(static_cast<__int128>(left_ts[i]) + hi);
    b = advance_while(right_ts, b, [from](int64_t r) { return r < from; });
    e = advance_while(right_ts, e, [to](int64_t r) { return r <= to; });
    begin[i] = static_cast<int64_t>(b);
    end[i] = static_cast<int64_t>(std::max(b, e));
  }
}

JoinPairs hash_join(std::span<const int64_t> left_keys, const uint8_t* left_valid,
                    std::span<const int64_t> right_keys, const uint8_t* right_valid, JoinKind kind) {
  JoinPairs res;
  const bool left_join = kind == JoinKind::kLeft;
  const size_t n = left_keys.size();

  if (right_keys.size() <= n) {
    // Build on the right, probe left rows in order: pairs come out sorted.
    KeyIndex index(right_keys, right_valid);
    res.left.reserve(n);
    res.right.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (i + kPrefetchDistance < n) index.prefetch(left_keys[i + kPrefetchDistance]);
      bool matched = false;
      if (is_valid(left_valid, i)) {
        index.for_each_match(left_keys[i], [&](int64_t r) {
          res.left.push_back(static_cast<int64_t>(i));
          res.right.push_back(r);
          matched = true;
        });
      }
      if (!matched && left_join) {
        res.left.push_back(static_cast<int64_t>(i));
        res.right.push_back(-1);
      }
    }
    return res;
  }

  // Build on the (smaller) left, probe right rows in order, then order the
  // pairs by left row with a counting sort (stable, so right rows stay
  // ascending within each left row).
  KeyIndex index(left_keys, left_valid);
  std::vector<int64_t> pl, pr;
  std::vector<int64_t> start(n + 1, 0);
  for (size_t j = 0; j < right_keys.size(); ++j) {
    if (j + kPrefetchDistance < right_keys.size()) index.prefetch(right_keys[j + kPrefetchDistance]);
    if (!is_valid(right_valid, j)) continue;
    index.for_each_match(right_keys[j], [&](int64_t l) {
      pl.push_back(l);
      pr.push_back(static_cast<int64_t>(j));
      ++start[l + 1];
    });
  }
  if (left_join) {
    for (size_t i = 0; i < n; ++i) start[i + 1] = std::max<int64_t>(start[i + 1], 1);
  }
  for (size_t i = 0; i < n; ++i) start[i + 1] += start[i];
  res.left.resize(start[n]);
  res.right.resize(start[n]);
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  for (size_t k = 0; k < pl.size(); ++k) {
    const int64_t pos = fill[pl[k]]++;
    res.left[pos] = pl[k];
    res.right[pos] = pr[k];
  }
  if (left_join) {
    for (size_t i = 0; i < n; ++i) {
      if (fill[i] == start[i]) {  // no match
        res.left[start[i]] = static_cast<int64_t>(i);
        res.right[start[i]] = -1;
      }
    }
  }
  return res;
}

}  // namespace zepto::exec
