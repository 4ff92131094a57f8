#include "zeptodb/persist/wal.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "zeptodb/common/error.h"
#include "zeptodb/common/strings.h"

namespace zepto::persist {

static_assert(std::endian::native == std::endian::little, "the WAL format is little-endian");

namespace {

constexpr char kMagic[4] = {'Z', 'W', 'A', 'L'};
constexpr uint32_t kVersion = 1;
constexpr size_t kSegmentHeader = 16;
constexpr size_t kRecordHeader = 16;
constexpr std::string_view kPrefix = "wal-";
constexpr std::string_view kSuffix = ".log";
constexpr size_t kLsnDigits = 20;

template <typename T>
T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The record checksum: the payload's CRC continued over the LSN and the length.
uint32_t record_checksum(uint32_t payload_crc, uint64_t lsn, uint32_t length) {
  char tail[12];
  std::memcpy(tail, &lsn, 8);
  std::memcpy(tail + 8, &length, 4);
  return checksum32(tail, sizeof tail, payload_crc);
}

// The LSN in a segment file name "wal-<20 digits>.log", or 0 if `name` is not one.
uint64_t segment_name_lsn(const std::string& name) {
  if (name.size() != kPrefix.size() + kLsnDigits + kSuffix.size() || !name.starts_with(kPrefix) ||
      !name.ends_with(kSuffix))
    return 0;
  uint64_t v = 0;
  for (size_t i = kPrefix.size(); i < kPrefix.size() + kLsnDigits; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return v;
}

// One record as found at `off` of a segment's bytes.
struct Parsed {
  bool intact = false;
  const char* why = "";  // what is wrong when not intact
  uint64_t lsn = 0;
  std::string_view payload;
};

// The record at `off` of `data`, intact if it is whole, its checksum matches and its LSN is `lsn`.
Parsed parse_record(std::string_view data, size_t off, uint64_t lsn) {
  Parsed p;
  if (data.size() - off < kRecordHeader) {
    p.why = "incomplete record header";
    return p;
  }
  const char* h = data.data() + off;
  uint32_t len = load<uint32_t>(h);
  uint32_t crc = load<uint32_t>(h + 4);
  p.lsn = load<uint64_t>(h + 8);
  if (len > data.size() - off - kRecordHeader) {
    p.why = "record extends past the end of the file";
    return p;
  }
  p.payload = data.substr(off + kRecordHeader, len);
  if (record_checksum(checksum32(p.payload.data(), len), p.lsn, len) != crc) {
    p.why = "checksum mismatch";
    return p;
  }
  if (p.lsn != lsn) {
    p.why = "unexpected LSN";
    return p;
  }
  p.intact = true;
  return p;
}

// True if an intact record with an LSN above `lsn` starts anywhere in data[from, end).
bool intact_record_after(std::string_view data, size_t from, uint64_t lsn) {
  if (data.size() < kRecordHeader) return false;
  const uint64_t max_lsn = lsn + data.size() / kRecordHeader;
  for (size_t p = from; p + kRecordHeader <= data.size(); ++p) {
    uint64_t l = load<uint64_t>(data.data() + p + 8);
    if (l <= lsn || l > max_lsn) continue;
    if (parse_record(data, p, l).intact) return true;
  }
  return false;
}

// The segment header's problem, or nullptr if it is a valid header of a segment starting at `first_lsn`.
const char* header_problem(std::string_view data, uint64_t first_lsn) {
  if (data.size() < kSegmentHeader) return "incomplete segment header";
  if (std::memcmp(data.data(), kMagic, 4) != 0) return "not a WAL segment (bad magic)";
  if (load<uint32_t>(data.data() + 4) != kVersion) return "unsupported WAL format version";
  if (load<uint64_t>(data.data() + 8) != first_lsn) return "the header's first LSN differs from the file name";
  return nullptr;
}

[[noreturn]] void corrupt(const std::string& path, uint64_t offset, const std::string& what) {
  throw_error(ErrorCode::kIOError,
              "WAL segment " + path + " is corrupt at offset " + std::to_string(offset) + ": " + what);
}

}  // namespace

const char* fsync_policy_name(FsyncPolicy policy) {
  switch (policy) {
    case FsyncPolicy::kAlways: return "always";
    case FsyncPolicy::kBatch: return "batch";
    case FsyncPolicy::kNone: return "none";
  }
  return "?";
}

FsyncPolicy parse_fsync_policy(std::string_view name) {
  for (FsyncPolicy p : {FsyncPolicy::kAlways, FsyncPolicy::kBatch, FsyncPolicy::kNone})
    if (iequals(name, fsync_policy_name(p))) return p;
  throw_error(ErrorCode::kInvalidArgument,
              "unknown fsync policy '" + std::string(name) + "' (valid: always, batch, none)");
}

Wal::Wal(WalOptions options) : options_(std::move(options)) {
  if (options_.dir.empty()) throw_error(ErrorCode::kInvalidArgument, "WAL directory is empty");
  if (options_.fsync == FsyncPolicy::kBatch && options_.batch_interval_ms == 0)
    throw_error(ErrorCode::kInvalidArgument, "WAL batch_interval_ms must be at least 1");
  make_dirs(options_.dir);
  if (options_.fsync == FsyncPolicy::kBatch) background_ = std::thread([this] { background_loop(); });
}

Wal::~Wal() {
  if (background_.joinable()) {
    {
      std::lock_guard<std::mutex> lk(bg_mu_);
      stop_ = true;
    }
    bg_cv_.notify_all();
    background_.join();
  }
  try {
    if (replayed_) sync();
  } catch (const Error& e) {
    std::fprintf(stderr, "zeptodb: WAL in %s: final sync failed: %s\n", options_.dir.c_str(), e.what());
  }
}

std::string Wal::segment_path(uint64_t first_lsn) const {
  char digits[kLsnDigits + 1];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(first_lsn));
  return options_.dir + "/" + std::string(kPrefix) + digits + std::string(kSuffix);
}

std::shared_ptr<File> Wal::create_segment(uint64_t first_lsn) {
  std::string path = segment_path(first_lsn);
  try {
    auto file = std::make_shared<File>(File::create(path));
    char header[kSegmentHeader];
    std::memcpy(header, kMagic, 4);
    std::memcpy(header + 4, &kVersion, 4);
    std::memcpy(header + 8, &first_lsn, 8);
    file->write(header, sizeof header);
    if (options_.fsync != FsyncPolicy::kNone) {
      file->sync();
      fsync_dir(options_.dir);
    }
    return file;
  } catch (...) {
    remove_file(path);
    throw;
  }
}

void Wal::roll_over() {
  uint64_t last = last_lsn_.load(std::memory_order_relaxed);
  bool synced = false;
  if (options_.fsync != FsyncPolicy::kNone) {
    // Every record of the current segment reaches the disk before a later
    // segment exists, so a crash never leaves a gap followed by records.
    current_->sync();
    synced = true;
  } else if (unsynced_.size() >= kMaxUnsyncedSegments) {
    // Long closed: the OS has most likely written it back, so this is quick.
    unsynced_.front()->sync();
    unsynced_.erase(unsynced_.begin());
  }
  auto next = create_segment(last + 1);
  direct_.release();
  if (!synced) unsynced_.push_back(current_);
  segments_.push_back({last + 1, next->path()});
  current_ = std::move(next);
  last_record_offset_ = 0;
  if (synced) {
    std::lock_guard<std::mutex> lk(sync_mu_);
    ++syncs_;
    durable_lsn_ = std::max(durable_lsn_, last);
  }
}

void Wal::require_replayed(const char* what) const {
  if (!replayed_)
    throw_error(ErrorCode::kInvalidArgument, std::string("WAL in ") + options_.dir + ": replay() must be called before " + what);
}

Wal::ReplayResult Wal::replay(uint64_t after,
                              const std::function<void(uint64_t lsn, std::string_view payload)>& fn) {
  std::lock_guard<std::mutex> lk(mu_);
  if (replayed_) throw_error(ErrorCode::kInvalidArgument, "WAL in " + options_.dir + ": replay() was already called");

  std::vector<Segment> found;
  for (const std::string& name : list_dir(options_.dir)) {
    uint64_t lsn = segment_name_lsn(name);
    if (lsn != 0) found.push_back({lsn, options_.dir + "/" + name});
  }

  ReplayResult result;
  uint64_t next_lsn = 0;  // the LSN the next record must have (0: the first segment sets it)
  size_t kept = 0;        // segments [0, kept) are valid
  bool cut = false;
  for (size_t i = 0; i < found.size() && !cut; ++i) {
    const Segment& seg = found[i];
    std::string bytes = read_file(seg.path);
    std::string_view data = bytes;
    const bool last_segment = i + 1 == found.size();
    if (const char* problem = header_problem(data, seg.first_lsn)) {
      // A crash while a new segment was being created leaves a short last file.
      if (last_segment && data.size() < kSegmentHeader) {
        if (next_lsn == 0) next_lsn = seg.first_lsn;
        result.torn_bytes += data.size();
        remove_file(seg.path);
        break;
      }
      corrupt(seg.path, 0, problem);
    }
    if (next_lsn != 0 && seg.first_lsn != next_lsn)
      corrupt(seg.path, 0, "the segment starts at LSN " + std::to_string(seg.first_lsn) +
                               " but the previous one ends at LSN " + std::to_string(next_lsn - 1));
    next_lsn = seg.first_lsn;
    ++kept;
    size_t off = kSegmentHeader;
    while (off < data.size()) {
      Parsed rec = parse_record(data, off, next_lsn);
      if (!rec.intact) {
        bool follows = intact_record_after(data, off + 1, next_lsn);
        for (size_t j = i + 1; j < found.size() && !follows; ++j) {
          std::string later = read_file(found[j].path);
          follows = !header_problem(later, found[j].first_lsn) &&
                    parse_record(later, kSegmentHeader, found[j].first_lsn).intact;
        }
        if (follows)
          corrupt(seg.path, off, std::string(rec.why) + " in the record expected to have LSN " +
                                     std::to_string(next_lsn) + ", and intact records follow it");
        // A torn tail: the write a crash interrupted. Cut it and whatever segments follow.
        result.torn_bytes += data.size() - off;
        File::open_append(seg.path).truncate(off);
        for (size_t j = i + 1; j < found.size(); ++j) {
          result.torn_bytes += read_file(found[j].path).size();
          remove_file(found[j].path);
        }
        cut = true;
        break;
      }
      if (rec.lsn > after) {
        fn(rec.lsn, rec.payload);
        ++result.records;
      }
      ++next_lsn;
      off += kRecordHeader + rec.payload.size();
    }
  }
  found.resize(kept);

  uint64_t last = next_lsn == 0 ? 0 : next_lsn - 1;
  if (found.empty() || after > last) {
    // Nothing to continue (or every record is covered by `after`): start afresh at after + 1.
    last = std::max(last, after);
    auto file = create_segment(last + 1);
    for (const Segment& s : found) remove_file(s.path);
    segments_ = {{last + 1, file->path()}};
    current_ = std::move(file);
  } else {
    segments_ = std::move(found);
    current_ = std::make_shared<File>(File::open_append(segments_.back().path));
    if (options_.fsync != FsyncPolicy::kNone) current_->sync();  // what a process crash left in the OS
  }
  last_lsn_.store(last, std::memory_order_release);
  {
    std::lock_guard<std::mutex> slk(sync_mu_);
    durable_lsn_ = last;
  }
  replayed_ = true;
  result.last_lsn = last;
  return result;
}

uint64_t Wal::append(const std::vector<std::string_view>& parts) {
  size_t length = 0;
  for (std::string_view p : parts) length += p.size();
  if (length > UINT32_MAX)
    throw_error(ErrorCode::kInvalidArgument, "WAL record of " + std::to_string(length) +
                                                 " bytes is too large (at most " + std::to_string(UINT32_MAX) + ")");
  const uint32_t len32 = static_cast<uint32_t>(length);
  // A big record may go to the device directly, its checksum taken as it is staged; a small one's is taken
  // here, before the lock.
  const uint64_t record_bytes = kRecordHeader + length;
  const bool big = options_.direct_bytes != 0 && record_bytes >= options_.direct_bytes;
  uint32_t crc = 0;
  auto payload_crc = [&] {
    for (std::string_view p : parts) crc = checksum32(p.data(), p.size(), crc);
  };
  if (!big) payload_crc();
  char header[kRecordHeader];
  std::vector<std::string_view> iov;
  iov.reserve(parts.size() + 1);
  iov.emplace_back(header, sizeof header);
  iov.insert(iov.end(), parts.begin(), parts.end());

  std::lock_guard<std::mutex> lk(mu_);
  require_replayed("append()");
  if (current_->size() > kSegmentHeader && current_->size() + record_bytes > options_.segment_bytes) roll_over();
  const uint64_t lsn = last_lsn_.load(std::memory_order_relaxed) + 1;
  auto fill_header = [&](uint32_t payload_crc) {
    const uint32_t sum = record_checksum(payload_crc, lsn, len32);
    std::memcpy(header, &len32, 4);
    std::memcpy(header + 4, &sum, 4);
    std::memcpy(header + 8, &lsn, 8);
  };
  const uint64_t offset = current_->size();
  // All or nothing, either way.
  if (!big || !direct_.append(*current_, iov, fill_header)) {
    if (big) payload_crc();  // direct I/O was refused
    fill_header(crc);
    current_->write_parts(iov);
  }
  last_record_offset_ = offset;
  ++records_;
  bytes_ += record_bytes;
  last_lsn_.store(lsn, std::memory_order_release);
  return lsn;
}

void Wal::undo(uint64_t lsn) {
  std::lock_guard<std::mutex> lk(mu_);
  require_replayed("undo()");
  const uint64_t last = last_lsn_.load(std::memory_order_relaxed);
  if (lsn != last || last_record_offset_ == 0)
    throw_error(ErrorCode::kInvalidArgument,
                "WAL undo(" + std::to_string(lsn) + "): only the record appended last (LSN " + std::to_string(last) +
                    ") can be undone, once");
  const uint64_t removed = current_->size() - last_record_offset_;
  current_->truncate(last_record_offset_);
  // The record may already be on disk: its removal must reach the disk too.
  if (options_.fsync != FsyncPolicy::kNone) current_->sync();
  last_record_offset_ = 0;
  --records_;
  bytes_ -= removed;
  undo_epoch_.fetch_add(1, std::memory_order_acq_rel);
  last_lsn_.store(lsn - 1, std::memory_order_release);
  std::lock_guard<std::mutex> slk(sync_mu_);
  durable_lsn_ = std::min(durable_lsn_, lsn - 1);
}

void Wal::sync_through(uint64_t lsn) {
  std::unique_lock<std::mutex> lk(sync_mu_);
  while (durable_lsn_ < lsn) {
    if (syncing_) {  // another caller's fdatasync is under way: it may cover `lsn`
      sync_cv_.wait(lk);
      continue;
    }
    syncing_ = true;
    lk.unlock();
    std::shared_ptr<File> file;
    std::vector<std::shared_ptr<File>> closed;
    uint64_t target, epoch;
    {
      std::lock_guard<std::mutex> alk(mu_);
      file = current_;
      closed.swap(unsynced_);
      target = last_lsn_.load(std::memory_order_relaxed);
      epoch = undo_epoch_.load(std::memory_order_acquire);
    }
    lsn = std::min(lsn, target);  // a record undone meanwhile needs no sync
    try {
      // Earlier segments were synced when they were closed, except under kNone.
      for (size_t i = 0; i < closed.size(); ++i) {
        closed[i]->sync();
        closed[i].reset();
      }
      file->sync();
    } catch (...) {
      {
        std::lock_guard<std::mutex> alk(mu_);
        for (auto& f : closed)
          if (f) unsynced_.push_back(std::move(f));
      }
      lk.lock();
      syncing_ = false;
      sync_cv_.notify_all();
      throw;
    }
    lk.lock();
    syncing_ = false;
    ++syncs_;
    if (undo_epoch_.load(std::memory_order_acquire) == epoch) durable_lsn_ = std::max(durable_lsn_, target);
    sync_cv_.notify_all();
  }
}

void Wal::commit(uint64_t lsn) {
  if (lsn > last_lsn())
    throw_error(ErrorCode::kInvalidArgument, "WAL commit(" + std::to_string(lsn) + "): no such record (last LSN " +
                                                 std::to_string(last_lsn()) + ")");
  if (options_.fsync == FsyncPolicy::kAlways) {
    sync_through(lsn);
    return;
  }
  std::lock_guard<std::mutex> lk(sync_mu_);
  if (!sync_error_.empty()) throw_error(ErrorCode::kIOError, sync_error_);
}

void Wal::sync() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    require_replayed("sync()");
  }
  sync_through(last_lsn());
}

