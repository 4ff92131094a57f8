#include "zeptodb/persist/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>

#include "zeptodb/common/error.h"

namespace zepto::persist {

namespace {

[[noreturn]] void io_error(const std::string& path, const std::string& what, int err) {
  throw_error(ErrorCode::kIOError, path + ": " + what + ": " + std::strerror(err));
}

// Opens `path` with `flags`, retrying EINTR; throws naming `what` on failure.
int open_fd(const std::string& path, int flags, const char* what) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) io_error(path, what, errno);
  return fd;
}

uint64_t fd_size(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    io_error(path, "cannot stat", err);
  }
  return static_cast<uint64_t>(st.st_size);
}

// CRC-32 by carry-less multiplication (PCLMULQDQ), for x86-64 CPUs that have
// it: the data is folded 64 bytes at a time into four 128-bit remainders
// that keep the data's residue modulo the CRC polynomial, then into one; the
// last 16 bytes of that remainder plus the data's tail (< 16 bytes) have the
// same CRC as the whole, which zlib computes. Registers hold the message's
// bits in order (bit i of a little-endian load is the coefficient of
// x^(127-i)); a carry-less product of two such 64-bit halves comes out
// multiplied by x, hence the exponents minus one below.
#if defined(__x86_64__)

// x^n modulo the CRC-32 polynomial, as the 64-bit operand of a reflected
// carry-less multiply (coefficient of x^d at bit 63-d).
uint64_t xpow_mod_reflected(unsigned n) {
  uint64_t v = 1;
  for (unsigned i = 0; i < n; ++i) {
    v <<= 1;
    if (v & (1ull << 32)) v ^= 0x104C11DB7ull;
  }
  uint64_t r = 0;
  for (unsigned d = 0; d < 32; ++d)
    if (v >> d & 1) r |= 1ull << (63 - d);
  return r;
}

struct FoldConstants {
  // {x^(T+63), x^(T-1)} mod P for folding across T bits: the low half of a
  // remainder holds its higher 64 coefficients, the high half its lower ones.
  uint64_t by512[2], by128[2];
  FoldConstants()
      : by512{xpow_mod_reflected(512 + 63), xpow_mod_reflected(512 - 1)},
        by128{xpow_mod_reflected(128 + 63), xpow_mod_reflected(128 - 1)} {}
};

__attribute__((target("pclmul,sse2"))) inline __m128i fold(__m128i r, __m128i k, __m128i next) {
  return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(r, k, 0x00), _mm_clmulepi64_si128(r, k, 0x11)), next);
}

// The zlib CRC-32 of `n` >= 64 bytes continuing `seed`.
__attribute__((target("pclmul,sse2"))) uint32_t checksum32_clmul(const unsigned char* p, size_t n, uint32_t seed) {
  static const FoldConstants c;
  const __m128i kfar = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c.by512));
  const __m128i k128 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c.by128));
  auto load = [](const unsigned char* q) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)); };
  constexpr int kLanes = 4;  // independent remainders of 16 bytes each, to keep the multiplier busy
  __m128i r[kLanes];
  for (int i = 0; i < kLanes; ++i) r[i] = load(p + 16 * i);
  // zlib's running state is the complement of the seed; it enters as the first 32 message bits.
  r[0] = _mm_xor_si128(r[0], _mm_cvtsi32_si128(static_cast<int>(~seed)));
  p += 16 * kLanes;
  n -= 16 * kLanes;
  for (; n >= 16 * kLanes; p += 16 * kLanes, n -= 16 * kLanes)
    for (int i = 0; i < kLanes; ++i) r[i] = fold(r[i], kfar, load(p + 16 * i));
  __m128i acc = r[0];
  for (int i = 1; i < kLanes; ++i) acc = fold(acc, k128, r[i]);
  for (; n >= 16; p += 16, n -= 16) acc = fold(acc, k128, load(p));
  alignas(16) unsigned char rest[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(rest), acc);
  // State 0 over the remainder's bytes: zlib's crc32() with seed ~0.
  uLong crc = ::crc32(0xFFFFFFFFul, rest, 16);
  return static_cast<uint32_t>(::crc32(crc, p, static_cast<uInt>(n)));
}

bool have_clmul() {
  static const bool yes = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
  return yes;
}

#endif

}  // namespace

uint32_t checksum32(const void* data, size_t n, uint32_t seed) {
  auto* p = static_cast<const Bytef*>(data);
#if defined(__x86_64__)
  if (n >= 256 && have_clmul()) return checksum32_clmul(p, n, seed);  // about 3x zlib's speed
#endif
  uLong crc = seed;
  while (n > 0) {  // crc32() takes a uInt length
    uInt step = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = ::crc32(crc, p, step);
    p += step;
    n -= step;
  }
  return static_cast<uint32_t>(crc);
}

