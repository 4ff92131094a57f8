#include "zeptodb/storage/table.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <numeric>

#include "zeptodb/common/error.h"
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

template <size_t W>
void scatter_fixed(const std::byte* src, size_t n, const uint32_t* slot, std::byte* const* dst,
                   size_t* cursor) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t s = slot[i];
    std::memcpy(dst[s] + cursor[s] * W, src + i * W, W);
    ++cursor[s];
  }
}

void scatter(size_t width, const std::byte* src, size_t n, const uint32_t* slot,
             std::byte* const* dst, size_t* cursor) {
  switch (width) {
    case 8: return scatter_fixed<8>(src, n, slot, dst, cursor);
    case 4: return scatter_fixed<4>(src, n, slot, dst, cursor);
    case 1: return scatter_fixed<1>(src, n, slot, dst, cursor);
    default: break;
  }
  for (size_t i = 0; i < n; ++i) {
    uint32_t s = slot[i];
    std::memcpy(dst[s] + cursor[s] * width, src + i * width, width);
    ++cursor[s];
  }
}

bool exclusively_owned(const std::vector<BlockPtr>& cols) {
  for (const auto& b : cols)
    if (b && b.use_count() != 1) return false;
  std::atomic_thread_fence(std::memory_order_acquire);
  return true;
}

}  // namespace

struct Table::Slot {
  Partition* p;
  size_t count = 0;
  int64_t min_ts = INT64_MAX;
  int64_t max_ts = INT64_MIN;
  int64_t prev_ts = INT64_MIN;
  bool sorted = true;
};

Table::Table(std::string name, Schema schema, std::shared_ptr<MemoryTracker> tracker,
             size_t initial_rows)
    : name_(std::move(name)),
      schema_(std::move(schema)),
      tracker_(std::move(tracker)),
      initial_rows_(std::max<size_t>(initial_rows, 16)) {}

const Partition* Table::find_partition(int64_t key) const {
  std::shared_lock lock(parts_mu_);
  auto it = parts_.find(key);
  return it == parts_.end() ? nullptr : it->second.get();
}

std::vector<const Partition*> Table::partitions() const {
  std::shared_lock lock(parts_mu_);
  return {order_.begin(), order_.end()};
}

size_t Table::row_count() const {
  std::shared_lock lock(parts_mu_);
  size_t n = 0;
  for (const Partition* p : order_) n += p->rows();
  return n;
}

Partition* Table::get_or_create(int64_t key, size_t* created) {
  const int64_t d = dense_slot(key);
  if (d >= 0 && d < static_cast<int64_t>(dense_.size()) && dense_[d] != nullptr) return dense_[d];
  {
    std::shared_lock lock(parts_mu_);
    auto it = parts_.find(key);
    if (it != parts_.end()) return it->second.get();
  }
  auto part = std::make_unique<Partition>(key, schema_.size());
  Partition* raw = part.get();
  std::unique_lock lock(parts_mu_);
  order_.reserve(order_.size() + 1);
  if (d >= static_cast<int64_t>(dense_.size())) dense_.resize(static_cast<size_t>(d) + 1, nullptr);
  parts_.emplace(key, std::move(part));
  order_.push_back(raw);
  if (d >= 0) dense_[d] = raw;
  ++*created;
  return raw;
}

// Makes room for `needed_rows` rows, and adds validity columns (all rows
// valid so far) for the columns flagged in `add_validity`. New blocks hold a
// copy of the published rows and replace the old ones under the partition
// lock; the visible content is unchanged, so a later failure leaves nothing
// half-written.
void Table::grow(Partition* p, size_t needed_rows, const std::vector<uint8_t>& add_validity) {
  const bool more_rows = needed_rows > p->capacity_;
  bool more_valid = false;
  for (size_t c = 0; c < schema_.size(); ++c) more_valid |= add_validity[c] && !p->valid_[c];
  if (!more_rows && !more_valid) return;
  size_t cap = more_rows ? std::max({needed_rows, p->capacity_ + p->capacity_ / 2, initial_rows_})
                         : p->capacity_;
  std::vector<BlockPtr> cols = p->cols_, valid = p->valid_;
  for (size_t c = 0; c < schema_.size(); ++c) {
    size_t w = type_width(schema_.column(c).type);
    if (more_rows) {
      cols[c] = Block::allocate(cap * w, tracker_);
      if (p->rows_ > 0) std::memcpy(cols[c]->data(), p->cols_[c]->data(), p->rows_ * w);
    }
    if (valid[c] && more_rows) {
      valid[c] = Block::allocate(cap, tracker_);
      std::memcpy(valid[c]->data(), p->valid_[c]->data(), p->rows_);
    } else if (!valid[c] && add_validity[c]) {
      valid[c] = Block::allocate(cap, tracker_);
      std::memset(valid[c]->data(), 1, p->rows_);
    }
  }
  std::lock_guard lock(p->mu_);
  p->cols_.swap(cols);
  p->valid_.swap(valid);
  p->capacity_ = cap;
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
  const bool in_place = exclusively_owned(p->cols_) && exclusively_owned(p->valid_);
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
      // The memory was accounted for when the partition grew, so this
      // allocation does not re-check the limit.
      target = Block::allocate(p->capacity_ * w, tracker_);
      std::memcpy(target->data(), (*vec)[c]->data(), k * w);
    }
    std::byte* dst = target->data();
    for (size_t j = 0; j < len; ++j) std::memcpy(dst + (k + j) * w, src + (k + perm[j]) * w, w);
  }
  p->cols_.swap(cols);
  p->valid_.swap(valid);
  p->rows_ = new_rows;
  p->rows_pub_.store(new_rows, std::memory_order_release);
}