void Wal::truncate_through(uint64_t lsn) {
  std::lock_guard<std::mutex> lk(mu_);
  require_replayed("truncate_through()");
  const uint64_t last = last_lsn_.load(std::memory_order_relaxed);
  if (lsn > last)
    throw_error(ErrorCode::kInvalidArgument, "WAL truncate_through(" + std::to_string(lsn) +
                                                 "): past the last record (LSN " + std::to_string(last) + ")");
  if (last >= segments_.back().first_lsn && lsn >= last) roll_over();
  size_t drop = 0;
  while (drop + 1 < segments_.size() && segments_[drop + 1].first_lsn - 1 <= lsn) remove_file(segments_[drop++].path);
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(drop));
}

WalStats Wal::stats() const {
  WalStats s;
  {
    std::lock_guard<std::mutex> lk(mu_);
    s.records = records_;
    s.bytes = bytes_;
    s.segments = segments_.size();
    s.last_lsn = last_lsn_.load(std::memory_order_relaxed);
  }
  std::lock_guard<std::mutex> lk(sync_mu_);
  s.syncs = syncs_;
  s.durable_lsn = durable_lsn_;
  return s;
}

void Wal::background_loop() {
  const auto interval = std::chrono::milliseconds(options_.batch_interval_ms);
  std::unique_lock<std::mutex> lk(bg_mu_);
  while (!bg_cv_.wait_for(lk, interval, [this] { return stop_; })) {
    lk.unlock();
    uint64_t last = last_lsn();
    bool behind;
    {
      std::lock_guard<std::mutex> slk(sync_mu_);
      behind = durable_lsn_ < last;
    }
    if (behind) {
      try {
        sync_through(last);
      } catch (const Error& e) {
        std::lock_guard<std::mutex> slk(sync_mu_);
        sync_error_ = e.what();
      }
    }
    lk.lock();
  }
}

}  // namespace zepto::persist
