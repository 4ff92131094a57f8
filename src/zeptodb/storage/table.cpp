#include "zeptodb/storage/table.h"

#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstring>
#include <exception>
#include <numeric>
#include <system_error>
#include <thread>

#include "zeptodb/common/error.h"
#include "zeptodb/common/two_threads.h"
#include "zeptodb/storage/scatter.h"
#include "zeptodb/storage/symbol_dict.h"

namespace zepto {

namespace {

// Writer-side direct index for the common keys: small integer ids, and the
// first ids the symbol dictionary gives to names.
constexpr int64_t kDenseRange = 1 << 16;
constexpr int64_t kNameBase = SymbolDictionary::kNameIdBase;

int64_t dense_slot(int64_t key) {
  if (key >= 0 && key < kDenseRange) return key;
  if (key >= kNameBase && key < kNameBase + kDenseRange) return kDenseRange + (key - kNameBase);
  return -1;
}

// Batches up to this many rows keep their row -> partition map in a reused
// buffer; larger ones use scratch memory of their own.
constexpr size_t kSmallBatch = size_t{1} << 16;
// Batches from this many rows up are split across two threads.
constexpr size_t kParallelRows = size_t{1} << 20;
// A range with at most this many partitions and at least kSmallBatch rows
// is written with whole-line non-temporal stores (scatter.h).
constexpr size_t kStreamingSlots = 4096;
// A big range whose keys all lie in [base, base + kDirectIds) for base 0 or
// the first name id uses key - base as its slot number, a 16-bit one.
constexpr size_t kDirectIds = 4096;

bool exclusively_owned(const std::vector<BlockPtr>& cols) {
  for (const auto& b : cols)
    if (b && !sole_owner(b)) return false;
  return true;
}

}  // namespace

Table::Table(std::string name, Schema schema, std::shared_ptr<MemoryTracker> tracker,
             size_t initial_rows)
    : name_(std::move(name)),
      schema_(std::move(schema)),
      tracker_(std::move(tracker)),
      initial_rows_(std::max<size_t>(initial_rows, 16)) {}

Table::~Table() {
  for (auto& chunk : dense_) delete[] chunk.load(std::memory_order_relaxed);
}

Partition* Table::dense_partition(int64_t d) const {
  const auto* chunk = dense_[static_cast<size_t>(d) / kDenseChunk].load(std::memory_order_acquire);
  return chunk ? chunk[static_cast<size_t>(d) % kDenseChunk].load(std::memory_order_acquire) : nullptr;
}

void Table::set_loader(std::function<void(Table&)> loader) {
  std::lock_guard lock(load_mu_);
  loader_ = std::move(loader);
  loaded_.store(false, std::memory_order_release);
}

void Table::load() const {
  std::lock_guard lock(load_mu_);
  if (loaded_.load(std::memory_order_acquire) || loading_) return;
  if (!load_error_.empty()) throw_error(ErrorCode::kIOError, load_error_);
  loading_ = true;
  try {
    loader_(const_cast<Table&>(*this));
  } catch (const std::exception& e) {
    loading_ = false;
    load_error_ = "table '" + name_ + "' could not be loaded: " + e.what();
    throw_error(ErrorCode::kIOError, load_error_);
  }
  loading_ = false;
  loaded_.store(true, std::memory_order_release);
}

const Partition* Table::find_partition(int64_t key) const {
  ensure_loaded();
  // Every partition with a dense key is in dense_: no lock, no map.
  if (const int64_t d = dense_slot(key); d >= 0) return dense_partition(d);
  std::shared_lock lock(parts_mu_);
  auto it = parts_.find(key);
  return it == parts_.end() ? nullptr : it->second.get();
}

std::vector<const Partition*> Table::partitions() const {
  ensure_loaded();
  std::shared_lock lock(parts_mu_);
  return {order_.begin(), order_.end()};
}

size_t Table::row_count() const {
  ensure_loaded();
  std::shared_lock lock(parts_mu_);
  size_t n = 0;
  for (const Partition* p : order_) n += p->rows();
  return n;
}

Partition* Table::get_or_create(int64_t key) {
  const int64_t d = dense_slot(key);
  if (d >= 0) {
    if (Partition* p = dense_partition(d)) return p;
  } else {
    std::shared_lock lock(parts_mu_);
    auto it = parts_.find(key);
    if (it != parts_.end()) return it->second.get();
  }
  auto part = std::make_unique<Partition>(key, schema_.size());
  Partition* raw = part.get();
  std::atomic<Partition*>* chunk = nullptr;
  if (d >= 0) {
    auto& slot = dense_[static_cast<size_t>(d) / kDenseChunk];
    chunk = slot.load(std::memory_order_relaxed);  // only the writer stores
    if (chunk == nullptr) {
      chunk = new std::atomic<Partition*>[kDenseChunk]();
      slot.store(chunk, std::memory_order_release);
    }
  }
  std::unique_lock lock(parts_mu_);
  order_.reserve(order_.size() + 1);
  parts_.emplace(key, std::move(part));
  order_.push_back(raw);
  if (chunk) chunk[static_cast<size_t>(d) % kDenseChunk].store(raw, std::memory_order_release);
  return raw;
}

uint32_t Table::slot_for(int64_t key, uint64_t epoch) {
  Partition* p = get_or_create(key);
  if (p->batch_epoch_ != epoch) {
    p->batch_epoch_ = epoch;
    p->batch_slot_ = static_cast<uint32_t>(slots_.size());
    slots_.push_back(Slot{p});
  }
  return p->batch_slot_;
}

// Grows every block of `p` to `needed_rows` (or an eighth more than now) by
// remapping, when no reader holds any of them and each has its own mapping.
// The contents stay where readers will look for them; nothing is copied, so
// growing often is cheap and little memory is held in reserve.
bool Table::grow_in_place(Partition* p, size_t needed_rows) {
  const size_t cap = std::max(needed_rows, p->capacity_ + p->capacity_ / 8);
  std::lock_guard lock(p->mu_);
  for (size_t c = 0; c < schema_.size(); ++c)
    for (const BlockPtr* b : {&p->cols_[c], &p->valid_[c]})
      if (*b && (!(*b)->growable_in_place() || !sole_owner(*b))) return false;
  try {
    for (size_t c = 0; c < schema_.size(); ++c) {
      if (!p->cols_[c]->grow_in_place(cap * type_width(schema_.column(c).type))) {
        refresh_data(p);  // earlier columns may have moved
        return false;
      }
      if (p->valid_[c] && !p->valid_[c]->grow_in_place(cap)) {
        refresh_data(p);
        return false;
      }
    }
  } catch (...) {  // a file block's disk is full: the capacity stays as it was
    refresh_data(p);
    throw;
  }
  refresh_data(p);
  p->capacity_ = cap;
  return true;
}

BlockPtr Table::new_block(const Partition* p, size_t column, bool validity, size_t bytes) {
  return source_ ? source_->allocate(p->key(), column, validity, bytes) : Block::allocate(bytes, tracker_);
}

void Table::refresh_data(Partition* p) {
  p->data_.resize(p->cols_.size());
  for (size_t c = 0; c < p->cols_.size(); ++c) p->data_[c] = p->cols_[c] ? p->cols_[c]->data() : nullptr;
}

// Phase A of append(): room for every slot's new rows, and validity columns
// (all rows valid so far) for the columns flagged in `add_validity`. Blocks
// that cannot grow in place move to new blocks holding a copy of the
// published rows, swapped in under the partition lock; the visible content
// never changes, so a failure here leaves nothing half-written.
void Table::reserve(const std::vector<uint8_t>& add_validity, size_t batch_rows, bool hinted) {
  const size_t ncol = schema_.size();
  struct Move {
    Partition* p;
    size_t cap;
  };
  std::vector<Move> moves;
  hinted = hinted && expected_ > batch_rows && batch_rows > 0;
  for (const Slot& sl : slots_) {
    Partition* p = sl.p;
    const size_t needed = p->rows_ + sl.count;
    if (needed <= p->capacity_) continue;
    // With expect_rows(): room for this partition's share of the rows to come,
    // estimated from its share of this batch, plus four standard deviations
    // of that estimate (running out near the end would move the partition).
    size_t want = needed;
    if (hinted) {
      const double count = static_cast<double>(sl.count);
      const double share = count / static_cast<double>(batch_rows) * static_cast<double>(expected_);
      want = std::max(needed, p->rows_ + static_cast<size_t>(share * (1.0 + 4.0 / std::sqrt(count + 1.0))));
    }
    if (p->capacity_ > 0 && grow_in_place(p, want)) continue;
    moves.push_back({p, std::max({want, p->capacity_ + p->capacity_ / 2, initial_rows_})});
  }
  if (!moves.empty()) {
    // The first blocks of new partitions in one request (a big batch gets
    // one mapping for all, with huge pages); blocks of partitions that grow
    // get mappings of their own, so that next time they can grow in place.
    std::stable_partition(moves.begin(), moves.end(), [](const Move& m) { return m.p->capacity_ == 0; });
    std::vector<size_t> sizes;
    size_t shared = 0;
    for (const Move& m : moves)
      for (size_t c = 0; c < ncol; ++c) {
        sizes.push_back(m.cap * type_width(schema_.column(c).type));
        if (m.p->valid_[c]) sizes.push_back(m.cap);
        if (m.p->capacity_ == 0) shared = sizes.size();
      }
    std::vector<BlockPtr> blocks;
    if (source_) {
      for (const Move& m : moves)
        for (size_t c = 0; c < ncol; ++c) {
          blocks.push_back(new_block(m.p, c, false, m.cap * type_width(schema_.column(c).type)));
          if (m.p->valid_[c]) blocks.push_back(new_block(m.p, c, true, m.cap));
        }
    } else {
      blocks = Block::allocate_many(std::vector<size_t>(sizes.begin(), sizes.begin() + shared), tracker_);
      for (size_t i = shared; i < sizes.size(); ++i) blocks.push_back(Block::allocate(sizes[i], tracker_));
    }
    size_t next = 0;
    for (const Move& m : moves) {
      Partition* p = m.p;
      std::vector<BlockPtr> cols(ncol), valid(ncol);
      for (size_t c = 0; c < ncol; ++c) {
        const size_t w = type_width(schema_.column(c).type);
        cols[c] = std::move(blocks[next++]);
        if (p->rows_ > 0) std::memcpy(cols[c]->data(), p->cols_[c]->data(), p->rows_ * w);
        if (p->valid_[c]) {
          valid[c] = std::move(blocks[next++]);
          std::memcpy(valid[c]->data(), p->valid_[c]->data(), p->rows_);
        }
      }
      {
        std::lock_guard lock(p->mu_);
        p->cols_.swap(cols);
        p->valid_.swap(valid);
      }
      refresh_data(p);
      p->capacity_ = m.cap;
    }
  }
  for (size_t c = 0; c < ncol; ++c) {
    if (!add_validity[c]) continue;
    for (const Slot& sl : slots_) {
      Partition* p = sl.p;
      if (p->valid_[c]) continue;
      BlockPtr b = new_block(p, c, true, p->capacity_);
      std::memset(b->data(), 1, p->rows_);
      any_validity_ = true;
      std::lock_guard lock(p->mu_);
      p->valid_[c] = std::move(b);
    }
  }
}

// Phase B of append(): writes each slot's rows past its partition's published
// count, in arrival order: each range's rows of a slot after those of the
// ranges before it.
void Table::scatter_rows(const void* const* columns, const uint8_t* const* validity,
                         const std::vector<uint8_t>& add_validity, const std::byte* slot_of,
                         size_t nranges) {
  const size_t ncol = schema_.size();
  ts_ordered_ = false;
  if (slots_.size() == 1) {
    Partition* p = slots_[0].p;
    const size_t n = slots_[0].count;
    for (size_t c = 0; c < ncol; ++c) {
      const size_t w = type_width(schema_.column(c).type);
      std::memcpy(p->data_[c] + p->rows_ * w, columns[c], n * w);
      if (add_validity[c])
        std::memcpy(p->valid_[c]->data() + p->rows_, validity[c], n);
      else if (p->valid_[c])
        std::memset(p->valid_[c]->data() + p->rows_, 1, n);
    }
    return;
  }
  // Physical columns to scatter, grouped by width, at most four per pass.
  // The partition key is the same in every row of a partition: for big
  // batches finish_slots() fills it in with whole-line stores instead.
  const bool big = ranges_[0].end - ranges_[0].begin >= kSmallBatch;
  struct Job {
    const std::byte* src;
    size_t col;
    bool validity;
  };
  std::vector<Job> by_width[3];  // 8, 4 and 1 bytes
  for (size_t c = 0; c < ncol; ++c) {
    const size_t w = type_width(schema_.column(c).type);
    if (!big || static_cast<int>(c) != schema_.symbol_index())
      by_width[w == 8 ? 0 : w == 4 ? 1 : 2].push_back({static_cast<const std::byte*>(columns[c]), c, false});
    if (add_validity[c]) by_width[2].push_back({reinterpret_cast<const std::byte*>(validity[c]), c, true});
  }
  // The timestamp first among the 8-byte columns: the scatter tracks its
  // order on the way (Range::stream), so no pass over it is needed after.
  const int ts_idx = schema_.timestamp_index();
  auto& wide = by_width[0];
  std::stable_partition(wide.begin(), wide.end(),
                        [&](const Job& j) { return !j.validity && static_cast<int>(j.col) == ts_idx; });
  ts_ordered_ = !wide.empty() && static_cast<int>(wide[0].col) == ts_idx;
  run_two(nranges == 2, [&](size_t h) {
    Range& r = ranges_[h];
    const size_t nl = r.keys.size(), n = r.end - r.begin;
    for (size_t g = 0; g < 3; ++g) {
      const size_t w = g == 0 ? 8 : g == 1 ? 4 : 1;
      const std::vector<Job>& jobs = by_width[g];
      for (size_t first = 0; first < jobs.size(); first += 4) {
        const size_t k = std::min<size_t>(4, jobs.size() - first);
        const std::byte* src[4];
        r.dst.resize(nl * k);
        for (size_t j = 0; j < k; ++j) src[j] = jobs[first + j].src + r.begin * w;
        for (size_t l = 0; l < nl; ++l) {
          if (r.counts[l] == 0) continue;  // an unused number of a direct range
          Partition* p = slots_[r.global[l]].p;
          const size_t row = p->rows_ + r.offset[l];
          for (size_t j = 0; j < k; ++j) {
            const Job& job = jobs[first + j];
            std::byte* base = job.validity ? p->valid_[job.col]->data() : p->data_[job.col];
            r.dst[l * k + j] = base + row * w;
            // Small batches write a few rows to each of many partitions: ask
            // for the lines now, so their misses overlap instead of queueing.
            if (!big) __builtin_prefetch(r.dst[l * k + j], 1);
          }
        }
        r.cursor.assign(nl, 0);
        const std::byte* slots = slot_of + r.begin * sizeof(uint32_t);  // the range's part
        const bool with_ts = w == 8 && first == 0 && ts_ordered_;
        if (w == 8 && big && nl <= kStreamingSlots && scatter_streaming(r, k, with_ts, src, n, slots))
          continue;
        if (with_ts) r.stream.assign(nl, scatter::StreamSlot{});
        auto run = [&](auto* numbers) {
          size_t* cur = r.cursor.data();
          if (w == 8) scatter::scatter_k<uint64_t>(k, src, n, numbers, r.dst.data(), cur, with_ts, r.stream.data());
          else if (w == 4) scatter::scatter_k<uint32_t>(k, src, n, numbers, r.dst.data(), cur);
          else scatter::scatter_k<uint8_t>(k, src, n, numbers, r.dst.data(), cur);
        };
        if (r.direct) run(reinterpret_cast<const uint16_t*>(slots));
        else run(reinterpret_cast<const uint32_t*>(slots));
        if (with_ts)  // first timestamp of each local slot, for finish_slots()
          for (size_t l = 0; l < nl; ++l)
            if (r.counts[l] > 0) std::memcpy(&r.stream[l].first, r.dst[l * k], 8);
      }
    }
  });
}

// One group of 8-byte columns of a big range with whole-line non-temporal
// stores (scatter::scatter_streaming), r.dst and r.cursor prepared. False
// (nothing written) if the streaming loop cannot be used.
bool Table::scatter_streaming(Range& r, size_t k, bool with_ts, const std::byte* const* src, size_t n,
                              const std::byte* slots) {
  if (!scatter::streaming_available()) return false;
  const size_t nl = r.keys.size();
  r.stream.assign(nl, scatter::StreamSlot{});
  for (size_t l = 0; l < nl; ++l) {
    if (r.counts[l] == 0) continue;
    const auto phase = reinterpret_cast<uintptr_t>(r.dst[l * k]) % scatter::kLine;
    for (size_t j = 1; j < k; ++j)
      if (reinterpret_cast<uintptr_t>(r.dst[l * k + j]) % scatter::kLine != phase) return false;
    if (phase % 8 != 0) return false;
    r.stream[l].head = (scatter::kLine - phase) % scatter::kLine / 8;
  }
  const size_t bytes = nl * k * scatter::kLine;
  if (!r.lines || r.lines->capacity() < bytes) r.lines = Block::allocate(bytes, nullptr);
  std::byte* lines = r.lines->data();
  size_t* cur = r.cursor.data();
  std::byte* const* dst = r.dst.data();
  scatter::StreamSlot* st = r.stream.data();
  auto run = [&](auto* numbers) {
    switch (k * 2 + with_ts) {
      case 2: return scatter::scatter_streaming<1, false>(src, n, numbers, dst, cur, lines, st, nl);
      case 3: return scatter::scatter_streaming<1, true>(src, n, numbers, dst, cur, lines, st, nl);
      case 4: return scatter::scatter_streaming<2, false>(src, n, numbers, dst, cur, lines, st, nl);
      case 5: return scatter::scatter_streaming<2, true>(src, n, numbers, dst, cur, lines, st, nl);
      case 6: return scatter::scatter_streaming<3, false>(src, n, numbers, dst, cur, lines, st, nl);
      case 7: return scatter::scatter_streaming<3, true>(src, n, numbers, dst, cur, lines, st, nl);
      case 8: return scatter::scatter_streaming<4, false>(src, n, numbers, dst, cur, lines, st, nl);
      default: return scatter::scatter_streaming<4, true>(src, n, numbers, dst, cur, lines, st, nl);
    }
  };
  if (r.direct) run(reinterpret_cast<const uint16_t*>(slots));
  else run(reinterpret_cast<const uint32_t*>(slots));
  if (with_ts)  // first timestamp of each local slot, for finish_slots()
    for (size_t l = 0; l < nl; ++l)
      if (r.counts[l] > 0) std::memcpy(&r.stream[l].first, r.dst[l * k], 8);
  return true;
}

// After the scatter, per slot: the key column, validity of columns without
// NULLs in this batch, and whether the new rows are in timestamp order (with
// their smallest and largest timestamp). Slots are split across the ranges.
void Table::finish_slots(const std::vector<uint8_t>& add_validity, size_t nranges, size_t threads) {
  const int sym_idx = schema_.symbol_index();
  const int ts_idx = schema_.timestamp_index();
  const size_t ns = slots_.size();
  const bool big = ns > 1 && ranges_[0].end - ranges_[0].begin >= kSmallBatch;
  if (ts_ordered_) {
    // The streaming scatter tracked each range's order: combine the ranges,
    // in order, into each slot (min_ts/max_ts hold first/last until then).
    for (Slot& sl : slots_) sl.count = 0;  // rows combined so far
    for (size_t h = 0; h < nranges; ++h) {
      const Range& r = ranges_[h];
      for (size_t l = 0; l < r.keys.size(); ++l) {
        if (r.counts[l] == 0) continue;
        Slot& sl = slots_[r.global[l]];
        const scatter::StreamSlot& st = r.stream[l];
        if (sl.count == 0) sl.min_ts = st.first;
        else sl.sorted &= sl.max_ts <= st.first;
        sl.sorted &= st.sorted;
        sl.max_ts = st.last;
        sl.count += r.counts[l];
      }
    }
  }
  run_two(threads == 2, [&](size_t h) {
    for (size_t s = ns * h / threads; s < ns * (h + 1) / threads; ++s) {
      Slot& sl = slots_[s];
      Partition* p = sl.p;
      if (sym_idx >= 0 && big) {  // small batches scattered the key column
        int64_t* out = reinterpret_cast<int64_t*>(p->data_[static_cast<size_t>(sym_idx)]) + p->rows_;
        scatter::fill_streaming(out, sl.count, p->key());
      }
      if (any_validity_ && ns > 1)
        for (size_t c = 0; c < schema_.size(); ++c)
          if (!add_validity[c] && p->valid_[c]) std::memset(p->valid_[c]->data() + p->rows_, 1, sl.count);
      if (ts_idx < 0 || (ts_ordered_ && sl.sorted)) continue;
      const int64_t* t = reinterpret_cast<const int64_t*>(p->data_[static_cast<size_t>(ts_idx)]) + p->rows_;
      bool sorted = true;
      for (size_t i = 1; i < sl.count; ++i) sorted &= t[i - 1] <= t[i];
      sl.sorted = sorted;
      if (sorted) {
        sl.min_ts = t[0];
        sl.max_ts = t[sl.count - 1];
      } else {
        auto [lo, hi] = std::minmax_element(t, t + sl.count);
        sl.min_ts = *lo;
        sl.max_ts = *hi;
      }
    }
  });
}

// Rows [old_rows, new_rows) were written past the published count and are not
// in timestamp order relative to the rest. Sorts [k, new_rows), where k is the
// first published row later than the smallest new timestamp, and publishes.
// Works in place when no reader holds the blocks, else copies on write.
void Table::merge_tail(Partition* p, size_t old_rows, size_t new_rows, int64_t min_new_ts) {
  const size_t ts_col = static_cast<size_t>(schema_.timestamp_index());
  const int64_t* ts = reinterpret_cast<const int64_t*>(p->cols_[ts_col]->data());
  size_t k = static_cast<size_t>(std::upper_bound(ts, ts + old_rows, min_new_ts) - ts);
  size_t len = new_rows - k;
  p->unchanged_ = std::min(p->unchanged_, k);
  std::vector<uint32_t> perm(len);
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(),
                   [&](uint32_t a, uint32_t b) { return ts[k + a] < ts[k + b]; });

