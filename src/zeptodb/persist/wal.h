// The write-ahead log: every accepted batch is appended here before it is
// acknowledged, and replayed after a restart.
//
// On-disk format (all integers little-endian):
//
//   <dir>/wal-<LSN of its first record, 20 decimal digits>.log   one segment
//
//   segment header, 16 bytes:
//     [4]  magic "ZWAL"
//     [u32] format version (1)
//     [u64] LSN of the segment's first record (the number in the file name)
//   then records, back to back up to the end of the file:
//     [u32] payload length in bytes
//     [u32] checksum: CRC-32 (zlib) of the payload bytes, continued over the
//           8 LSN bytes and then the 4 length bytes
//     [u64] LSN
//     [payload]
//
// LSNs are 1, 2, 3, ... with no gap, across segments too: a segment's first
// LSN is one past the last LSN of the segment before it. A segment may hold
// no record (its header still records where the LSNs continue). A new
// segment is started when the current one would pass WalOptions::segment_bytes
// (a single record bigger than that gets a segment of its own size); unless
// the policy is kNone the previous one is fsynced first, so a later segment
// exists only if every earlier one is whole on disk.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "zeptodb/persist/file_io.h"

namespace zepto::persist {

// When an appended record reaches the disk (as opposed to the OS's cache).
enum class FsyncPolicy {
  kAlways,  // commit() returns once the record is on disk (concurrent commits share one fdatasync).
  kBatch,   // a background thread fdatasyncs every batch_interval_ms; commit() does not wait.
  kNone,    // the log is fsynced only by sync() and at shutdown (and a long-closed segment to bound open files).
};

// The policy's name as users write it: "always", "batch" or "none".
const char* fsync_policy_name(FsyncPolicy policy);
// The policy named `name` (case-insensitive); throws kInvalidArgument listing the valid names otherwise.
FsyncPolicy parse_fsync_policy(std::string_view name);

struct WalOptions {
  std::string dir;                  // the directory of the segment files; created if missing
  FsyncPolicy fsync = FsyncPolicy::kBatch;
  uint32_t batch_interval_ms = 10;  // the group-commit period of kBatch
  size_t segment_bytes = 64 << 20;  // a record that would take a segment past this size starts a new one
  // Records of at least this many bytes are written with direct I/O (DirectAppender) where the file system
  // allows it, smaller ones through the page cache; 0: never direct.
  size_t direct_bytes = size_t{4} << 20;
};

struct WalStats {
  uint64_t records = 0;      // records appended through this object (minus those undone)
  uint64_t bytes = 0;        // bytes of those records, headers included
  uint64_t syncs = 0;        // fdatasync calls made to make records durable
  uint64_t segments = 0;     // segment files the log has now
  uint64_t last_lsn = 0;     // the LSN of the last record (0: none yet)
  uint64_t durable_lsn = 0;  // every record up to this LSN is on disk
};

// A write-ahead log in one directory. Thread-safe, except that replay() must
// run (once) before anything else is called.
class Wal {
 public:
  // Opens the log in options.dir, creating the directory if missing; existing segments are kept for replay().
  explicit Wal(WalOptions options);
  // Makes every appended record durable (as sync()) and stops the background thread; errors are ignored.
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  struct ReplayResult {
    uint64_t records = 0;     // records passed to fn (those with LSN > after)
    uint64_t last_lsn = 0;    // the LSN the next append follows: the last intact record's, or `after` if larger
    uint64_t torn_bytes = 0;  // bytes cut off the end of the log (a write the crash interrupted)
  };
  // Calls fn(lsn, payload) for each intact record with LSN > after, in LSN order; `payload` is valid during the
  // call only. A torn or corrupt tail (no intact record after it) is cut off the files and counted in torn_bytes;
  // a bad record followed by intact ones throws kIOError naming the segment and offset. Must be called once,
  // before the first append; if `after` is past the last record, the log restarts at after + 1.
  ReplayResult replay(uint64_t after, const std::function<void(uint64_t lsn, std::string_view payload)>& fn);

  // Appends one record whose payload is the concatenation of `parts` (written with one writev, never copied)
  // and returns its LSN. On return the record is in the OS (it survives a crash of the process), not necessarily
  // on disk; on error (kIOError naming the file and reason) nothing of the record stays in the file.
  uint64_t append(const std::vector<std::string_view>& parts);
  // Removes record `lsn`, which must be the last one appended (and not yet undone); throws kInvalidArgument if
  // it is not.
  void undo(uint64_t lsn);
  // Returns once record `lsn` is durable per the policy: under kAlways when it is on disk (concurrent callers
  // share one fdatasync), under kBatch and kNone at once. Throws kIOError if an fdatasync failed.
  void commit(uint64_t lsn);
  // Makes every record appended so far durable now, whatever the policy.
  void sync();
  // Deletes the segments that hold only records <= lsn (those are stored elsewhere now), first starting a new
  // segment if the current one holds only such records.
  void truncate_through(uint64_t lsn);

  // The LSN of the last record appended (0: none).
  uint64_t last_lsn() const { return last_lsn_.load(std::memory_order_acquire); }
  // Counters and LSNs of the log; see WalStats.
  WalStats stats() const;

 private:
  struct Segment {
    uint64_t first_lsn;
    std::string path;
  };

  std::string segment_path(uint64_t first_lsn) const;
  // Creates the segment file starting at `first_lsn`, header written (and made durable unless kNone).
  std::shared_ptr<File> create_segment(uint64_t first_lsn);
  // Syncs the current segment and continues the log in a new one. Needs mu_.
  void roll_over();
  // Makes records up to `lsn` durable: one caller syncs, the callers arriving meanwhile wait for it.
  void sync_through(uint64_t lsn);
  void background_loop();
  void require_replayed(const char* what) const;

  const WalOptions options_;

  mutable std::mutex mu_;             // the segments and the appending state below
  std::vector<Segment> segments_;     // every segment file, oldest first; the last is current_
  std::shared_ptr<File> current_;     // shared with a syncer that may still be syncing it
  DirectAppender direct_;             // writes the big records to current_
  // kNone: closed segments not synced yet (at most kMaxUnsyncedSegments; the oldest is synced to make room).
  static constexpr size_t kMaxUnsyncedSegments = 8;
  std::vector<std::shared_ptr<File>> unsynced_;
  uint64_t last_record_offset_ = 0;   // where the last record starts in current_ (0: cannot undo)
  uint64_t records_ = 0, bytes_ = 0;
  bool replayed_ = false;
  std::atomic<uint64_t> last_lsn_{0};
  std::atomic<uint64_t> undo_epoch_{0};  // bumped by undo(), so an fdatasync in flight does not count

  mutable std::mutex sync_mu_;  // durable_lsn_, syncs_, syncing_
  std::condition_variable sync_cv_;
  bool syncing_ = false;
  uint64_t durable_lsn_ = 0;
  uint64_t syncs_ = 0;
  std::string sync_error_;  // the last failed background sync, reported by commit()

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool stop_ = false;
  std::thread background_;  // kBatch only
};

}  // namespace zepto::persist
