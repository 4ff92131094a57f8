#include "zeptodb/persist/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>

#include "zeptodb/common/error.h"
#include "zeptodb/exec/thread_pool.h"
#include "zeptodb/persist/file_io.h"
#include "zeptodb/persist/records.h"

namespace zepto::persist {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kDayNs = 86'400'000'000'000;
constexpr int64_t kNoDay = INT64_MIN;  // the unit of a table without a timestamp column
constexpr size_t kMaxDaySegments = 16;  // a day never has more segments (see store.h)
constexpr size_t kLoadWindow = 16;      // segment slices read together while loading
constexpr uint32_t kCatalogMagic = 0x5441435A;   // "ZCAT"
constexpr uint32_t kManifestMagic = 0x4E414D5A;  // "ZMAN"
constexpr uint32_t kCatalogVersion = 2;  // 2: a size limit per table (1 is read too)
// Version 1 had a segment per (symbol, day) unit; version 2 has a segment per
// day holding the pieces of many units.
constexpr uint32_t kManifestVersion = 2;
constexpr uint32_t kMappedMagic = 0x50414D5A;  // "ZMAP": a PURE_ON_DISK table's manifest
constexpr uint32_t kMappedVersion = 1;

// A table's manifest of checkpoint `lsn`: MAPPED-<lsn> (PURE_ON_DISK) or MANIFEST-<lsn>.
std::string manifest_name(bool mapped, uint64_t lsn) {
  return (mapped ? "MAPPED-" : "MANIFEST-") + std::to_string(lsn);
}

int64_t day_of(int64_t ts) { return ts >= 0 ? ts / kDayNs : -((-ts + kDayNs - 1) / kDayNs); }

std::string day_name(int64_t day) {
  if (day == kNoDay) return "all";
  time_t secs = static_cast<time_t>(day * 86'400);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

std::string safe_name(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
  return out;
}

std::string column_file(const std::string& seg_dir, size_t index, const std::string& name) {
  return seg_dir + "/" + std::to_string(index) + "_" + safe_name(name) + ".zcol";
}

// A checksummed file: magic, version, payload, CRC-32 of everything before it.
std::string seal(uint32_t magic, uint32_t version, const Encoder& e) {
  Encoder head;
  head.u32(magic);
  head.u32(version);
  std::string s = head.str_all() + e.str_all();
  uint32_t crc = checksum32(s.data(), s.size());
  s.append(reinterpret_cast<const char*>(&crc), 4);
  return s;
}

// The payload of a file seal() wrote, checked; its version must be `version`
// or, when `oldest` is given, from `oldest` up (the version found goes to *found).
std::string unseal(uint32_t magic, uint32_t version, const std::string& path, uint32_t oldest = 0,
                   uint32_t* found = nullptr) {
  std::string s = read_file(path);
  auto bad = [&](const std::string& why) {
    throw_error(ErrorCode::kIOError, path + ": " + why + " (file is corrupt)");
  };
  if (s.size() < 12) bad("too short");
  uint32_t m, v, crc;
  std::memcpy(&m, s.data(), 4);
  std::memcpy(&v, s.data() + 4, 4);
  std::memcpy(&crc, s.data() + s.size() - 4, 4);
  if (m != magic) bad("wrong magic number");
  if (checksum32(s.data(), s.size() - 4) != crc) bad("checksum mismatch");
  if (found) *found = v;
  if (oldest == 0) oldest = version;
  if (v > version || v < oldest)
    throw_error(ErrorCode::kIOError,
                path + ": format version " + std::to_string(v) + " is not supported (this build reads version " +
                    (oldest < version ? std::to_string(oldest) + " to " : std::string()) + std::to_string(version) +
                    "; open the directory with the release that wrote it)");
  return s.substr(8, s.size() - 12);
}

// Flushes every file of the file system holding `dir` (one call for the
// many files of PURE_ON_DISK tables instead of one fsync each).
void sync_filesystem(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_error(ErrorCode::kIOError, dir + ": " + std::strerror(errno));
  int rc = ::syncfs(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw_error(ErrorCode::kIOError, dir + ": sync failed: " + std::strerror(err));
}

// The parent directories of `dirs`.
std::set<std::string> parent_dirs(const std::set<std::string>& dirs) {
  std::set<std::string> out;
  for (const auto& d : dirs) out.insert(parent_dir(d));
  return out;
}

void remove_path(const fs::path& p, uint64_t* removed) {
  std::error_code ec;
  uint64_t n = fs::remove_all(p, ec);
  if (!ec && removed) *removed += n;
}

}  // namespace

Store::Store(std::string dir, CompressionPolicy compression, bool sync, bool mapped)
    : dir_(std::move(dir)), compression_(compression), sync_(sync), mapped_(mapped) {
  make_dirs(dir_ + "/tables");
}

std::shared_ptr<MappedFiles> Store::mapped_files(uint64_t dir_id, const std::string& name, const Schema& schema) {
  std::lock_guard lock(files_mu_);
  auto& f = files_[dir_id];
  if (!f) f = std::make_shared<MappedFiles>(table_dir(dir_id, name), schema);
  return f;
}

void Store::attach(Table& table, uint64_t dir_id) {
  if (mapped_) table.set_block_source(mapped_files(dir_id, table.name(), table.schema()));
}

std::string Store::table_dir(uint64_t dir_id, const std::string& name) const {
  return dir_ + "/tables/" + std::to_string(dir_id) + "_" + safe_name(name);
}

std::string Store::segment_dir(const std::string& tdir, int64_t day, uint64_t segment) {
  return tdir + "/" + day_name(day) + "/" + std::to_string(segment);
}

LoadResult Store::load(Catalog& catalog, SymbolDictionary& symbols) {
  LoadResult res;
  std::map<uint64_t, std::string> live;
  const std::string cat_path = dir_ + "/CATALOG";
  if (file_exists(cat_path)) {
    uint32_t version = 0;
    std::string body = unseal(kCatalogMagic, kCatalogVersion, cat_path, 1, &version);
    Decoder d(body, cat_path);
    res.found = true;
    res.lsn = d.u64();
    uint64_t ntables = d.u64();
    struct Entry {
      TableInfo info;
      Schema schema;
    };
    std::vector<Entry> entries;
    for (uint64_t i = 0; i < ntables; ++i) {
      Entry e;
      e.info.name = d.str();
      e.info.dir_id = d.u64();
      e.info.retention.ttl_ns = d.i64();
      if (version >= 2) e.info.retention.max_bytes = d.u64();
      e.schema = d.schema();
      entries.push_back(std::move(e));
    }
    uint64_t nsym = d.u64();
    for (uint64_t i = 0; i < nsym; ++i) {
      int64_t id = d.i64();
      symbols.restore(id, d.bytes());
    }
    // Integer ids in the (not yet loaded) rows: new names must stay above them.
    const int64_t max_id = d.i64();
    symbols.note_ids(max_id, max_id);
    if (!d.done()) d.fail("unexpected bytes at the end");

    for (auto& e : entries) {
      const std::string tdir = table_dir(e.info.dir_id, e.info.name);
      const bool was_mapped = file_exists(tdir + "/" + manifest_name(true, res.lsn));
      if (was_mapped != mapped_ && (was_mapped || file_exists(tdir + "/" + manifest_name(false, res.lsn))))
        throw_error(ErrorCode::kInvalidArgument,
                    "data_dir '" + dir_ + "' holds " + (was_mapped ? "PURE_ON_DISK" : "TIERED") +
                        " data (table '" + e.info.name + "'); open it in that storage mode");
      if (mapped_) {
        const std::string mpath = tdir + "/" + manifest_name(true, res.lsn);
        std::string mbody = unseal(kMappedMagic, kMappedVersion, mpath);
        Decoder m(mbody, mpath);
        if (m.u64() != res.lsn) m.fail("manifest of another checkpoint");
        auto files = mapped_files(e.info.dir_id, e.info.name, e.schema);
        files->decode(m, e.schema.size());
        if (!m.done()) m.fail("unexpected bytes at the end");
        auto table = catalog.create(e.info.name, e.schema);
        res.rows += files->rows();
        res.files += files->files();
        table->set_block_source(files);
        // The files are mapped and checked when the table is first used.
        table->set_loader([files](Table& t) { files->restore(t); });
        tables_[e.info.dir_id] = TableState{};
        live[e.info.dir_id] = tdir;
        res.tables.push_back(e.info);
        continue;
      }
      const std::string mpath = tdir + "/" + manifest_name(false, res.lsn);
      std::string mbody = unseal(kManifestMagic, kManifestVersion, mpath);
      Decoder m(mbody, mpath);
      if (m.u64() != res.lsn) m.fail("manifest of another checkpoint");
      TableState st;
      st.next_segment = m.u64();
      const uint64_t nseg = m.u64();
      for (uint64_t i = 0; i < nseg; ++i) {
        const uint64_t id = m.u64();
        Segment seg;
        seg.day = m.i64();
        seg.rows = m.u64();
        if (id >= st.next_segment || !st.segments.emplace(id, seg).second) m.fail("bad segment id " + std::to_string(id));
      }
      const uint64_t nunits = m.u64();
      for (uint64_t u = 0; u < nunits; ++u) {
        UnitKey key;
        key.first = m.i64();
        key.second = m.i64();
        Unit unit;
        const uint64_t npieces = m.u64();
        for (uint64_t i = 0; i < npieces; ++i) {
          Piece p;
          p.segment = m.u64();
          p.first = m.u64();
          p.rows = m.u64();
          auto seg = st.segments.find(p.segment);
          if (seg == st.segments.end() || seg->second.day != key.second || p.rows == 0 ||
              p.first > seg->second.rows || p.rows > seg->second.rows - p.first)
            m.fail("a piece of unit (symbol " + std::to_string(key.first) + ", " + day_name(key.second) +
                   ") is not within a segment of its day");
          unit.pieces.push_back(p);
          unit.rows += p.rows;
        }
        st.units.emplace(key, std::move(unit));
      }
      if (!m.done()) m.fail("unexpected bytes at the end");

      auto table = catalog.create(e.info.name, e.schema);
      for (const auto& [key, unit] : st.units) res.rows += unit.rows;
      res.files += st.segments.size() * table->schema().size();
      // The files are read when the table is first used.
      table->set_loader([tdir, st, stride = load_stride_bytes_](Table& t) { load_rows(t, tdir, st, stride); });
      tables_[e.info.dir_id] = std::move(st);
      live[e.info.dir_id] = tdir;
      res.tables.push_back(e.info);
    }
  }
  // Whatever the loaded checkpoint does not reference is left over from a
  // checkpoint that did not finish (or from dropped tables).
  std::set<std::string> keep_tables;
  for (const auto& [id, tdir] : live) keep_tables.insert(fs::path(tdir).filename().string());
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_ + "/tables", ec)) {
    const std::string name = entry.path().filename().string();
    if (!keep_tables.count(name)) {
      remove_path(entry.path(), &res.removed);
      continue;
    }
    uint64_t id = std::stoull(name.substr(0, name.find('_')));
    const TableState& st = tables_.at(id);
    std::set<std::string> keep;  // "<day>/<segment>"
    for (const auto& [sid, seg] : st.segments) keep.insert(day_name(seg.day) + "/" + std::to_string(sid));
    for (const auto& day : fs::directory_iterator(entry.path(), ec)) {
      const std::string dn = day.path().filename().string();
      if (!day.is_directory()) {
        if (dn != manifest_name(mapped_, res.lsn)) remove_path(day.path(), &res.removed);
        continue;
      }
      if (mapped_ && dn == "data") continue;  // MappedFiles::decode() removed what it does not use
      bool used = false;
      for (const auto& seg : fs::directory_iterator(day.path(), ec)) {
        if (keep.count(dn + "/" + seg.path().filename().string())) used = true;
        else remove_path(seg.path(), &res.removed);
      }
      if (!used) remove_path(day.path(), &res.removed);
    }
  }
  return res;
}

void Store::load_rows(Table& table, const std::string& tdir, const TableState& st, size_t stride_bytes) {
  const Schema& schema = table.schema();
  // Segments in (day, id) order, each unit's pieces in segment order: every
  // partition's rows arrive in timestamp order.
  struct Job {
    uint64_t id;
    const Segment* seg;
    std::vector<std::pair<int64_t, Piece>> pieces;  // (symbol, piece), by first row
  };
  std::vector<Job> segs;
  std::map<uint64_t, size_t> index;
  for (const auto& [id, seg] : st.segments) {
    index[id] = segs.size();
    segs.push_back({id, &seg, {}});
  }
  for (const auto& [key, unit] : st.units)
    for (const Piece& p : unit.pieces) segs[index.at(p.segment)].pieces.emplace_back(key.first, p);
  std::erase_if(segs, [](const Job& j) { return j.pieces.empty(); });
  std::stable_sort(segs.begin(), segs.end(), [](const Job& a, const Job& b) { return a.seg->day < b.seg->day; });

  // The segments are read in slices of at most a stride of rows: a big
  // segment in several, small ones together (a window of slices holds at
  // most a stride of rows). The column files of a window's slices are read
  // in parallel (every block checked before use), then the slices' parts of
  // the pieces are appended in order.
  for (Job& job : segs)
    std::sort(job.pieces.begin(), job.pieces.end(), [](const auto& a, const auto& b) { return a.second.first < b.second.first; });
  struct Slice {
    size_t job;
    uint64_t start, rows;
  };
  std::vector<Slice> slices;
  const size_t stride = std::max<size_t>(1, stride_bytes / std::max<size_t>(1, schema.row_width()));
  for (size_t k = 0; k < segs.size(); ++k)
    for (uint64_t start = 0, rows = segs[k].seg->rows; start < rows; start += stride)
      slices.push_back({k, start, std::min<uint64_t>(stride, rows - start)});

  const size_t ncol = schema.size();
  std::vector<std::vector<std::optional<ColumnFileReader>>> readers(segs.size());  // per segment being read
  // Per column, the rows of a window: its slices one after the other.
  std::vector<std::vector<std::byte>> values(ncol);
  std::vector<std::vector<uint8_t>> validity(ncol);
  std::vector<uint64_t> at;  // where each slice of the window starts in them
  std::vector<const void*> ptrs(ncol);
  std::vector<const uint8_t*> valid(ncol);
  for (size_t first = 0, count; first < slices.size(); first += count) {
    at.assign(1, 0);
    uint64_t rows = slices[first].rows;
    for (count = 1; first + count < slices.size() && count < kLoadWindow && rows + slices[first + count].rows <= stride;
         ++count) {
      at.push_back(rows);
      rows += slices[first + count].rows;
    }
    for (size_t c = 0; c < ncol; ++c) {
      values[c].resize(std::max<size_t>(values[c].size(), rows * type_width(schema.column(c).type)));
      validity[c].resize(std::max<size_t>(validity[c].size(), rows));
    }
    // A segment's first slice opens its files (and checks them against the manifest).
    for (size_t k = first; k < first + count; ++k)
      if (slices[k].start == 0) readers[slices[k].job].resize(ncol);
    exec::parallel_file_work(count * ncol, [&](size_t i) {
      const Slice& sl = slices[first + i / ncol];
      const Job& job = segs[sl.job];
      const size_t c = i % ncol;
      std::optional<ColumnFileReader>& reader = readers[sl.job][c];
      if (sl.start == 0) {
        reader.emplace(column_file(segment_dir(tdir, job.seg->day, job.id), c, schema.column(c).name),
                       schema.column(c).type);
        const std::string& path = reader->path();
        const size_t have = reader->info().rows;
        auto bad = [&](const std::string& why) { throw_error(ErrorCode::kIOError, path + ": " + why + " (file is corrupt)"); };
        for (const auto& [sym, p] : job.pieces)
          if (p.first > have || p.rows > have - p.first)
            bad("holds " + std::to_string(have) + " rows, the manifest has rows " + std::to_string(p.first) + ".." +
                std::to_string(p.first + p.rows - 1) + " of symbol " + std::to_string(sym) + " in it");
        if (have != job.seg->rows)
          bad("holds " + std::to_string(have) + " rows, the manifest says " + std::to_string(job.seg->rows));
      }
      const uint64_t to = at[i / ncol];
      reader->read(sl.rows, values[c].data() + to * type_width(schema.column(c).type), validity[c].data() + to);
    });
    for (size_t k = 0; k < count; ++k) {
      const Slice& sl = slices[first + k];
      const Job& job = segs[sl.job];
      const uint64_t end = sl.start + sl.rows;
      // The pieces overlapping the slice (they are sorted and do not overlap).
      auto it = std::partition_point(job.pieces.begin(), job.pieces.end(),
                                     [&](const auto& x) { return x.second.first + x.second.rows <= sl.start; });
      for (; it != job.pieces.end() && it->second.first < end; ++it) {
        const Piece& p = it->second;
        const uint64_t lo = std::max(p.first, sl.start), hi = std::min(p.first + p.rows, end);
        const uint64_t from = at[k] + (lo - sl.start);
        for (size_t c = 0; c < ncol; ++c) {
          ptrs[c] = values[c].data() + from * type_width(schema.column(c).type);
          valid[c] = readers[sl.job][c]->info().has_validity ? validity[c].data() + from : nullptr;
        }
        table.append(ptrs.data(), valid.data(), hi - lo);
      }
      if (end == job.seg->rows) readers[sl.job].clear();  // its files are closed
    }
  }
  // The rows just loaded are what the files hold: the next checkpoint only
  // writes what changes after this.
  table.checkpoint_parts();
}

void Store::write_files(const std::vector<FileJob>& files) const {
  exec::parallel_file_work(files.size(), [&](size_t i) {
    const FileJob& f = files[i];
    // New files, referenced only once the checkpoint commits: no rename needed.
    // With sync_, each file starts its writeback as it is written and is
    // fdatasynced at its end.
    write_column_file(f.path, f.type, f.chunks, compression_, sync_, /*atomic=*/false);
  });
}

CheckpointResult Store::write(const Capture& capture) {
  CheckpointResult res;
  std::map<uint64_t, TableState> next;
  std::vector<std::string> obsolete;  // segment directories to remove once the checkpoint is committed
  std::set<std::string> new_dirs;     // the segment directories it writes
  try {
    std::vector<std::pair<std::string, std::string>> manifests;  // (path, contents)
    std::vector<FileJob> files;  // the column files to write, decided first
    for (const TableCapture& tc : capture.tables) {
      const Schema& schema = tc.schema;
      const std::string tdir = table_dir(tc.dir_id, tc.name);
      make_dirs(tdir);
      auto old_it = tables_.find(tc.dir_id);
      TableState empty;
      const TableState& old = old_it != tables_.end() ? old_it->second : empty;
      TableState& ns = next[tc.dir_id];
      ns.next_segment = old.next_segment;
      if (mapped_) {  // the rows are in the table's mapped files: a manifest of them
        Encoder m;
        m.u64(capture.lsn);
        mapped_files(tc.dir_id, tc.name, schema)->encode(m, tc.loaded ? &tc.parts : nullptr, schema);
        manifests.emplace_back(tdir + "/" + manifest_name(true, capture.lsn), seal(kMappedMagic, kMappedVersion, m));
        for (const Table::CheckpointPart& part : tc.parts) {
          const size_t added = part.snap.rows - std::min(part.unchanged, part.snap.rows);
          res.rows_written += added;
          res.bytes_written += added * schema.row_width();
        }
        continue;
      }
      if (!tc.loaded) {  // its rows are still only in these files
        ns.units = old.units;
        ns.segments = old.segments;
      }
      // Every unit of the capture: its rows in a partition snapshot, and
      // what of it the previous checkpoint's pieces already hold.
      struct Source {
        const PartitionSnapshot* snap;
        size_t lo;
        size_t rows;
      };
      std::map<UnitKey, Source> sources;
      const int ts_col = schema.timestamp_index();
      for (const Table::CheckpointPart& part : tc.parts) {
        const PartitionSnapshot& snap = part.snap;
        const size_t unchanged = force_full_ ? 0 : part.unchanged;
        const int64_t* ts = ts_col >= 0 && snap.rows > 0 ? snap.data<int64_t>(static_cast<size_t>(ts_col)) : nullptr;
        size_t lo = 0;
        while (lo < snap.rows) {
          int64_t day = kNoDay;
          size_t hi = snap.rows;
          if (ts) {
            day = day_of(ts[lo]);
            const int64_t end = day >= INT64_MAX / kDayNs ? INT64_MAX : (day + 1) * kDayNs;
            hi = static_cast<size_t>(std::lower_bound(ts + lo, ts + snap.rows, end) - ts);
          }
          const UnitKey key{snap.key, day};
          Unit unit;
          if (!force_full_)
            if (auto it = old.units.find(key); it != old.units.end()) unit = it->second;
          // The old pieces stay when they still hold the unit's first rows.
          if (!(lo + unit.rows <= unchanged && unit.rows <= hi - lo)) {
            if (!unit.pieces.empty()) ++res.units_rewritten;
            unit = Unit{};
          }
          ns.units[key] = std::move(unit);
          sources[key] = {&snap, lo, hi - lo};
          lo = hi;
        }
      }
      if (tc.loaded) {
        // The old segments still referenced, and their live rows.
        std::map<uint64_t, uint64_t> live;
        std::map<int64_t, std::vector<std::pair<UnitKey, Unit*>>> days;  // each day's units, in symbol order
        for (auto& [key, unit] : ns.units) {
          days[key.second].emplace_back(key, &unit);
          for (const Piece& p : unit.pieces) live[p.segment] += p.rows;
        }
        std::map<int64_t, std::vector<uint64_t>> day_segments;  // the old ones still referenced, oldest first
        for (const auto& [id, rows] : live) {
          ns.segments[id] = old.segments.at(id);
          day_segments[ns.segments[id].day].push_back(id);
        }
        auto drop = [&](Unit& u) {
          for (const Piece& p : u.pieces) live[p.segment] -= p.rows;
          u = Unit{};
        };
        for (auto& [day, units] : days) {
          // Dead space: a segment less than half live has its units rewritten.
          for (bool again = true; again;) {
            again = false;
            for (auto& [key, u] : units)
              if (std::any_of(u->pieces.begin(), u->pieces.end(), [&](const Piece& p) {
                    return live[p.segment] * 2 < ns.segments.at(p.segment).rows;
                  })) {
                drop(*u);
                ++res.units_rewritten;
                again = true;
              }
          }
          std::vector<uint64_t> segs;  // the day's old segments still live, oldest first
          for (uint64_t id : day_segments[day])
            if (live[id] > 0) segs.push_back(id);
          uint64_t fresh = 0;  // rows the new segment gets
          for (const auto& [key, u] : units) fresh += sources.at(key).rows - u->rows;
          if (fresh == 0) continue;
          // The new segment absorbs the newest ones while they are no bigger
          // (or the day has too many): the tail piece of each of their units.
          while (!segs.empty() && (live[segs.back()] <= fresh || segs.size() + 1 > kMaxDaySegments)) {
            const uint64_t s = segs.back();
            segs.pop_back();
            for (auto& [key, u] : units)
              if (!u->pieces.empty() && u->pieces.back().segment == s) {
                const uint64_t n = u->pieces.back().rows;
                u->pieces.pop_back();
                u->rows -= n;
                live[s] -= n;
                fresh += n;
              }
          }
          // The new segment: the rows each unit's pieces do not hold yet,
          // unit after unit.
          const uint64_t id = ns.next_segment++;
          const std::string sdir = segment_dir(tdir, day, id);
          make_dirs(sdir);
          new_dirs.insert(sdir);
          std::vector<FileJob> jobs(schema.size());
          for (size_t c = 0; c < schema.size(); ++c)
            jobs[c] = {column_file(sdir, c, schema.column(c).name), schema.column(c).type, {}};
          uint64_t at = 0;
          for (auto& [key, u] : units) {
            Unit& unit = *u;
            const Source& src = sources.at(key);
            const size_t from = src.lo + unit.rows, n = src.rows - unit.rows;
            if (n == 0) continue;
            for (size_t c = 0; c < schema.size(); ++c) {
              const size_t w = type_width(schema.column(c).type);
              const uint8_t* v = src.snap->valid(c);
              jobs[c].chunks.push_back({src.snap->columns[c]->data() + from * w, v ? v + from : nullptr, n});
              res.bytes_written += n * w;
            }
            unit.pieces.push_back({id, at, n});
            unit.rows += n;
            at += n;
          }
          ns.segments[id] = {day, at};
          res.rows_written += at;
          res.files_written += schema.size();
          for (auto& j : jobs) files.push_back(std::move(j));
        }
        std::erase_if(ns.segments, [&](const auto& s) { return s.first < old.next_segment && live[s.first] == 0; });
      }
      Encoder m;
      m.u64(capture.lsn);
      m.u64(ns.next_segment);
      m.u64(ns.segments.size());
      for (const auto& [id, seg] : ns.segments) {
        m.u64(id);
        m.i64(seg.day);
        m.u64(seg.rows);
      }
      m.u64(ns.units.size());
      for (const auto& [key, unit] : ns.units) {
        m.i64(key.first);
        m.i64(key.second);
        m.u64(unit.pieces.size());
        for (const Piece& p : unit.pieces) {
          m.u64(p.segment);
          m.u64(p.first);
          m.u64(p.rows);
        }
      }
      manifests.emplace_back(tdir + "/" + manifest_name(false, capture.lsn),
                             seal(kManifestMagic, kManifestVersion, m));
      // What the old checkpoint of this table used and this one does not.
      for (const auto& [id, seg] : old.segments)
        if (!ns.segments.count(id)) obsolete.push_back(segment_dir(tdir, seg.day, id));
    }
    write_files(files);
    if (sync_) {
      if (mapped_) sync_filesystem(dir_);  // the mapped files, written as rows arrived
      // The new segments' directory entries, then their parents'.
      for (const auto& level : {new_dirs, parent_dirs(new_dirs), parent_dirs(parent_dirs(new_dirs))})
        for (const auto& d : level) fsync_dir(d);
      fsync_dir(dir_ + "/tables");
    }
    for (const auto& [path, body] : manifests) write_file_atomic(path, body, sync_);

    Encoder cat;
    cat.u64(capture.lsn);
    cat.u64(capture.tables.size());
    for (const TableCapture& tc : capture.tables) {
      cat.str(tc.name);
      cat.u64(tc.dir_id);
      cat.i64(tc.retention.ttl_ns);
      cat.u64(tc.retention.max_bytes);
      cat.schema(tc.schema);
    }
    cat.u64(capture.symbols.size());
    for (const auto& [id, name] : capture.symbols) {
      cat.i64(id);
      cat.str(name);
    }
    cat.i64(capture.max_symbol_id);
    write_file_atomic(dir_ + "/CATALOG", seal(kCatalogMagic, kCatalogVersion, cat), sync_);
  } catch (...) {
    force_full_ = true;
    throw;
  }
  // Committed. Remove what only older checkpoints used: the directories of
  // dropped tables, old manifests, segments no unit references any more.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_ + "/tables", ec)) {
    const std::string name = entry.path().filename().string();
    const uint64_t id = std::strtoull(name.c_str(), nullptr, 10);
    // (A table created after the capture may have files already: PURE_ON_DISK.)
    if (!next.count(id) && id <= capture.lsn) {
      remove_path(entry.path(), nullptr);
      continue;
    }
    for (const auto& f : fs::directory_iterator(entry.path(), ec))
      if (!f.is_directory() &&
          f.path().filename().string() != manifest_name(mapped_, capture.lsn))
        remove_path(f.path(), nullptr);
  }
  for (const auto& p : obsolete) {
    remove_path(p, nullptr);
    fs::remove(fs::path(p).parent_path(), ec);  // the day's directory, when that was its last segment
  }
  if (mapped_) {
    std::lock_guard lock(files_mu_);
    for (auto it = files_.begin(); it != files_.end();) {
      if (next.count(it->first)) {
        it->second->committed();
        ++it;
      } else if (it->first > capture.lsn) {
        ++it;  // created after this capture
      } else {
        it = files_.erase(it);  // a dropped table (its directory is gone)
      }
    }
  }
  tables_ = std::move(next);
  force_full_ = false;
  return res;
}

}  // namespace zepto::persist