  // Physical columns: the data columns, then the validity columns that exist.
  std::vector<std::pair<std::vector<BlockPtr>*, size_t>> phys;  // (vector, index)
  for (size_t c = 0; c < schema_.size(); ++c) phys.emplace_back(&p->cols_, c);
  for (size_t c = 0; c < schema_.size(); ++c)
    if (p->valid_[c]) phys.emplace_back(&p->valid_, c);

  std::vector<std::byte> tmp;
  std::lock_guard lock(p->mu_);
  // In place unless a reader holds the blocks, or rows from k on are part of
  // a committed checkpoint's files (frozen).
  bool in_place = exclusively_owned(p->cols_) && exclusively_owned(p->valid_);
  for (size_t c = 0; c < schema_.size() && in_place; ++c)
    in_place = p->cols_[c]->frozen() <= k * type_width(schema_.column(c).type) &&
               (!p->valid_[c] || p->valid_[c]->frozen() <= k);
  std::vector<BlockPtr> cols = p->cols_, valid = p->valid_;
  for (auto [vec, c] : phys) {
    const bool is_data = vec == &p->cols_;
    const size_t w = is_data ? type_width(schema_.column(c).type) : 1;
    BlockPtr& target = is_data ? cols[c] : valid[c];
    const std::byte* src = (*vec)[c]->data();
    if (in_place) {
      tmp.assign(src + k * w, src + new_rows * w);
      src = tmp.data() - k * w;
    } else {
      // A reader holds these blocks: build the merged column in a new block.
      // Other partitions of this batch may already be published, so this
      // allocation must not fail on the memory limit (it may pass it until
      // the reader lets the old blocks go).
      MemoryTracker::Unchecked unchecked;
      target = new_block(p, c, !is_data, p->capacity_ * w);
      std::memcpy(target->data(), (*vec)[c]->data(), k * w);
    }
    std::byte* dst = target->data();
    for (size_t j = 0; j < len; ++j) std::memcpy(dst + (k + j) * w, src + (k + perm[j]) * w, w);
  }
  p->cols_.swap(cols);
  p->valid_.swap(valid);
  refresh_data(p);
  p->rows_ = new_rows;
  p->rows_pub_.store(new_rows, std::memory_order_release);
}

