#include "zeptodb/persist/mapped.h"

#include <sys/mman.h>

#include <algorithm>
#include <set>

#include "zeptodb/common/error.h"
#include "zeptodb/exec/thread_pool.h"
#include "zeptodb/persist/file_io.h"

namespace zepto::persist {

namespace {

constexpr size_t kChunk = size_t{1} << 20;  // bytes per CRC
constexpr size_t kHeaderBytes = 4096;       // a page: the values start page-aligned
constexpr uint32_t kFileMagic = 0x464D435A;  // "ZCMF"
constexpr uint32_t kFileVersion = 1;
// Header fields (little-endian): magic u32 @0, version u32 @4, key i64 @8,
// column u32 @16, validity u8 @20, type u8 @21, generation u64 @24, rows u64
// @32 (as of the last checkpoint), CRC-32 of bytes [0, 40) u32 @40.
constexpr size_t kHeaderFields = 40;

uint64_t gen_of(const std::string& path) {
  const size_t dot = path.rfind('.');
  return dot == std::string::npos ? 0 : std::strtoull(path.c_str() + dot + 1, nullptr, 10);
}

}  // namespace

MappedFiles::MappedFiles(std::string table_dir, const Schema& schema) : dir_(std::move(table_dir) + "/data") {
  for (const ColumnDef& c : schema.columns()) types_.push_back(c.type);
}

void MappedFiles::write_header(Block& b, int64_t key, size_t column, bool validity, uint64_t gen,
                               uint64_t rows) const {
  std::byte* h = b.header();
  store_le<uint32_t>(h, kFileMagic);
  store_le<uint32_t>(h + 4, kFileVersion);
  store_le<int64_t>(h + 8, key);
  store_le<uint32_t>(h + 16, static_cast<uint32_t>(column));
  store_le<uint8_t>(h + 20, validity ? 1 : 0);
  store_le<uint8_t>(h + 21, static_cast<uint8_t>(validity ? ColumnType::BOOL : types_.at(column)));
  store_le<uint64_t>(h + 24, gen);
  store_le<uint64_t>(h + 32, rows);
  store_le<uint32_t>(h + kHeaderFields, checksum32(h, kHeaderFields));
}

std::string MappedFiles::name(int64_t key, size_t column, bool validity, uint64_t gen) const {
  return std::to_string(key) + "." + std::to_string(column) + (validity ? "v." : ".") + std::to_string(gen);
}

BlockPtr MappedFiles::allocate(int64_t key, size_t column, bool validity, size_t bytes) {
  // Under the lock while the file is made, so that remove_unused() never
  // sees a file that is not in live_ yet.
  std::lock_guard lock(mu_);
  make_dirs(dir_);
  const uint64_t gen = next_gen_++;
  const std::string n = name(key, column, validity, gen);
  BlockPtr b = Block::map_file(dir_ + "/" + n, bytes, /*create=*/true, kHeaderBytes);
  write_header(*b, key, column, validity, gen, 0);
  live_[n] = b;
  return b;
}

MappedFiles::Column MappedFiles::column_state(const BlockPtr& b, size_t rows, size_t width,
                                              const Column* before) const {
  if (!b || b->file().empty())
    throw_error(ErrorCode::kIOError, "PURE_ON_DISK table in " + dir_ + " has a column block that is not a file");
  const size_t bytes = rows * width;
  Column col;
  col.gen = gen_of(b->file());
  // The header's row count: what this checkpoint commits (the writer never
  // touches the header).
  std::byte* h = b->header();
  store_le<uint64_t>(h + 32, rows);
  store_le<uint32_t>(h + kHeaderFields, checksum32(h, kHeaderFields));
  // The chunks of the same generation that the last commit covered whole
  // are unchanged: committed rows are frozen (changes make a new generation).
  size_t reuse = 0;
  if (before && before->gen == col.gen) {
    reuse = std::min(before->crcs.size(), bytes / kChunk);
    if (reuse > 0 && reuse == before->crcs.size()) --reuse;  // its last chunk may have been partial
    col.crcs.assign(before->crcs.begin(), before->crcs.begin() + static_cast<ptrdiff_t>(reuse));
  }
  for (size_t off = reuse * kChunk; off < bytes; off += kChunk)
    col.crcs.push_back(checksum32(b->data() + off, std::min(kChunk, bytes - off)));
  return col;
}

void MappedFiles::encode(Encoder& m, const std::vector<Table::CheckpointPart>* parts, const Schema& schema) {
  std::map<int64_t, Part> next;
  if (!parts) {
    next = committed_;
  } else {
    for (const Table::CheckpointPart& cp : *parts) {
      const PartitionSnapshot& snap = cp.snap;
      if (snap.rows == 0) continue;
      auto old = committed_.find(snap.key);
      const Part* before = old == committed_.end() ? nullptr : &old->second;
      Part p;
      p.rows = snap.rows;
      for (size_t c = 0; c < schema.size(); ++c) {
        const size_t w = type_width(schema.column(c).type);
        p.values.push_back(column_state(snap.columns[c], snap.rows, w, before ? &before->values[c] : nullptr));
        p.validity.push_back(snap.validity[c]
                                 ? column_state(snap.validity[c], snap.rows, 1, before ? &before->validity[c] : nullptr)
                                 : Column{});
      }
      next.emplace(snap.key, std::move(p));
    }
  }
  {
    std::lock_guard lock(mu_);
    m.u64(next_gen_);
  }
  m.u64(next.size());
  for (const auto& [key, p] : next) {
    m.i64(key);
    m.u64(p.rows);
    for (const auto* cols : {&p.values, &p.validity})
      for (const Column& col : *cols) {
        m.u64(col.gen);
        m.u64(col.crcs.size());
        for (uint32_t crc : col.crcs) m.u32(crc);
      }
  }
  pending_ = std::move(next);
}

void MappedFiles::committed() {
  {
    std::lock_guard lock(mu_);  // restore() copies committed_ on another thread
    committed_ = std::move(pending_);
    pending_.clear();
  }
  remove_unused();
}

std::set<std::string> MappedFiles::committed_files() const {
  std::set<std::string> out;
  for (const auto& [key, p] : committed_)
    for (size_t c = 0; c < p.values.size(); ++c) {
      out.insert(name(key, c, false, p.values[c].gen));
      if (p.validity[c].gen) out.insert(name(key, c, true, p.validity[c].gen));
    }
  return out;
}

void MappedFiles::remove_unused() {
  const std::set<std::string> keep = committed_files();
  std::lock_guard lock(mu_);
  for (auto it = live_.begin(); it != live_.end();)
    it = it->second.expired() ? live_.erase(it) : std::next(it);
  if (!file_exists(dir_)) return;
  for (const std::string& n : list_dir(dir_))
    if (!keep.count(n) && !live_.count(n)) remove_file(dir_ + "/" + n);
}

void MappedFiles::decode(Decoder& d, size_t columns) {
  const uint64_t next_gen = d.u64();
  const uint64_t nparts = d.u64();
  std::map<int64_t, Part> parts;
  for (uint64_t i = 0; i < nparts; ++i) {
    const int64_t key = d.i64();
    Part p;
    p.rows = d.u64();
    for (auto* cols : {&p.values, &p.validity})
      for (size_t c = 0; c < columns; ++c) {
        Column col;
        col.gen = d.u64();
        const uint64_t n = d.u64();
        if (n > (uint64_t{1} << 40) / kChunk) d.fail("implausible checksum count");
        for (uint64_t k = 0; k < n; ++k) col.crcs.push_back(d.u32());
        cols->push_back(std::move(col));
      }
    parts.emplace(key, std::move(p));
  }
  {
    std::lock_guard lock(mu_);
    next_gen_ = next_gen;
    committed_ = std::move(parts);
  }
  remove_unused();  // files of an unfinished checkpoint or of replaced generations
}

void MappedFiles::restore(Table& table) {
  const Schema& schema = table.schema();
  // Maps one committed file and checks it against the manifest.
  auto open = [&](int64_t key, size_t c, bool validity, const Column& col, size_t rows) {
    const std::string n = name(key, c, validity, col.gen);
    const std::string path = dir_ + "/" + n;
    const size_t bytes = rows * (validity ? 1 : type_width(schema.column(c).type));
    BlockPtr b = Block::map_file(path, 0, /*create=*/false, kHeaderBytes);
    const std::byte* h = b->header();
    auto bad = [&](const std::string& why) { throw_error(ErrorCode::kIOError, path + ": " + why); };
    if (load_le<uint32_t>(h) != kFileMagic) bad("not a ZeptoDB column file (bad magic)");
    if (load_le<uint32_t>(h + kHeaderFields) != checksum32(h, kHeaderFields)) bad("header checksum mismatch (file is corrupt)");
    if (load_le<uint32_t>(h + 4) != kFileVersion)
      bad("format version " + std::to_string(load_le<uint32_t>(h + 4)) + " is not supported");
    if (load_le<int64_t>(h + 8) != key || load_le<uint32_t>(h + 16) != c || load_le<uint8_t>(h + 20) != validity ||
        load_le<uint64_t>(h + 24) != col.gen ||
        load_le<uint8_t>(h + 21) != static_cast<uint8_t>(validity ? ColumnType::BOOL : schema.column(c).type))
      bad("header names another column, partition, type or generation than the manifest");
    if (load_le<uint64_t>(h + 32) < rows || b->capacity() < bytes)
      bad("holds fewer than the " + std::to_string(rows) + " rows the manifest says (file is torn)");
    if (col.crcs.size() != (bytes + kChunk - 1) / kChunk)
      throw_error(ErrorCode::kIOError, path + ": the manifest's checksums do not cover its rows (manifest is corrupt)");
#ifdef MADV_WILLNEED
    // A cold file is read once, front to back: ask for all of it at once (a hint).
    if (bytes > 0) ::madvise(b->data(), bytes, MADV_WILLNEED);
#endif
    for (size_t k = 0; k < col.crcs.size(); ++k) {
      const size_t off = k * kChunk;
      if (checksum32(b->data() + off, std::min(kChunk, bytes - off)) != col.crcs[k])
        throw_error(ErrorCode::kIOError, path + ": checksum mismatch in bytes " + std::to_string(off) + " to " +
                                             std::to_string(std::min(off + kChunk, bytes)) + " (file is corrupt)");
    }
    b->freeze(bytes);
    std::lock_guard lock(mu_);
    live_[n] = b;
    return b;
  };
  std::map<int64_t, Part> parts;
  {
    std::lock_guard lock(mu_);
    parts = committed_;
  }
  // Every file is read once for its checksums: the files are opened and
  // checked on the file-work threads (the reads of a cold table overlap),
  // then the partitions are restored in order.
  struct Slot {
    int64_t key;
    const Part* part;
    std::vector<BlockPtr> values, validity;
  };
  std::vector<Slot> slots;
  struct Job {
    size_t slot, column;
    bool validity;
  };
  std::vector<Job> jobs;
  for (const auto& [key, p] : parts) {
    slots.push_back({key, &p, std::vector<BlockPtr>(schema.size()), std::vector<BlockPtr>(schema.size())});
    for (size_t c = 0; c < schema.size(); ++c) {
      jobs.push_back({slots.size() - 1, c, false});
      if (p.validity[c].gen) jobs.push_back({slots.size() - 1, c, true});
    }
  }
  exec::parallel_file_work(jobs.size(), [&](size_t i) {
    const Job& j = jobs[i];
    Slot& s = slots[j.slot];
    const Column& col = j.validity ? s.part->validity[j.column] : s.part->values[j.column];
    (j.validity ? s.validity : s.values)[j.column] = open(s.key, j.column, j.validity, col, s.part->rows);
  });
  for (Slot& s : slots) table.restore_partition(s.key, std::move(s.values), std::move(s.validity), s.part->rows);
}

uint64_t MappedFiles::rows() const {
  uint64_t n = 0;
  for (const auto& [key, p] : committed_) n += p.rows;
  return n;
}

uint64_t MappedFiles::files() const { return committed_files().size(); }

}  // namespace zepto::persist
