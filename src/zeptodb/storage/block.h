// Reference-counted column memory and the memory budget it is charged to.
//
// A Block is one contiguous, 64-byte aligned buffer. Column buffers are
// Blocks held by std::shared_ptr: when a column grows it moves to a new,
// larger Block, and the old one stays alive for as long as a reader (a query,
// a NumPy view, an Arrow export) still holds it. A view can never dangle.
//
// Where the memory comes from is the Block's business: small blocks from the
// heap, large ones from their own memory mapping (so that a block nobody else
// holds can grow by remapping its pages instead of copying them), and blocks
// allocated together in bulk from one shared mapping. Mappings of 2 MB or
// more ask for transparent huge pages, which makes the first write to fresh
// memory several times cheaper than with 4 KB pages.
//
// A Block can also be a file's contents (map_file(), for PURE_ON_DISK): a
// shared mapping, so writes go to the file through the page cache, and the
// system may evict its pages when memory runs short.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace zepto {

// Counts bytes held by Blocks against an optional limit (0 = no limit).
// Shared by every Block of a database and outlives them all.
class MemoryTracker {
 public:
  explicit MemoryTracker(size_t limit_bytes = 0) : limit_(limit_bytes) {}

  // Charges `bytes`; throws Error(kOutOfMemory) if the limit would be passed
  // (unless an Unchecked scope is alive on this thread).
  void charge(size_t bytes);

  // While one is alive, charges made by this thread do not check the limit:
  // for the copy-on-write of a batch that is already being published, which
  // must not fail halfway (the limit is then passed until the old blocks go).
  class Unchecked {
   public:
    Unchecked();
    ~Unchecked();
    Unchecked(const Unchecked&) = delete;
    Unchecked& operator=(const Unchecked&) = delete;
  };
  void release(size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  size_t used() const { return used_.load(std::memory_order_relaxed); }
  size_t limit() const { return limit_; }

 private:
  std::atomic<size_t> used_{0};
  size_t limit_;
};

class Block {
 public:
  // Allocates at least `bytes` charged to `tracker` (a null tracker: not
  // charged, for scratch memory). Throws Error(kOutOfMemory) when the
  // tracker's limit or the system refuses. The contents are unspecified.
  static std::shared_ptr<Block> allocate(size_t bytes, std::shared_ptr<MemoryTracker> tracker);

  // One block per entry of `bytes`, all or none (throws like allocate()).
  // When they add up to several megabytes they are carved out of one shared
  // mapping: one system call and huge pages instead of many small mappings.
  // A block that dies before its neighbours gives its pages back at once.
  static std::vector<std::shared_ptr<Block>> allocate_many(const std::vector<size_t>& bytes,
                                                           const std::shared_ptr<MemoryTracker>& tracker);

  // A block over the file `path`, mapped shared: its bytes are the file's.
  // With `create`, makes the file (replacing one of that name) with disk space
  // for `bytes` set aside, so that writing into the block cannot fail for
  // want of space; else maps the existing file whole (capacity = its size,
  // `bytes` ignored). Not charged to any tracker: its pages are the page
  // cache's. Throws Error(kIOError) naming the path and the reason (a full
  // disk, a missing file) and Error(kOutOfMemory) when the process is out of
  // mappings (vm.max_map_count). The file's first `header` bytes (a multiple
  // of the page size) are mapped too but are not part of the block: data()
  // starts after them, and header() points at them.
  static std::shared_ptr<Block> map_file(const std::string& path, size_t bytes, bool create, size_t header = 0);

  ~Block();
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

  std::byte* data() { return data_; }
  const std::byte* data() const { return data_; }
  size_t capacity() const { return capacity_; }

  // True if grow_in_place() can work: the block has a mapping of its own.
  bool growable_in_place() const { return map_bytes_ != 0; }
  // Makes the block hold at least `bytes`, keeping its contents, by
  // remapping its pages (no copy); data() may change. Only for a block that
  // no one else holds. Throws Error(kOutOfMemory) at the tracker's limit;
  // returns false (block unchanged) if the system cannot remap.
  // (For a file block, the file grows too; a full disk throws Error(kIOError).)
  bool grow_in_place(size_t bytes);

  // The file of a map_file() block; empty for memory.
  const std::string& file() const;
  // A map_file() block's header bytes (before data()).
  std::byte* header() { return data_ - header_; }
  const std::byte* header() const { return data_ - header_; }

  // Bytes [0, frozen()) must not be changed in place: they are what a
  // committed checkpoint describes (a file block). A writer that must change
  // them copies the block instead. Only grows; 0 for memory blocks.
  void freeze(size_t bytes) {
    size_t cur = frozen_.load(std::memory_order_relaxed);
    while (cur < bytes && !frozen_.compare_exchange_weak(cur, bytes, std::memory_order_relaxed)) {
    }
  }
  size_t frozen() const { return frozen_.load(std::memory_order_relaxed); }

 private:
  struct SharedMapping;

  Block(std::byte* data, size_t capacity, std::shared_ptr<MemoryTracker> tracker)
      : data_(data), capacity_(capacity), tracker_(std::move(tracker)) {}

  std::byte* data_;
  size_t capacity_;
  std::shared_ptr<MemoryTracker> tracker_;
  size_t map_bytes_ = 0;                   // length of the block's own mapping, 0 if none
  std::shared_ptr<SharedMapping> shared_;  // set when carved out of a shared mapping
  std::unique_ptr<std::string> file_;      // map_file(): the file's path
  size_t header_ = 0;                      // map_file(): file bytes before data_ (mapped too)
  std::atomic<size_t> frozen_{0};
};

using BlockPtr = std::shared_ptr<Block>;

// True if `b` is the only reference to its block. A caller that holds the
// lock every other reference is taken under may then change the block in
// place: the others are gone, and their last reads happened before (the
// release of their reference, then the acquire fence here). ThreadSanitizer
// does not model such fences, so under it this is always false and callers
// take their copy-on-write path instead.
inline bool sole_owner(const BlockPtr& b) {
#if defined(__SANITIZE_THREAD__)
  return false;
#else
  if (b.use_count() != 1) return false;
  std::atomic_thread_fence(std::memory_order_acquire);
  return true;
#endif
}

}  // namespace zepto