std::string read_file(const std::string& path) {
  File f = File::open_read(path);
  std::string out(f.size(), '\0');
  f.pread(0, out.data(), out.size());
  f.close();
  return out;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

void make_dirs(const std::string& dir) {
  if (dir.empty()) return;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) io_error(prefix, "cannot create directory", errno);
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) io_error(dir, "cannot create directory", errno);
  if (!S_ISDIR(st.st_mode)) io_error(dir, "cannot create directory", ENOTDIR);
}

void fsync_dir(const std::string& dir) {
  int fd = open_fd(dir, O_RDONLY | O_DIRECTORY, "cannot open directory");
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    io_error(dir, "cannot sync directory", err);
  }
  ::close(fd);
}

void remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) io_error(path, "cannot remove", errno);
}

void remove_tree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    io_error(path, "cannot remove", errno);
  }
  if (S_ISDIR(st.st_mode)) {
    for (const std::string& name : list_dir(path)) remove_tree(path + "/" + name);
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) io_error(path, "cannot remove directory", errno);
  } else {
    remove_file(path);
  }
}

std::vector<std::string> list_dir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) io_error(dir, "cannot list directory", errno);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string parent_dir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// ---- File ----

File File::create(const std::string& path) {
  int fd = open_fd(path, O_RDWR | O_CREAT | O_TRUNC, "cannot create file");
  return File(fd, path, 0);
}

File File::open_append(const std::string& path) {
  int fd = open_fd(path, O_RDWR | O_CREAT, "cannot open file");
  return File(fd, path, fd_size(fd, path));
}

File File::open_read(const std::string& path) {
  int fd = open_fd(path, O_RDONLY, "cannot open file");
  return File(fd, path, fd_size(fd, path));
}

File::File(File&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)), size_(other.size_) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    size_ = other.size_;
  }
  return *this;
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

void File::append_iov(iovec* iov, int count, size_t total) {
  if (fd_ < 0) throw_error(ErrorCode::kIOError, path_ + ": cannot write: the file is closed");
  const uint64_t start = size_;
  size_t done = 0;
  while (done < total) {
    ssize_t w = ::pwritev(fd_, iov, std::min(count, IOV_MAX), static_cast<off_t>(start + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      // No partial data stays behind (best effort: a device cannot be cut).
      [[maybe_unused]] int rc = ::ftruncate(fd_, static_cast<off_t>(start));
      io_error(path_, "cannot write " + std::to_string(total) + " bytes at offset " + std::to_string(start), err);
    }
    if (w == 0) {
      [[maybe_unused]] int rc = ::ftruncate(fd_, static_cast<off_t>(start));
      io_error(path_, "cannot write " + std::to_string(total) + " bytes at offset " + std::to_string(start), ENOSPC);
    }
    done += static_cast<size_t>(w);
    // Skip the iovecs written in full and advance into a partly written one.
    size_t n = static_cast<size_t>(w);
    while (count > 0 && n >= iov->iov_len) {
      n -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + n;
      iov->iov_len -= n;
    }
  }
  size_ = start + total;
}

void File::write(const void* data, size_t n) {
  iovec v{const_cast<void*>(data), n};
  append_iov(&v, 1, n);
}

void File::write_parts(const std::vector<std::string_view>& parts) {
  std::vector<iovec> iov;
  iov.reserve(parts.size());
  size_t total = 0;
  for (std::string_view p : parts) {
    if (p.empty()) continue;
    iov.push_back(iovec{const_cast<char*>(p.data()), p.size()});
    total += p.size();
  }
  append_iov(iov.data(), static_cast<int>(iov.size()), total);
}

void File::write_at(uint64_t offset, const void* data, size_t n) {
  if (offset > size_)
    throw_error(ErrorCode::kIOError, path_ + ": cannot write at offset " + std::to_string(offset) +
                                         " past the end of the file (" + std::to_string(size_) + " bytes)");
  auto* p = static_cast<const char*>(data);
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::pwrite(fd_, p + done, n - done, static_cast<off_t>(offset + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) io_error(path_, "cannot write at offset " + std::to_string(offset + done), w < 0 ? errno : ENOSPC);
    done += static_cast<size_t>(w);
  }
  size_ = std::max<uint64_t>(size_, offset + n);
}

void File::sync() {
  if (::fdatasync(fd_) != 0) io_error(path_, "cannot sync", errno);
}

void File::start_writeback(uint64_t offset, uint64_t n) {
#if defined(__linux__)
  // A hint: on failure sync() still does the whole job.
  ::sync_file_range(fd_, static_cast<off64_t>(offset), static_cast<off64_t>(n), SYNC_FILE_RANGE_WRITE);
#endif
}

void File::truncate(uint64_t size) {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) io_error(path_, "cannot truncate", errno);
  size_ = size;
}

