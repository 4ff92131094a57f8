#include "zeptodb/storage/block.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include "zeptodb/common/error.h"

#if defined(__linux__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#define ZEPTO_HAVE_MREMAP 1
#endif

namespace zepto {

namespace {

constexpr size_t kLine = 64;
constexpr size_t kPage = 4096;
constexpr size_t kHugePage = size_t{2} << 20;
// Blocks at least this big get a mapping of their own (and can grow in place),
// while the process has mappings to spare (see mapping_budget()).
constexpr size_t kOwnMappingMin = 16 * 1024;
// allocate_many() shares one mapping when the blocks add up to this much.
constexpr size_t kSharedMappingMin = size_t{4} << 20;
// A block with a mapping of its own reserves this many times its size in
// address space, so that it can grow in place without moving (moving a
// mapping makes every core drop its cached translations of it).
constexpr size_t kReserveFactor = 4;
// From this size up such a block uses huge pages: the one partly beyond its
// capacity wastes little next to the rest.
constexpr size_t kOwnHugeMin = size_t{16} << 20;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

[[noreturn]] void out_of_memory(size_t bytes) {
  throw_error(ErrorCode::kOutOfMemory,
              "out of memory allocating " + std::to_string(bytes) + " bytes of column storage");
}

// Charges `bytes` to `tracker` (if any) and gives them back on scope exit
// unless dismissed.
class Charge {
 public:
  Charge(MemoryTracker* tracker, size_t bytes) : tracker_(tracker), bytes_(bytes) {
    if (tracker_) tracker_->charge(bytes_);
  }
  ~Charge() {
    if (tracker_ && bytes_) tracker_->release(bytes_);
  }
  void keep(size_t bytes) { bytes_ -= bytes; }  // `bytes` now belong to a Block