size_t Table::append(const void* const* columns, const uint8_t* const* validity, size_t n) {
  if (n == 0) return 0;
  std::lock_guard write_lock(write_mu_);
  const uint64_t epoch = ++epoch_;
  const int sym_idx = schema_.symbol_index();
  const int ts_idx = schema_.timestamp_index();
  const int64_t* sym = sym_idx >= 0 ? static_cast<const int64_t*>(columns[sym_idx]) : nullptr;
  const int64_t* ts = ts_idx >= 0 ? static_cast<const int64_t*>(columns[ts_idx]) : nullptr;

  // Pass 1: which partition each row goes to, rows per partition, and
  // whether each partition's new rows are in timestamp order.
  size_t created = 0;
  std::vector<Slot> slots;
  std::unique_ptr<uint32_t[]> slot_of(sym ? new uint32_t[n] : nullptr);
  int64_t last_key = 0;
  uint32_t last_slot = UINT32_MAX;
  for (size_t i = 0; i < n; ++i) {
    int64_t key = sym ? sym[i] : 0;
    uint32_t s;
    if (key == last_key && last_slot != UINT32_MAX) {
      s = last_slot;
    } else {
      Partition* p = get_or_create(key, &created);
      if (p->batch_epoch_ != epoch) {
        p->batch_epoch_ = epoch;
        p->batch_slot_ = static_cast<uint32_t>(slots.size());
        slots.push_back(Slot{p});
      }
      s = p->batch_slot_;
      last_key = key;
      last_slot = s;
    }
    if (sym) slot_of[i] = s;
    Slot& sl = slots[s];
    ++sl.count;
    if (ts) {
      int64_t t = ts[i];
      if (t < sl.prev_ts) sl.sorted = false;
      sl.prev_ts = t;
      sl.min_ts = std::min(sl.min_ts, t);
      sl.max_ts = std::max(sl.max_ts, t);
    }
  }

  // Phase A: reserve capacity (and validity columns for columns that bring
  // NULLs) everywhere. May throw; nothing is visible yet.
  std::vector<uint8_t> add_validity(schema_.size(), 0);
  for (size_t c = 0; c < schema_.size(); ++c) add_validity[c] = validity && validity[c];
  for (Slot& sl : slots) grow(sl.p, sl.p->rows_ + sl.count, add_validity);

  // Phase B: write the new rows past each partition's published count.
  std::vector<std::byte*> dst(slots.size());
  std::vector<size_t> cursor(slots.size());
  for (size_t c = 0; c < schema_.size(); ++c) {
    size_t w = type_width(schema_.column(c).type);
    const std::byte* src = static_cast<const std::byte*>(columns[c]);
    if (slots.size() == 1) {
      Partition* p = slots[0].p;
      std::memcpy(p->cols_[c]->data() + p->rows_ * w, src, n * w);
      continue;
    }
    for (size_t s = 0; s < slots.size(); ++s) {
      dst[s] = slots[s].p->cols_[c]->data();
      cursor[s] = slots[s].p->rows_;
    }
    scatter(w, src, n, slot_of.get(), dst.data(), cursor.data());
  }
  for (size_t c = 0; c < schema_.size(); ++c) {
    if (add_validity[c]) {  // every touched partition has a validity column now
      const std::byte* src = reinterpret_cast<const std::byte*>(validity[c]);
      if (slots.size() == 1) {
        Partition* p = slots[0].p;
        std::memcpy(p->valid_[c]->data() + p->rows_, src, n);
        continue;
      }
      for (size_t s = 0; s < slots.size(); ++s) {
        dst[s] = slots[s].p->valid_[c]->data();
        cursor[s] = slots[s].p->rows_;
      }
      scatter(1, src, n, slot_of.get(), dst.data(), cursor.data());
    } else {  // no NULLs in this batch: mark the new rows valid where needed
      for (Slot& sl : slots)
        if (sl.p->valid_[c]) std::memset(sl.p->valid_[c]->data() + sl.p->rows_, 1, sl.count);
    }
  }

  // Phase C: publish, restoring timestamp order where the new rows break it.
  for (Slot& sl : slots) {
    Partition* p = sl.p;
    size_t old_rows = p->rows_;
    size_t new_rows = old_rows + sl.count;
    bool in_order = !ts || (sl.sorted && (old_rows == 0 || sl.min_ts >= p->last_ts_));
    if (in_order) {
      std::lock_guard lock(p->mu_);
      p->rows_ = new_rows;
      p->rows_pub_.store(new_rows, std::memory_order_release);
    } else {
      merge_tail(p, old_rows, new_rows, sl.min_ts);
    }
    if (ts) p->last_ts_ = old_rows == 0 ? sl.max_ts : std::max(p->last_ts_, sl.max_ts);
  }
  return created;
}

}  // namespace zepto