void File::pread(uint64_t offset, void* dst, size_t n) const {
  auto* p = static_cast<char*>(dst);
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      io_error(path_, "cannot read " + std::to_string(n) + " bytes at offset " + std::to_string(offset), errno);
    }
    if (r == 0)
      throw_error(ErrorCode::kIOError, path_ + ": unexpected end of file reading " + std::to_string(n) +
                                           " bytes at offset " + std::to_string(offset) + " (file is truncated)");
    done += static_cast<size_t>(r);
  }
}

void File::close() {
  if (fd_ < 0) return;
  int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 && errno != EINTR) io_error(path_, "cannot close", errno);
}

// ---- DirectAppender ----

namespace {

// Direct I/O moves whole blocks: offsets, lengths and buffer addresses are
// multiples of this (common devices' logical block is 512 or 4096 bytes).
constexpr size_t kBlock = 4096;
constexpr size_t kChunk = size_t{2} << 20;  // one staged write
constexpr size_t kSlots = 4;                // staged chunks in flight
constexpr size_t kHead = 2 * kBlock;        // the first blocks, written last (they hold the header)
constexpr size_t kCrcStep = size_t{256} << 10;  // copied, then checksummed while in cache

}  // namespace

void DirectAppender::FreeAligned::operator()(char* p) const { std::free(p); }

DirectAppender::~DirectAppender() { release(); }

void DirectAppender::release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  path_.clear();
}

bool DirectAppender::open_for(const File& file) {
#if defined(O_DIRECT)
  if (fd_ >= 0 && path_ == file.path()) return true;
  release();
  int fd;
  do {
    fd = ::open(file.path().c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == EINVAL) return false;
    io_error(file.path(), "cannot open for direct I/O", errno);
  }
  fd_ = fd;
  path_ = file.path();
  if (!mem_) {
    mem_.reset(static_cast<char*>(std::aligned_alloc(kBlock, kSlots * kChunk + kHead)));
    if (!mem_) throw_error(ErrorCode::kIOError, file.path() + ": cannot allocate direct I/O buffers");
  }
  return true;
#else
  (void)file;
  return false;
#endif
}