// Pass 1 over a big range whose keys are all close to 0 or to the first
// name id: slot number = key - base (kDirectIds of them, some unused), one
// compare per row and no lookup. False if a key lies outside.
bool Table::classify_direct(Range& r, const int64_t* sym, uint16_t* slot_of) {
  const int64_t base = sym[r.begin] >= kNameBase ? kNameBase : 0;
  r.counts.assign(kDirectIds, 0);
  size_t* counts = r.counts.data();
  for (size_t i = r.begin; i < r.end; ++i) {
    const uint64_t id = static_cast<uint64_t>(sym[i]) - static_cast<uint64_t>(base);
    if (id >= kDirectIds) return false;
    slot_of[i - r.begin] = static_cast<uint16_t>(id);
    ++counts[id];
  }
  size_t used = kDirectIds;
  while (used > 0 && counts[used - 1] == 0) --used;
  r.counts.resize(used);
  r.keys.resize(used);
  for (size_t id = 0; id < used; ++id) r.keys[id] = base + static_cast<int64_t>(id);
  return true;
}

// Pass 1 over r's rows: the slot number of each row in slot_of (16-bit when
// classify_direct() applies, else 32-bit), r.keys and r.counts per number.
void Table::classify(Range& r, const int64_t* sym, std::byte* slot_of) {
  r.direct = r.end - r.begin >= kSmallBatch &&
             classify_direct(r, sym, reinterpret_cast<uint16_t*>(slot_of));
  if (!r.direct) classify_mapped(r, sym, reinterpret_cast<uint32_t*>(slot_of) - r.begin);
}

