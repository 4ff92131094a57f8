// Aggregate functions and the group table of hash aggregation.
//
// An Aggregator holds the running state of one aggregate call for every
// group. Operators feed it contiguous row ranges that belong to one group
// (a "run": with rows in storage order, GROUP BY symbol or xbar(timestamp)
// produce long runs, so most updates are tight loops over a span), merge
// the states that other threads built, and finalize to a Vec.
//
// first/last are ordered by an order key (the table's timestamp when the
// query reads a table, passed as the last argument) and then by row
// position, so they are deterministic with any thread count. NULL inputs
// are skipped by every aggregate except count(*).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "zeptodb/exec/vector.h"

namespace zepto::exec {

enum class AggKind : uint8_t {
  kCountStar, kCount, kCountDistinct, kSum, kAvg, kMin, kMax, kFirst, kLast, kVwap,
  kStddevSamp, kStddevPop, kVarSamp, kVarPop, kMedian, kPercentile,
};

struct AggSpec {
  AggKind kind = AggKind::kCountStar;
  LType arg_type = LType::kNull;     // type of the first argument
  LType arg2_type = LType::kNull;    // vwap: volume type
  LType result_type = LType::kBigint;
  double param = 0;                  // percentile fraction
  bool ordered = false;              // first/last: an order key is the last argument
};

// Result type of an aggregate over an argument of type `arg` (and `arg2`).
LType aggregate_result_type(AggKind kind, LType arg, LType arg2);

class Aggregator {
 public:
  virtual ~Aggregator() = default;
  virtual void resize(size_t groups) = 0;
  // Adds rows [begin, end) of `args` to group g. `seq` is the position of
  // row 0 of this chunk in the query's row order (for first/last).
  virtual void update(size_t g, const Vec* args, size_t begin, size_t end, int64_t seq) = 0;
  // Adds the rows i < n of `args` (nargs Vecs) with keep[i] != 0 to group g,
  // exactly as update(g, gathered, 0, kept, seq) would with those rows
  // gathered; the default gathers.
  virtual void update_kept(size_t g, const Vec* args, size_t nargs, const uint8_t* keep, size_t n, int64_t seq);
  // Folds group i of `other` (same kind) into group map[i] of this one.
  virtual void merge(Aggregator& other, const std::vector<uint32_t>& map) = 0;
  // The values of groups [0, groups) in group order.
  virtual Vec finalize(size_t groups) = 0;
};

std::unique_ptr<Aggregator> make_aggregator(const AggSpec& spec);

// Groups: key rows → dense ids, and the key values of each group.
class GroupTable {
 public:
  explicit GroupTable(std::vector<LType> key_types);
  // Id of the group of row i of `keys`, adding it if new; `seq` orders groups
  // by first appearance.
  uint32_t find_or_add(const std::vector<Vec>& keys, size_t i, int64_t seq);
  size_t size() const { return first_seq_.size(); }
  // Adds every group of `other`; returns its ids here, by `other`'s id.
  std::vector<uint32_t> absorb(GroupTable& other);
  // Key columns of the groups in id order.
  std::vector<Vec> keys();
  const std::vector<int64_t>& first_seq() const { return first_seq_; }

 private:
  // One integer key (GROUP BY symbol): open addressing over the values,
  // no key bytes or node per group; NULL is a group of its own.
  uint32_t find_or_add_int(const Vec& key, size_t i, int64_t seq);
  void grow_int_index();
  uint32_t add_group(const Vec* keys, size_t i, int64_t seq);  // one Vec per key column

  std::vector<LType> types_;
  bool int_key_ = false;
  std::vector<int64_t> int_keys_;  // slot -> key value
  std::vector<uint32_t> int_ids_;  // slot -> group id, or kNoGroup (empty)
  uint32_t null_id_;
  std::unordered_map<std::string, uint32_t> index_;  // other keys: key bytes -> group id
  std::vector<VecBuilder> builders_;
  std::vector<Vec> finished_;
  std::vector<int64_t> first_seq_;
  std::string scratch_;
};

}  // namespace zepto::exec
