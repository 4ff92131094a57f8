// Small, exact file utilities for the persist layer: checksums, atomic
// whole-file writes, directory helpers and an append-only File.
//
// Every failure throws Error(kIOError) with a message that names the path and
// the reason (the system's strerror text, e.g. "No space left on device").
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct iovec;

namespace zepto::persist {

static_assert(std::endian::native == std::endian::little, "the on-disk formats are little endian, like the host");

// The integer field of type T at `p` of an on-disk (little-endian) structure.
template <class T>
T load_le(const void* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// Stores `v` as the little-endian field at `p`.
template <class T>
void store_le(void* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

// CRC-32 (the zlib/IEEE polynomial) of `n` bytes at `data`. Chainable: the
// CRC of a+b is checksum32(b, checksum32(a)).
uint32_t checksum32(const void* data, size_t n, uint32_t seed = 0);

// The whole contents of `path`.
std::string read_file(const std::string& path);
// True if `path` exists (a file, a directory or anything else).
bool file_exists(const std::string& path);
// Creates `dir` and its missing parents; an existing directory is fine.
void make_dirs(const std::string& dir);
// Makes the entries of `dir` (creations, renames, removals) durable.
void fsync_dir(const std::string& dir);
// Removes the file `path`; a missing file is fine.
void remove_file(const std::string& path);
// Removes `path` and, if it is a directory, everything below it; missing is fine.
void remove_tree(const std::string& path);
// The names of the entries of `dir` (without "." and ".."), sorted.
std::vector<std::string> list_dir(const std::string& dir);
// The directory part of `path` ("." when it has none).
std::string parent_dir(const std::string& path);

// An open file written by appending, readable with pread(). Not thread-safe.
// Moving transfers the descriptor; the destructor closes it (ignoring errors:
// call close() to see them).
class File {
 public:
  // Creates `path` empty (truncating an existing file) for reading and appending.
  static File create(const std::string& path);
  // Opens `path` for reading and appending at its end, creating it if missing.
  static File open_append(const std::string& path);
  // Opens an existing `path` for reading only (write() then fails).
  static File open_read(const std::string& path);

  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  // Appends `n` bytes, retrying partial writes and EINTR. On failure the file
  // is truncated back to its size before the call (no partial data stays)
  // and Error(kIOError) names the path and the system's reason.
  void write(const void* data, size_t n);
  // Appends the parts in order with as few system calls as possible
  // (writev); all or nothing, like write().
  void write_parts(const std::vector<std::string_view>& parts);
  // Overwrites `n` bytes at `offset` (which must be within the file's size
  // or at its end); the size grows if the range passes the end.
  void write_at(uint64_t offset, const void* data, size_t n);
  // Makes the data written so far durable (fdatasync).
  void sync();
  // Asks the system to start writing the bytes in [offset, offset + n) to
  // disk without waiting for it, so that a later sync() has less to wait for.
  void start_writeback(uint64_t offset, uint64_t n);
  // The size of the file in bytes (as written through this object, or as
  // found when it was opened).
  uint64_t size() const { return size_; }
  // Cuts (or extends with zeros) the file to `size` bytes.
  void truncate(uint64_t size);
  // Reads exactly `n` bytes at `offset` into `dst`; fewer bytes available
  // means the file is truncated: Error(kIOError) says so with the offset.
  void pread(uint64_t offset, void* dst, size_t n) const;
  // Closes the file, reporting an error the system reports on close.
  void close();

  const std::string& path() const { return path_; }
  bool is_open() const { return fd_ >= 0; }

 private:
  File(int fd, std::string path, uint64_t size) : fd_(fd), path_(std::move(path)), size_(size) {}
  // Appends the iovecs in [iov, iov+count) totalling `total` bytes.
  void append_iov(::iovec* iov, int count, size_t total);

  friend class DirectAppender;

  int fd_ = -1;
  std::string path_;
  uint64_t size_ = 0;
};

// Appends big writes to Files with direct I/O (O_DIRECT): the bytes go from
// staging buffers of this object straight to the device, instead of being
// copied into page-cache memory that the system must first find (and, in a
// virtual machine, often have the host back) and later write out. The calling
// thread copies the parts into the staging buffers, taking their CRC-32 in
// the same pass, while a second thread writes the staged chunks, so copying,
// checksumming and the device's work overlap. The partly filled block at the
// end of the file is read back and rewritten, and the zeros that pad the last
// block are cut off again: the file ends exactly where the parts do. One
// caller at a time; the buffers (8 MiB) are kept between calls.
class DirectAppender {
 public:
  DirectAppender() = default;
  ~DirectAppender();
  DirectAppender(const DirectAppender&) = delete;
  DirectAppender& operator=(const DirectAppender&) = delete;

  // Appends parts[0], parts[1], ... to `file`, all or nothing like File::write_parts(). parts[0] (a header of at
  // most 4 KiB) is written last: once the other parts are staged, finish_header(crc) is called with
  // checksum32() of their concatenation and may fill in parts[0]'s bytes. Returns false, with the file as it
  // was, if the file system refuses direct I/O; every later call then returns false at once.
  bool append(File& file, const std::vector<std::string_view>& parts,
              const std::function<void(uint32_t crc)>& finish_header);
  // Closes the direct descriptor of the last file written (it is reopened when needed).
  void release();

 private:
  struct FreeAligned {
    void operator()(char* p) const;
  };
  // Opens fd_ for `file` unless it is open already; false if direct I/O is refused.
  bool open_for(const File& file);

  std::unique_ptr<char[], FreeAligned> mem_;  // the staging chunks, then the head blocks
  int fd_ = -1;                               // an O_DIRECT descriptor of path_
  std::string path_;
  bool refused_ = false;  // direct I/O was refused: append() returns false
  bool proven_ = false;   // a direct append has succeeded (EINVAL later is an error, not a refusal)
};

// Writes a new version of `path` that appears whole or not at all: the bytes
// go to `path` + ".tmp", which commit() renames over `path`. Destroying the
// writer without commit() removes the temporary file; `path` is untouched.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::string& path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // The temporary file, for appending the new contents.
  File& file() { return file_; }
  // With `sync`: fsyncs the temporary file, renames it over `path`, then
  // fsyncs the directory. Without: only the rename. Throws Error(kIOError)
  // (and removes the temporary file) if any step fails.
  void commit(bool sync);

 private:
  std::string path_;
  std::string tmp_;
  File file_;
  bool done_ = false;
};

// Replaces `path` with `bytes` atomically (through AtomicFileWriter). On any
// failure the old file stays intact and Error(kIOError) names the problem.
void write_file_atomic(const std::string& path, std::string_view bytes, bool sync = true);

}  // namespace zepto::persist