// Pass 1 for any keys: a slot number per distinct key (in order of first
// appearance) through a map; slot_of is indexed by row (from r.begin).
void Table::classify_mapped(Range& r, const int64_t* sym, uint32_t* slot_of) {
  r.keys.clear();
  r.counts.clear();
  r.sparse.clear();
  uint32_t* map = r.dense.data();
  size_t map_size = r.dense.size();
  size_t* counts = nullptr;
  auto add = [&](int64_t key, int64_t d) -> uint32_t {  // a key not in `map`
    const auto l = static_cast<uint32_t>(r.keys.size());
    if (d >= 0) {
      if (static_cast<size_t>(d) >= r.dense.size()) r.dense.resize(static_cast<size_t>(d) + 1, 0);
      map = r.dense.data();
      map_size = r.dense.size();
      map[d] = l + 1;
    } else {
      auto [it, added] = r.sparse.try_emplace(key, l);
      if (!added) return it->second;
    }
    r.keys.push_back(key);
    r.counts.push_back(0);
    counts = r.counts.data();
    return l;
  };
  try {
    int64_t last = sym[r.begin];
    uint32_t s = add(last, dense_slot(last));
    for (size_t i = r.begin; i < r.end; ++i) {
      const int64_t key = sym[i];
      if (key != last) {
        const int64_t d = dense_slot(key);
        s = d >= 0 && static_cast<size_t>(d) < map_size && map[d] != 0 ? map[d] - 1 : add(key, d);
        last = key;
      }
      slot_of[i] = s;
      ++counts[s];
    }
  } catch (...) {
    for (int64_t key : r.keys)
      if (const int64_t d = dense_slot(key); d >= 0 && static_cast<size_t>(d) < r.dense.size()) r.dense[d] = 0;
    throw;
  }
  for (int64_t key : r.keys)  // leave the map empty for the next batch
    if (const int64_t d = dense_slot(key); d >= 0) r.dense[d] = 0;
}