 private:
  MemoryTracker* tracker_;
  size_t bytes_;
};

#if ZEPTO_HAVE_MREMAP
// Blocks with mappings of their own, and how many of them may exist: half of
// the kernel's limit on mappings per process (vm.max_map_count), leaving the
// rest to the allocator and everything else in the process. Past it, new
// blocks come from the heap.
std::atomic<size_t> g_own_mappings{0};

size_t mapping_budget() {
  static const size_t budget = [] {
    size_t limit = 65530;  // the usual default
    if (FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
      unsigned long v = 0;
      if (std::fscanf(f, "%lu", &v) == 1 && v > 0) limit = v;
      std::fclose(f);
    }
    return limit / 2;
  }();
  return budget;
}

// Zero-filled pages, `bytes` a multiple of the page size; nullptr on failure.
// With `huge`, the mapping starts on a huge-page boundary and asks for
// transparent huge pages (a hint: without them it works the same, slower).
// With `reserve`, address space only: pages beyond what is written cost
// nothing, and the system does not set memory aside for them.
std::byte* map_pages(size_t bytes, bool huge, bool reserve) {
  const size_t span = huge ? bytes + kHugePage : bytes;
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | (reserve ? MAP_NORESERVE : 0);
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  auto* start = static_cast<std::byte*>(raw);
  if (!huge) return start;
  auto addr = reinterpret_cast<uintptr_t>(raw);
  auto* aligned = reinterpret_cast<std::byte*>(round_up(addr, kHugePage));
  if (aligned > start) munmap(start, static_cast<size_t>(aligned - start));
  std::byte* end = aligned + bytes;
  if (end < start + span) munmap(end, static_cast<size_t>(start + span - end));
#ifdef MADV_HUGEPAGE
  madvise(aligned, bytes, MADV_HUGEPAGE);
#endif
  return aligned;
}

// Faults in [p, p + bytes) now, in one system call: about half the cost of
// taking the page faults one by one as the rows arrive. For memory about to be
// written that has no huge pages (whose faults are cheap already).
void populate(std::byte* p, size_t bytes) {
#ifdef MADV_POPULATE_WRITE
  if (bytes > 0) madvise(p, bytes, MADV_POPULATE_WRITE);  // a hint: fails on old kernels
#endif
}

[[noreturn]] void file_error(const std::string& path, const char* what, int err) {
  throw_error(ErrorCode::kIOError, path + ": " + what + ": " + std::strerror(err));
}

// An open descriptor, closed on scope exit.
struct Fd {
  int fd;
  Fd(const std::string& path, int flags) : fd(::open(path.c_str(), flags | O_CLOEXEC, 0644)) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// Makes the file at least `bytes` long with disk space set aside for all of
// it: later writes through a mapping cannot fail for want of space (which
// would be a SIGBUS, not an error).
void reserve_file(const Fd& f, const std::string& path, size_t bytes) {
  if (int rc = posix_fallocate(f.fd, 0, static_cast<off_t>(bytes)); rc != 0)
    file_error(path, "cannot set aside disk space", rc);
}
#endif

}  // namespace

namespace {
thread_local int t_unchecked = 0;
}  // namespace

MemoryTracker::Unchecked::Unchecked() { ++t_unchecked; }
MemoryTracker::Unchecked::~Unchecked() { --t_unchecked; }

void MemoryTracker::charge(size_t bytes) {
  size_t prev = used_.fetch_add(bytes, std::memory_order_relaxed);
  if (limit_ != 0 && t_unchecked == 0 && prev + bytes > limit_) {
    used_.fetch_sub(bytes, std::memory_order_relaxed);
    throw_error(ErrorCode::kOutOfMemory,
                "memory limit reached: " + std::to_string(prev) + " of " + std::to_string(limit_) +
                    " bytes in use, " + std::to_string(bytes) + " more requested");
  }
}

// One mapping that several Blocks are carved out of; unmapped with the last.
struct Block::SharedMapping {
  std::byte* base;
  size_t bytes;
  SharedMapping(std::byte* b, size_t n) : base(b), bytes(n) {}
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;
  ~SharedMapping() {
#if ZEPTO_HAVE_MREMAP
    munmap(base, bytes);
#endif
  }
};

std::shared_ptr<Block> Block::allocate(size_t bytes, std::shared_ptr<MemoryTracker> tracker) {
#if ZEPTO_HAVE_MREMAP
  if (bytes >= kOwnMappingMin &&
      g_own_mappings.load(std::memory_order_relaxed) < mapping_budget()) {
    const size_t cap = round_up(bytes, kPage);
    Charge charge(tracker.get(), cap);
    size_t span = cap * kReserveFactor;
    std::byte* p = map_pages(span, cap >= kOwnHugeMin, true);
    if (p == nullptr) p = map_pages(span = cap, cap >= kOwnHugeMin, false);  // strict overcommit
    if (p != nullptr) {
      g_own_mappings.fetch_add(1, std::memory_order_relaxed);
      populate(p, cap);
      std::shared_ptr<Block> b;
      try {
        b.reset(new Block(p, cap, std::move(tracker)));
      } catch (...) {
        munmap(p, span);
        g_own_mappings.fetch_sub(1, std::memory_order_relaxed);
        throw;
      }
      b->map_bytes_ = span;
      charge.keep(cap);
      return b;
    }
    // Out of mappings (vm.max_map_count) or address space: try the heap.
  }
#endif
  const size_t cap = bytes == 0 ? kLine : round_up(bytes, kLine);
  Charge charge(tracker.get(), cap);
  void* p = std::aligned_alloc(kLine, cap);
  if (p == nullptr) out_of_memory(cap);
  std::shared_ptr<Block> b;
  try {
    b.reset(new Block(static_cast<std::byte*>(p), cap, std::move(tracker)));
  } catch (...) {
    std::free(p);
    throw;
  }
  charge.keep(cap);
  return b;
}

std::vector<std::shared_ptr<Block>> Block::allocate_many(const std::vector<size_t>& bytes,
                                                         const std::shared_ptr<MemoryTracker>& tracker) {
  std::vector<std::shared_ptr<Block>> out;
  out.reserve(bytes.size());
  size_t total = 0;
  for (size_t b : bytes) total += b == 0 ? kLine : round_up(b, kLine);
#if ZEPTO_HAVE_MREMAP
  if (bytes.size() > 1 && total >= kSharedMappingMin) {
    Charge charge(tracker.get(), total);
    const size_t span = round_up(total, kPage);
    std::byte* base = map_pages(span, span >= kHugePage, false);
    if (base != nullptr) {
      std::shared_ptr<SharedMapping> shared;
      try {
        shared = std::make_shared<SharedMapping>(base, span);
      } catch (...) {
        munmap(base, span);
        throw;
      }
      std::byte* at = base;
      for (size_t b : bytes) {
        const size_t cap = b == 0 ? kLine : round_up(b, kLine);
        std::shared_ptr<Block> blk(new Block(at, cap, tracker));
        blk->shared_ = shared;
        charge.keep(cap);
        out.push_back(std::move(blk));
        at += cap;
      }
      return out;
    }
  }
#endif
  for (size_t b : bytes) out.push_back(allocate(b, tracker));
  return out;
}

std::shared_ptr<Block> Block::map_file(const std::string& path, size_t bytes, bool create, size_t header) {
#if ZEPTO_HAVE_MREMAP
  Fd f(path, create ? O_RDWR | O_CREAT | O_TRUNC : O_RDWR);
  if (f.fd < 0) file_error(path, create ? "cannot create" : "cannot open", errno);
  size_t cap = 0;
  if (create) {
    cap = round_up(std::max<size_t>(bytes, 1), kPage);
    reserve_file(f, path, header + cap);
  } else {
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) file_error(path, "cannot read its size", errno);
    if (static_cast<size_t>(st.st_size) < header)
      throw_error(ErrorCode::kIOError, path + ": shorter than its " + std::to_string(header) + "-byte header (file is torn)");
    cap = static_cast<size_t>(st.st_size) - header;
  }
  if (g_own_mappings.load(std::memory_order_relaxed) >= mapping_budget())
    throw_error(ErrorCode::kOutOfMemory, "out of memory mappings mapping " + path +
                                             " (one per column of each partition: raise vm.max_map_count)");
  // Address space for growing in place, as for memory blocks; the pages past
  // the end of the file are never touched.
  size_t span = (header + std::max(cap, kPage)) * kReserveFactor;
  void* p = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
  if (p == MAP_FAILED)
    p = mmap(nullptr, span = header + std::max(cap, kPage), PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
  if (p == MAP_FAILED) file_error(path, "cannot map", errno);
  g_own_mappings.fetch_add(1, std::memory_order_relaxed);
  std::byte* data = static_cast<std::byte*>(p) + header;
  if (create) populate(data, cap);  // rows are about to be written
  std::shared_ptr<Block> b;
  try {
    b.reset(new Block(data, cap, nullptr));
    b->map_bytes_ = span;
    b->header_ = header;
    b->file_ = std::make_unique<std::string>(path);
  } catch (...) {
    if (!b) {
      munmap(p, span);
      g_own_mappings.fetch_sub(1, std::memory_order_relaxed);
    }
    throw;
  }
  return b;
#else
  (void)bytes;
  (void)create;
  throw_error(ErrorCode::kNotAvailable, "memory-mapped column files need Linux: " + path);
#endif
}

const std::string& Block::file() const {
  static const std::string none;
  return file_ ? *file_ : none;
}

bool Block::grow_in_place(size_t bytes) {
  if (bytes <= capacity_) return true;
#if ZEPTO_HAVE_MREMAP
  if (map_bytes_ == 0) return false;
  if (file_) {
    const size_t cap = round_up(bytes, kPage);
    {
      Fd f(*file_, O_RDWR);
      if (f.fd < 0) file_error(*file_, "cannot open", errno);
      reserve_file(f, *file_, header_ + cap);
    }
    if (header_ + cap > map_bytes_) {
      size_t span = (header_ + cap) * kReserveFactor;
      void* p = mremap(data_ - header_, map_bytes_, span, MREMAP_MAYMOVE);
      if (p == MAP_FAILED) p = mremap(data_ - header_, map_bytes_, span = header_ + cap, MREMAP_MAYMOVE);
      if (p == MAP_FAILED) return false;
      data_ = static_cast<std::byte*>(p) + header_;
      map_bytes_ = span;
    }
    populate(data_ + capacity_, cap - capacity_);
    capacity_ = cap;
    return true;
  }

  const size_t cap = round_up(bytes, kPage);
  Charge charge(tracker_.get(), cap - capacity_);
  if (cap > map_bytes_) {  // past the reservation: move to a larger one
    size_t span = cap * kReserveFactor;
    void* p = mremap(data_, map_bytes_, span, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) p = mremap(data_, map_bytes_, span = cap, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) return false;
    data_ = static_cast<std::byte*>(p);
    map_bytes_ = span;
  }
#ifdef MADV_HUGEPAGE
  if (cap >= kOwnHugeMin && capacity_ < kOwnHugeMin) madvise(data_, map_bytes_, MADV_HUGEPAGE);
#endif
  populate(data_ + capacity_, cap - capacity_);
  charge.keep(cap - capacity_);
  capacity_ = cap;
  return true;
#else
  return false;
#endif
}

Block::~Block() {
#if ZEPTO_HAVE_MREMAP
  if (shared_) {
    // Neighbours keep the mapping alive: give back the whole pages of this
    // block now rather than when the last of them dies.
    if (shared_.use_count() > 1) {
      auto lo = round_up(reinterpret_cast<uintptr_t>(data_), kPage);
      auto hi = (reinterpret_cast<uintptr_t>(data_) + capacity_) / kPage * kPage;
      if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
    }
  } else if (map_bytes_ != 0) {
    munmap(data_ - header_, map_bytes_);
    g_own_mappings.fetch_sub(1, std::memory_order_relaxed);
  } else {
    std::free(data_);
  }
#else
  std::free(data_);
#endif
  if (tracker_) tracker_->release(capacity_);
}

}  // namespace zepto