bool DirectAppender::append(File& file, const std::vector<std::string_view>& parts,
                            const std::function<void(uint32_t crc)>& finish_header) {
  if (refused_) return false;
  if (file.fd_ < 0) throw_error(ErrorCode::kIOError, file.path() + ": cannot write: the file is closed");
  if (parts.empty() || parts[0].size() > kBlock)
    throw_error(ErrorCode::kInvalidArgument, "DirectAppender: the first part must be a header of at most 4 KiB");
  if (!open_for(file)) {
    refused_ = true;
    return false;
  }
  const uint64_t start = file.size_;
  const uint64_t pos0 = start & ~uint64_t{kBlock - 1};
  const size_t lead = static_cast<size_t>(start - pos0);  // the file's bytes in the partly filled last block
  size_t total = 0;
  for (std::string_view p : parts) total += p.size();
  char* const head = mem_.get() + kSlots * kChunk;

  // The chunks staged and not yet written, as a ring of slots; the writer takes them in order.
  struct Job {
    const char* data;
    size_t n;
    uint64_t offset;
  };
  std::mutex mu;
  std::condition_variable cv;
  Job jobs[kSlots];
  size_t queued = 0, taken = 0;  // jobs handed over / taken by the writer
  bool staged_all = false;
  int error = 0;
  uint64_t error_offset = 0;

  auto write_job = [&](const Job& j) {
    size_t done = 0;
    while (done < j.n) {
      ssize_t w = ::pwrite(fd_, j.data + done, j.n - done, static_cast<off_t>(j.offset + done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return std::pair{w < 0 ? errno : ENOSPC, j.offset + done};
      done += static_cast<size_t>(w);
    }
    return std::pair{0, uint64_t{0}};
  };
  auto writer = [&] {
    std::unique_lock lk(mu);
    for (;;) {
      cv.wait(lk, [&] { return taken < queued || staged_all || error; });
      if (error || taken == queued) return;
      const Job j = jobs[taken % kSlots];
      lk.unlock();
      auto [err, off] = write_job(j);
      lk.lock();
      ++taken;
      if (err && !error) {
        error = err;
        error_offset = off;
      }
      cv.notify_all();
    }
  };
  std::thread thread;
  try {
    thread = std::thread(writer);
  } catch (const std::system_error&) {  // no second thread: each chunk is written as it is staged
  }
  auto stop_writer = [&] {
    if (!thread.joinable()) return;
    {
      std::lock_guard lk(mu);
      staged_all = true;
    }
    cv.notify_all();
    thread.join();
  };
  // Hands a staged chunk over (to the writer, or writes it here without one).
  auto submit = [&](const char* data, size_t n, uint64_t offset) {
    if (!thread.joinable()) {
      if (!error) std::tie(error, error_offset) = write_job({data, n, offset});
      return;
    }
    std::lock_guard lk(mu);
    jobs[queued % kSlots] = {data, n, offset};
    ++queued;
    cv.notify_all();
  };
  // Waits until the slot of the next chunk is written out; false once a write has failed.
  auto next_slot_free = [&] {
    if (!thread.joinable()) return error == 0;
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return queued - taken < kSlots || error; });
    return error == 0;
  };
  // Chunk c is staged in slot c % kSlots.
  auto slot = [&](size_t i) { return mem_.get() + (i % kSlots) * kChunk; };

  uint32_t crc = 0;
  try {
    size_t chunk = 0;  // chunks staged so far
    char* cur = slot(0);
    size_t fill = lead;
    if (lead) file.pread(pos0, cur, lead);
    fill += parts[0].size();  // the header's room: its bytes go into `head` at the end
    // Hands chunk `chunk` (`n` bytes at cur) over, keeping the first one's head blocks for the end, and
    // moves on to the next slot once it is free.
    auto hand_over = [&](size_t n) {
      const uint64_t offset = pos0 + chunk * kChunk;
      if (chunk == 0) {
        std::memcpy(head, cur, std::min(n, kHead));
        submit(cur + std::min(n, kHead), n - std::min(n, kHead), offset + std::min(n, kHead));
      } else {
        submit(cur, n, offset);
      }
      cur = slot(++chunk);
      fill = 0;
      return next_slot_free();
    };
    bool ok = true;
    for (size_t i = 1; i < parts.size() && ok; ++i) {
      std::string_view p = parts[i];
      while (!p.empty() && ok) {
        const size_t take = std::min({p.size(), kChunk - fill, kCrcStep});
        std::memcpy(cur + fill, p.data(), take);
        crc = checksum32(cur + fill, take, crc);
        fill += take;
        p.remove_prefix(take);
        if (fill == kChunk) ok = hand_over(fill);
      }
    }
    if (ok && fill) {
      const size_t padded = (fill + kBlock - 1) & ~(kBlock - 1);
      std::memset(cur + fill, 0, padded - fill);
      ok = hand_over(padded);
    }
    stop_writer();
  } catch (...) {
    stop_writer();
    [[maybe_unused]] int rc = ::ftruncate(file.fd_, static_cast<off_t>(start));
    throw;
  }
  // The header, then the head blocks that hold it.
  if (!error) {
    finish_header(crc);
    std::memcpy(head + lead, parts[0].data(), parts[0].size());
    const uint64_t stream = lead + total;
    const size_t head_n = static_cast<size_t>(std::min<uint64_t>(kHead, (stream + kBlock - 1) & ~uint64_t{kBlock - 1}));
    auto [err, off] = write_job({head, head_n, pos0});
    error = err;
    error_offset = off;
  }
  if (error) {
    [[maybe_unused]] int rc = ::ftruncate(file.fd_, static_cast<off_t>(start));
    if (error == EINVAL && !proven_) {  // the device or file system wants another alignment, or no direct I/O
      refused_ = true;
      release();
      return false;
    }
    io_error(file.path(), "cannot write " + std::to_string(total) + " bytes at offset " + std::to_string(error_offset),
             error);
  }
  // The last block was padded with zeros: the file ends where the parts do.
  const uint64_t end = start + total;
  if ((end & (kBlock - 1)) != 0 && ::ftruncate(file.fd_, static_cast<off_t>(end)) != 0) {
    const int err = errno;
    [[maybe_unused]] int rc = ::ftruncate(file.fd_, static_cast<off_t>(start));
    io_error(file.path(), "cannot truncate to " + std::to_string(end) + " bytes", err);
  }
  file.size_ = end;
  proven_ = true;
  return true;
}

// ---- AtomicFileWriter ----

AtomicFileWriter::AtomicFileWriter(const std::string& path)
    : path_(path), tmp_(path + ".tmp"), file_(File::create(tmp_)) {}

AtomicFileWriter::~AtomicFileWriter() {
  if (!done_) ::unlink(tmp_.c_str());  // file_ closes its descriptor after this
}

void AtomicFileWriter::commit(bool sync) {
  try {
    if (sync) file_.sync();
    file_.close();
    if (::rename(tmp_.c_str(), path_.c_str()) != 0)
      io_error(path_, "cannot replace with " + tmp_, errno);
    done_ = true;
  } catch (...) {
    ::unlink(tmp_.c_str());
    done_ = true;
    throw;
  }
  if (sync) fsync_dir(parent_dir(path_));
}

void write_file_atomic(const std::string& path, std::string_view bytes, bool sync) {
  AtomicFileWriter w(path);
  w.file().write(bytes.data(), bytes.size());
  w.commit(sync);
}

}  // namespace zepto::persist