size_t Table::append(const void* const* columns, const uint8_t* const* validity, size_t n,
                     SymbolDictionary* ids, const std::function<void()>& before_publish) {
  if (n == 0) return 0;
  ensure_loaded();
  std::lock_guard write_lock(write_mu_);
  const uint64_t epoch = ++epoch_;
  const int sym_idx = schema_.symbol_index();
  const int64_t* sym = sym_idx >= 0 ? static_cast<const int64_t*>(columns[sym_idx]) : nullptr;
  std::vector<uint8_t> add_validity(schema_.size(), 0);
  for (size_t c = 0; c < schema_.size(); ++c) add_validity[c] = validity && validity[c];

  // Pass 1: the partitions this batch touches (slots_), and rows per slot.
  // A big batch is split into two ranges that are classified, and later
  // scattered, each on its own thread.
  slots_.clear();
  const size_t nranges = sym && n >= kParallelRows ? 2 : 1;
  std::byte* slot_of = nullptr;  // range h's slot numbers start at slot_of + 4 * ranges_[h].begin
  BlockPtr scratch;
  if (sym) {
    if (n <= kSmallBatch) {
      if (slot_buf_.size() < n) slot_buf_.resize(kSmallBatch);
      slot_of = reinterpret_cast<std::byte*>(slot_buf_.data());
    } else {
      scratch = Block::allocate(n * sizeof(uint32_t), nullptr);
      slot_of = scratch->data();
    }
    for (size_t h = 0; h < nranges; ++h) {
      ranges_[h].begin = n * h / nranges;
      ranges_[h].end = n * (h + 1) / nranges;
    }
    run_two(nranges == 2, [&](size_t h) {
      classify(ranges_[h], sym, slot_of + ranges_[h].begin * sizeof(uint32_t));
    });
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t h = 0; h < nranges; ++h) {
      Range& r = ranges_[h];
      r.global.resize(r.keys.size());
      r.offset.resize(r.keys.size());
      for (size_t l = 0; l < r.keys.size(); ++l) {
        if (r.counts[l] == 0) continue;  // an unused number of a direct range
        const uint32_t g = slot_for(r.keys[l], epoch);
        r.global[l] = g;
        r.offset[l] = slots_[g].count;
        slots_[g].count += r.counts[l];
        lo = std::min(lo, r.keys[l]);
        hi = std::max(hi, r.keys[l]);
      }
    }
    if (ids) ids->note_ids(lo, hi);  // before any row is visible
  } else {
    slots_[slot_for(0, epoch)].count = n;
  }

  // Phase A: room everywhere. May throw; nothing is visible yet.
  try {
    reserve(add_validity, n, true);
  } catch (const Error&) {
    if (expected_ <= n) throw;
    reserve(add_validity, n, false);  // the hinted room could not be had: only what is needed
  }
  // Phase B: the new rows, past each partition's published count.
  scatter_rows(columns, validity, add_validity, slot_of, nranges);
  finish_slots(add_validity, nranges, slots_.size() > 64 ? nranges : 1);

  // The new rows are in place but invisible: the last moment to back out.
  if (before_publish) before_publish();

  // Phase C: publish, restoring timestamp order where the new rows break it.
  const bool has_ts = schema_.timestamp_index() >= 0;
  // A partition counts as created when its first rows are published (one
  // made by a rejected call has none yet).
  size_t created = 0;
  for (const Slot& sl : slots_) {
    Partition* p = sl.p;
    const size_t old_rows = p->rows_;
    const size_t new_rows = old_rows + sl.count;
    created += old_rows == 0;
    const bool in_order = !has_ts || (sl.sorted && (old_rows == 0 || sl.min_ts >= p->last_ts_));
    if (in_order) {
      p->rows_ = new_rows;
      p->rows_pub_.store(new_rows, std::memory_order_release);
    } else {
      merge_tail(p, old_rows, new_rows, sl.min_ts);
    }
    if (has_ts) p->last_ts_ = old_rows == 0 ? sl.max_ts : std::max(p->last_ts_, sl.max_ts);
  }
  expected_ = expected_ > n ? expected_ - n : 0;
  return created;
}

