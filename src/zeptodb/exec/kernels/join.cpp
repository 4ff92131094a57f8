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

// key -> first build row of a chain of build rows with that key (ascending).
class KeyIndex {
 public:
  KeyIndex(std::span<const int64_t> keys, const uint8_t* valid) : next_(keys.size(), -1) {
    const size_t cap = internal::table_capacity(keys.size());
    mask_ = cap - 1;
    slot_keys_.resize(cap);
    slot_heads_.assign(cap, -1);
    for (size_t r = keys.size(); r-- > 0;) {  // reverse so chains come out ascending
      if (!is_valid(valid, r)) continue;
      size_t s = internal::hash64(static_cast<uint64_t>(keys[r])) & mask_;
      while (slot_heads_[s] >= 0 && slot_keys_[s] != keys[r]) s = (s + 1) & mask_;
      slot_keys_[s] = keys[r];
      next_[r] = slot_heads_[s];
      slot_heads_[s] = static_cast<int64_t>(r);
    }
  }

  // First build row with `key`, or -1.
  int64_t find(int64_t key) const {
    size_t s = internal::hash64(static_cast<uint64_t>(key)) & mask_;
    while (slot_heads_[s] >= 0) {
      if (slot_keys_[s] == key) return slot_heads_[s];
      s = (s + 1) & mask_;
    }
    return -1;
  }
  int64_t next(int64_t row) const { return next_[row]; }

 private:
  size_t mask_ = 0;
  std::vector<int64_t> slot_keys_;
  std::vector<int64_t> slot_heads_;
  std::vector<int64_t> next_;
};

}  // namespace

void asof_match(std::span<const int64_t> left_ts, std::span<const int64_t> right_ts, bool strict,
                std::span<int64_t> out) {
  size_t j = 0;  // number of right rows at or before (before, if strict) the current left row
  for (size_t i = 0; i < left_ts.size(); ++i) {
    const int64_t t = left_ts[i];
    if (strict) j = advance_while(right_ts, j, [t](int64_t r) { return r < t; });
    else j = advance_while(right_ts, j, [t](int64_t r) { return r <= t; });
    out[i] = static_cast<int64_t>(j) - 1;
  }
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
      int64_t r = is_valid(left_valid, i) ? index.find(left_keys[i]) : -1;
      if (r < 0) {
        if (left_join) {
          res.left.push_back(static_cast<int64_t>(i));
          res.right.push_back(-1);
        }
        continue;
      }
      for (; r >= 0; r = index.next(r)) {
        res.left.push_back(static_cast<int64_t>(i));
        res.right.push_back(r);
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
    if (!is_valid(right_valid, j)) continue;
    for (int64_t l = index.find(right_keys[j]); l >= 0; l = index.next(l)) {
      pl.push_back(l);
      pr.push_back(static_cast<int64_t>(j));
      ++start[l + 1];
    }
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