void Table::expect_rows(size_t rows) {
  std::lock_guard lock(write_mu_);
  expected_ = rows;
}

std::vector<Table::CheckpointPart> Table::checkpoint_parts() {
  ensure_loaded();
  std::lock_guard wlock(write_mu_);
  std::vector<CheckpointPart> out;
  std::shared_lock lock(parts_mu_);
  out.reserve(order_.size());
  for (Partition* p : order_) {
    out.push_back({p->snapshot(), std::min(p->unchanged_, p->rows_)});
    p->unchanged_ = p->rows_;
    // File blocks: these rows are about to be what the checkpoint describes.
    const PartitionSnapshot& snap = out.back().snap;
    for (size_t c = 0; c < snap.columns.size(); ++c) {
      if (snap.columns[c] && !snap.columns[c]->file().empty())
        snap.columns[c]->freeze(snap.rows * type_width(schema_.column(c).type));
      if (snap.validity[c] && !snap.validity[c]->file().empty()) snap.validity[c]->freeze(snap.rows);
    }
  }
  return out;
}

void Table::restore_partition(int64_t key, std::vector<BlockPtr> columns, std::vector<BlockPtr> validity,
                              size_t rows) {
  const size_t ncol = schema_.size();
  if (columns.size() != ncol || validity.size() != ncol)
    throw_error(ErrorCode::kInvalidArgument, "restore_partition: one block per column expected");
  std::lock_guard wlock(write_mu_);
  Partition* p = get_or_create(key);
  if (p->rows_ != 0 || p->capacity_ != 0)
    throw_error(ErrorCode::kInvalidArgument, "restore_partition: partition " + std::to_string(key) + " exists");
  size_t cap = SIZE_MAX;
  for (size_t c = 0; c < ncol; ++c) {
    cap = std::min(cap, columns[c]->capacity() / type_width(schema_.column(c).type));
    if (validity[c]) {
      cap = std::min(cap, validity[c]->capacity());
      any_validity_ = true;
    }
  }
  if (cap < rows)
    throw_error(ErrorCode::kInvalidArgument, "restore_partition: blocks too small for " + std::to_string(rows) + " rows");
  {
    std::lock_guard lock(p->mu_);
    p->cols_ = std::move(columns);
    p->valid_ = std::move(validity);
  }
  refresh_data(p);
  p->capacity_ = cap;
  p->rows_ = rows;
  p->unchanged_ = rows;
  const int ts = schema_.timestamp_index();
  if (ts >= 0 && rows > 0) p->last_ts_ = reinterpret_cast<const int64_t*>(p->data_[static_cast<size_t>(ts)])[rows - 1];
  p->rows_pub_.store(rows, std::memory_order_release);
}

size_t Table::drop_before(int64_t ts) {
  const int ts_col = schema_.timestamp_index();
  if (ts_col < 0) return 0;
  ensure_loaded();
  std::lock_guard wlock(write_mu_);
  std::vector<Partition*> parts;
  {
    std::shared_lock lock(parts_mu_);
    parts = order_;
  }
  size_t dropped = 0;
  for (Partition* p : parts) {
    if (p->rows_ == 0) continue;
    const int64_t* t = reinterpret_cast<const int64_t*>(p->cols_[ts_col]->data());
    const size_t k = static_cast<size_t>(std::lower_bound(t, t + p->rows_, ts) - t);
    if (k == 0) continue;
    const size_t keep = p->rows_ - k;
    // New blocks hold the rows kept: readers of the old ones are unaffected.
    std::vector<BlockPtr> cols(p->cols_.size()), valid(p->valid_.size());
    {
      MemoryTracker::Unchecked unchecked;  // shrinking must not fail on the limit
      for (size_t c = 0; c < cols.size(); ++c) {
        const size_t w = type_width(schema_.column(c).type);
        cols[c] = new_block(p, c, false, p->capacity_ * w);
        std::memcpy(cols[c]->data(), p->cols_[c]->data() + k * w, keep * w);
        if (p->valid_[c]) {
          valid[c] = new_block(p, c, true, p->capacity_);
          std::memcpy(valid[c]->data(), p->valid_[c]->data() + k, keep);
        }
      }
    }
    std::lock_guard lock(p->mu_);
    p->cols_.swap(cols);
    p->valid_.swap(valid);
    refresh_data(p);
    p->rows_ = keep;
    p->unchanged_ = p->unchanged_ > k ? p->unchanged_ - k : 0;
    p->rows_pub_.store(keep, std::memory_order_release);
    dropped += k;
  }
  return dropped;
}

}  // namespace zepto
