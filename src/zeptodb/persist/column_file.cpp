#include "zeptodb/persist/column_file.h"

#include <lz4.h>
#include <zstd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "zeptodb/common/error.h"
#include "zeptodb/persist/file_io.h"

namespace zepto::persist {

namespace {

constexpr char kMagic[4] = {'Z', 'C', 'O', 'L'};
constexpr uint16_t kVersion = 1;
constexpr size_t kHeaderBytes = 64;
constexpr size_t kBlockHeaderBytes = 32;
constexpr size_t kMaxBlockBytes = size_t{1} << 20;
constexpr uint8_t kFlagValidity = 1;
constexpr uint8_t kAllCodecs = (1u << 0) | (1u << 1) | (1u << 2);
constexpr int kZstdLevel = 1;
// kAuto: a block is stored with LZ4 when that saves at least a quarter of its
// bytes. A sample of this size at the block's start decides whether trying
// the whole block is worth it (random data then costs little).
constexpr size_t kAutoSampleBytes = 64 * 1024;

enum Stream : uint8_t { kValues = 0, kValidity = 1 };

size_t blocks_for(size_t rows, size_t rows_per_block) { return (rows + rows_per_block - 1) / rows_per_block; }

[[noreturn]] void corrupt(const std::string& path, const std::string& what) {
  throw_error(ErrorCode::kIOError, path + ": " + what + " (file is corrupt)");
}

std::string block_name(Stream s, size_t i) {
  return std::string(s == kValues ? "block " : "validity block ") + std::to_string(i);
}

// The byte-shuffle filter: the `rows` values of W bytes at `src` rearranged
// as W planes (the first byte of every value, then the second, ...), which
// turns the constant high bytes of most numeric columns into long runs that
// compress better and several times faster.
#if defined(__SSE2__)
// The even-indexed and the odd-indexed bytes of the 32 bytes x, y (x's first).
inline __m128i even_bytes(__m128i x, __m128i y) {
  const __m128i low = _mm_set1_epi16(0x00FF);
  return _mm_packus_epi16(_mm_and_si128(x, low), _mm_and_si128(y, low));
}
inline __m128i odd_bytes(__m128i x, __m128i y) { return _mm_packus_epi16(_mm_srli_epi16(x, 8), _mm_srli_epi16(y, 8)); }
#endif
template <size_t W>
void shuffle_planes(const char* src, char* dst, size_t rows) {
  size_t i = 0;
#if defined(__SSE2__)
  // 16 rows at a time: split their bytes by the lowest bit of the byte's
  // index within its value, then by the next bit (and, for 8 bytes, the
  // third): each split keeps the rows in order, and the last one leaves one
  // plane per register.
  auto load = [&](size_t k) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * W + 16 * k)); };
  auto store = [&](size_t b, __m128i v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + b * rows + i), v); };
  for (; i + 16 <= rows; i += 16) {
    if constexpr (W == 4) {
      const __m128i e0 = even_bytes(load(0), load(1)), e1 = even_bytes(load(2), load(3));  // bytes 0, 2
      const __m128i o0 = odd_bytes(load(0), load(1)), o1 = odd_bytes(load(2), load(3));    // bytes 1, 3
      store(0, even_bytes(e0, e1)), store(2, odd_bytes(e0, e1));
      store(1, even_bytes(o0, o1)), store(3, odd_bytes(o0, o1));
    } else {
      __m128i e[4], o[4];  // bytes 0, 2, 4, 6 and 1, 3, 5, 7
      for (size_t k = 0; k < 4; ++k) {
        e[k] = even_bytes(load(2 * k), load(2 * k + 1));
        o[k] = odd_bytes(load(2 * k), load(2 * k + 1));
      }
      const __m128i ee0 = even_bytes(e[0], e[1]), ee1 = even_bytes(e[2], e[3]);  // bytes 0, 4
      const __m128i eo0 = odd_bytes(e[0], e[1]), eo1 = odd_bytes(e[2], e[3]);    // bytes 2, 6
      const __m128i oe0 = even_bytes(o[0], o[1]), oe1 = even_bytes(o[2], o[3]);  // bytes 1, 5
      const __m128i oo0 = odd_bytes(o[0], o[1]), oo1 = odd_bytes(o[2], o[3]);    // bytes 3, 7
      store(0, even_bytes(ee0, ee1)), store(4, odd_bytes(ee0, ee1));
      store(2, even_bytes(eo0, eo1)), store(6, odd_bytes(eo0, eo1));
      store(1, even_bytes(oe0, oe1)), store(5, odd_bytes(oe0, oe1));
      store(3, even_bytes(oo0, oo1)), store(7, odd_bytes(oo0, oo1));
    }
  }
#endif
  for (; i < rows; ++i)
    for (size_t b = 0; b < W; ++b) dst[b * rows + i] = src[i * W + b];
}
template <size_t W>
void unshuffle_planes(const char* src, char* dst, size_t rows) {
  size_t i = 0;
#if defined(__SSE2__)
  // 16 rows at a time: interleave the planes' bytes, then pairs, then quads.
  auto load = [&](size_t b) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + b * rows + i)); };
  auto store = [&](size_t k, __m128i v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i * W + 16 * k), v); };
  for (; i + 16 <= rows; i += 16) {
    __m128i a0 = _mm_unpacklo_epi8(load(0), load(1)), a1 = _mm_unpackhi_epi8(load(0), load(1));
    __m128i a2 = _mm_unpacklo_epi8(load(2), load(3)), a3 = _mm_unpackhi_epi8(load(2), load(3));
    __m128i c0 = _mm_unpacklo_epi16(a0, a2), c1 = _mm_unpackhi_epi16(a0, a2);  // bytes 0-3 of rows 0-3, 4-7
    __m128i c2 = _mm_unpacklo_epi16(a1, a3), c3 = _mm_unpackhi_epi16(a1, a3);  // rows 8-11, 12-15
    if constexpr (W == 4) {
      store(0, c0), store(1, c1), store(2, c2), store(3, c3);
    } else {
      __m128i a4 = _mm_unpacklo_epi8(load(4), load(5)), a5 = _mm_unpackhi_epi8(load(4), load(5));
      __m128i a6 = _mm_unpacklo_epi8(load(6), load(7)), a7 = _mm_unpackhi_epi8(load(6), load(7));
      __m128i d0 = _mm_unpacklo_epi16(a4, a6), d1 = _mm_unpackhi_epi16(a4, a6);  // bytes 4-7
      __m128i d2 = _mm_unpacklo_epi16(a5, a7), d3 = _mm_unpackhi_epi16(a5, a7);
      store(0, _mm_unpacklo_epi32(c0, d0)), store(1, _mm_unpackhi_epi32(c0, d0));
      store(2, _mm_unpacklo_epi32(c1, d1)), store(3, _mm_unpackhi_epi32(c1, d1));
      store(4, _mm_unpacklo_epi32(c2, d2)), store(5, _mm_unpackhi_epi32(c2, d2));
      store(6, _mm_unpacklo_epi32(c3, d3)), store(7, _mm_unpackhi_epi32(c3, d3));
    }
  }
#endif
  for (; i < rows; ++i)
    for (size_t b = 0; b < W; ++b) dst[i * W + b] = src[b * rows + i];
}
// Widths the filter applies to (the others are stored unshuffled).
bool shufflable(size_t width) { return width == 4 || width == 8; }
void shuffle(const char* src, char* dst, size_t bytes, size_t width) {
  if (width == 8) shuffle_planes<8>(src, dst, bytes / 8);
  else shuffle_planes<4>(src, dst, bytes / 4);
}
void unshuffle(const char* src, char* dst, size_t bytes, size_t width) {
  if (width == 8) unshuffle_planes<8>(src, dst, bytes / 8);
  else unshuffle_planes<4>(src, dst, bytes / 4);
}

// How one block is stored.
struct Encoded {
  Codec codec;
  bool shuffled;           // the byte-shuffle filter was applied before the codec
  std::string_view bytes;  // the block's own bytes (kNone) or the encoder's scratch
};

// Compresses blocks under a policy into reusable scratch buffers.
class Encoder {
 public:
  explicit Encoder(CompressionPolicy policy) : policy_(policy) {}
  ~Encoder() {
    if (zctx_) ZSTD_freeCCtx(zctx_);
  }

  // How to store the `n` bytes at `raw`, values of `width` bytes.
  Encoded encode(const char* raw, size_t n, size_t width) {
    const Encoded plain{Codec::kNone, false, std::string_view(raw, n)};
    if (n == 0 || policy_ == CompressionPolicy::kNone) return plain;
    const bool shuffled = shufflable(width);
    if (policy_ == CompressionPolicy::kAuto && !last_auto_lz4_ && n > 2 * kAutoSampleBytes) {
      // A sample decides whether trying the whole block is worth it; it is
      // skipped while the blocks before compressed well.
      const char* sample = shuffled ? filtered(raw, kAutoSampleBytes, width) : raw;
      if (!saves_quarter(lz4(sample, kAutoSampleBytes).size(), kAutoSampleBytes)) return plain;
    }
    const char* in = shuffled ? filtered(raw, n, width) : raw;
    switch (policy_) {
      case CompressionPolicy::kLz4: return {Codec::kLz4, shuffled, lz4(in, n)};
      case CompressionPolicy::kZstd: return {Codec::kZstd, shuffled, zstd(in, n)};
      default: {
        std::string_view c = lz4(in, n);
        last_auto_lz4_ = saves_quarter(c.size(), n);
        return last_auto_lz4_ ? Encoded{Codec::kLz4, shuffled, c} : plain;
      }
    }
  }

 private:
  static bool saves_quarter(size_t stored, size_t raw) { return stored <= raw - raw / 4; }

  static char* reserve(std::unique_ptr<char[]>& buf, size_t& cap, size_t n) {
    if (n > cap) {
      buf.reset(new char[n]);
      cap = n;
    }
    return buf.get();
  }

  const char* filtered(const char* raw, size_t n, size_t width) {
    char* out = reserve(shuf_, shuf_cap_, n);
    shuffle(raw, out, n, width);
    return out;
  }

  std::string_view lz4(const char* raw, size_t n) {
    int bound = LZ4_compressBound(static_cast<int>(n));
    char* out = reserve(buf_, cap_, static_cast<size_t>(bound));
    int w = LZ4_compress_default(raw, out, static_cast<int>(n), bound);
    if (w <= 0) throw_error(ErrorCode::kInternal, "LZ4 compression failed");
    return {out, static_cast<size_t>(w)};
  }

  std::string_view zstd(const char* raw, size_t n) {
    if (!zctx_) zctx_ = ZSTD_createCCtx();
    size_t bound = ZSTD_compressBound(n);
    char* out = reserve(buf_, cap_, bound);
    size_t w = ZSTD_compressCCtx(zctx_, out, bound, raw, n, kZstdLevel);
    if (ZSTD_isError(w)) throw_error(ErrorCode::kInternal, std::string("zstd compression failed: ") + ZSTD_getErrorName(w));
    return {out, w};
  }

  CompressionPolicy policy_;
  bool last_auto_lz4_ = false;  // kAuto: the last block tried was stored with LZ4
  std::unique_ptr<char[]> buf_, shuf_;
  size_t cap_ = 0, shuf_cap_ = 0;
  ZSTD_CCtx* zctx_ = nullptr;
};

// With sync, the writer starts the writeback of every this many bytes as soon
// as they are written, so that the disk works while the next blocks are
// compressed and the final fsync has little left to wait for.
constexpr uint64_t kWritebackBytes = uint64_t{8} << 20;

// One stream of the rows of a list of chunks, handed out block by block.
class ChunkReader {
 public:
  ChunkReader(const std::vector<ColumnChunk>& chunks, Stream stream, size_t width)
      : chunks_(chunks), stream_(stream), width_(stream == kValues ? width : 1) {}

  // The next `n` rows' bytes, contiguous: in place when one chunk holds them
  // all, else gathered into scratch memory. Validity bytes come as 0 or 1.
  const char* next(size_t n) {
    skip_empty();
    if (stream_ == kValues && pos_ + n <= chunks_[chunk_].rows) {
      const char* p = static_cast<const char*>(chunks_[chunk_].data) + pos_ * width_;
      pos_ += n;
      return p;
    }
    if (scratch_.size() < n * width_) scratch_.resize(n * width_);
    for (size_t done = 0; done < n;) {
      skip_empty();
      const ColumnChunk& c = chunks_[chunk_];
      const size_t k = std::min(n - done, c.rows - pos_);
      char* out = scratch_.data() + done * width_;
      if (stream_ == kValues) {
        std::memcpy(out, static_cast<const char*>(c.data) + pos_ * width_, k * width_);
      } else if (c.valid == nullptr) {
        std::memset(out, 1, k);
      } else {
        for (size_t i = 0; i < k; ++i) out[i] = c.valid[pos_ + i] != 0;
      }
      pos_ += k;
      done += k;
    }
    return scratch_.data();
  }

 private:
  void skip_empty() {
    while (pos_ == chunks_[chunk_].rows) {
      ++chunk_;
      pos_ = 0;
    }
  }
  const std::vector<ColumnChunk>& chunks_;
  Stream stream_;
  size_t width_;
  size_t chunk_ = 0, pos_ = 0;  // the next row: row pos_ of chunks_[chunk_]
  std::vector<char> scratch_;
};

// Appends the blocks of one stream: `rows` rows of `width` bytes from `in`.
// `written_back` is the offset up to which writeback was started (with sync).
void write_stream(File& f, Encoder& enc, Stream stream, ChunkReader& in, size_t rows, size_t width,
                  size_t rows_per_block, uint8_t& codecs, bool sync, uint64_t& written_back) {
  char bh[kBlockHeaderBytes];
  for (size_t i = 0, done = 0; done < rows; ++i) {
    size_t n = std::min(rows_per_block, rows - done);
    const size_t raw = n * width;
    auto [codec, shuffled, stored] = enc.encode(in.next(n), raw, width);
    std::memset(bh, 0, sizeof bh);
    store_le<uint32_t>(bh + 0, static_cast<uint32_t>(n));
    store_le<uint32_t>(bh + 4, static_cast<uint32_t>(raw));
    store_le<uint32_t>(bh + 8, static_cast<uint32_t>(stored.size()));
    store_le<uint8_t>(bh + 12, static_cast<uint8_t>(codec));
    store_le<uint8_t>(bh + 13, stream);
    store_le<uint8_t>(bh + 14, shuffled ? 1 : 0);
    store_le<uint32_t>(bh + 16, static_cast<uint32_t>(i));
    store_le<uint32_t>(bh + 20, checksum32(stored.data(), stored.size()));
    store_le<uint32_t>(bh + 28, checksum32(bh, 28));
    f.write_parts({std::string_view(bh, sizeof bh), stored});
    codecs |= static_cast<uint8_t>(1u << static_cast<unsigned>(codec));
    done += n;
    if (sync && f.size() - written_back >= kWritebackBytes) {
      f.start_writeback(written_back, f.size() - written_back);
      written_back = f.size();
    }
  }
}

struct Header {
  ColumnFileInfo info;
  size_t rows_per_block = 0;
  size_t validity_rows_per_block = 0;
};

Header parse_header(const File& f, const std::string& path) {
  if (f.size() < kHeaderBytes)
    throw_error(ErrorCode::kIOError, path + ": file is truncated (" + std::to_string(f.size()) +
                                         " bytes, the header alone needs " + std::to_string(kHeaderBytes) + ")");
  char h[kHeaderBytes];
  f.pread(0, h, sizeof h);
  if (std::memcmp(h, kMagic, 4) != 0) throw_error(ErrorCode::kIOError, path + ": not a column file (bad magic)");
  uint16_t version = load_le<uint16_t>(h + 4);
  if (version != kVersion)
    throw_error(ErrorCode::kIOError, path + ": unsupported column file format version " + std::to_string(version) +
                                         " (this build reads version " + std::to_string(kVersion) + ")");
  if (checksum32(h, 60) != load_le<uint32_t>(h + 60)) corrupt(path, "header checksum mismatch");
  Header out;
  ColumnFileInfo& info = out.info;
  uint8_t type = load_le<uint8_t>(h + 6);
  if (type > static_cast<uint8_t>(ColumnType::SYMBOL)) corrupt(path, "unknown column type " + std::to_string(type));
  info.type = static_cast<ColumnType>(type);
  info.codecs = load_le<uint8_t>(h + 7);
  if (info.codecs & ~kAllCodecs) corrupt(path, "unknown codec in the header");
  uint8_t flags = load_le<uint8_t>(h + 8);
  if (flags & ~kFlagValidity) corrupt(path, "unknown header flags " + std::to_string(flags));
  info.has_validity = flags & kFlagValidity;
  info.rows = load_le<uint64_t>(h + 16);
  info.value_blocks = load_le<uint32_t>(h + 24);
  info.validity_blocks = load_le<uint32_t>(h + 28);
  info.file_bytes = load_le<uint64_t>(h + 32);
  out.rows_per_block = load_le<uint32_t>(h + 40);
  out.validity_rows_per_block = load_le<uint32_t>(h + 44);
  const size_t width = type_width(info.type);
  if (out.rows_per_block == 0 || out.rows_per_block * width > kMaxBlockBytes ||
      out.validity_rows_per_block == 0 || out.validity_rows_per_block > kMaxBlockBytes)
    corrupt(path, "bad block size in the header");
  if (info.value_blocks != blocks_for(info.rows, out.rows_per_block) ||
      info.validity_blocks != (info.has_validity ? blocks_for(info.rows, out.validity_rows_per_block) : 0))
    corrupt(path, "block count does not match the row count");
  if (info.file_bytes < f.size())
    corrupt(path, std::to_string(f.size() - info.file_bytes) + " unexpected bytes after the end of the data");
  if (info.file_bytes > f.size())
    throw_error(ErrorCode::kIOError, path + ": file is truncated (" + std::to_string(f.size()) + " of " +
                                         std::to_string(info.file_bytes) + " bytes)");
  return out;
}

// Scratch memory and contexts for reading compressed blocks.
struct Decoder {
  std::unique_ptr<char[]> stored, unfiltered;
  size_t stored_cap = 0, unfiltered_cap = 0;
  ZSTD_DCtx* dctx = nullptr;

  Decoder() = default;
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  ~Decoder() {
    if (dctx) ZSTD_freeDCtx(dctx);
  }
  static char* reserve(std::unique_ptr<char[]>& buf, size_t& cap, size_t n) {
    if (n > cap) {
      buf.reset(new char[n]);
      cap = n;
    }
    return buf.get();
  }
  // Decompresses `n` bytes at `src` into exactly `raw` bytes at `dst`.
  bool decompress(Codec codec, const char* src, size_t n, char* dst, size_t raw) {
    if (codec == Codec::kLz4) {
      int r = LZ4_decompress_safe(src, dst, static_cast<int>(n), static_cast<int>(raw));
      return r >= 0 && static_cast<size_t>(r) == raw;
    }
    if (!dctx) dctx = ZSTD_createDCtx();
    size_t r = ZSTD_decompressDCtx(dctx, dst, raw, src, n);
    return !ZSTD_isError(r) && r == raw;
  }
};

// Reads the header of block `i` of a stream at `offset` into `bh`, checking
// that it lies within the file and that its own checksum matches.
void read_block_header(const File& f, const std::string& path, Stream stream, size_t i, uint64_t offset,
                       uint64_t file_bytes, char* bh) {
  if (offset + kBlockHeaderBytes > file_bytes)
    corrupt(path, block_name(stream, i) + " header lies past the end of the file");
  f.pread(offset, bh, kBlockHeaderBytes);
  if (checksum32(bh, 28) != load_le<uint32_t>(bh + 28))
    corrupt(path, "checksum mismatch in the header of " + block_name(stream, i));
}

// Reads block `i` of a stream, whose header is at `offset` (advanced past
// the block), into `dst`, verifying it before using it; `rows` is how many
// rows the stream has from this block on. Returns the block's row count.
size_t read_block(const File& f, const std::string& path, Stream stream, size_t i, size_t rows,
                  size_t rows_per_block, size_t width, char* dst, uint64_t& offset, uint64_t file_bytes,
                  Decoder& dec) {
  char bh[kBlockHeaderBytes];
  const std::string name = block_name(stream, i);
  read_block_header(f, path, stream, i, offset, file_bytes, bh);
  const size_t n = load_le<uint32_t>(bh + 0), raw = load_le<uint32_t>(bh + 4), stored = load_le<uint32_t>(bh + 8);
  const uint8_t codec = load_le<uint8_t>(bh + 12), filter = load_le<uint8_t>(bh + 14);
  const size_t expect_rows = std::min(rows_per_block, rows);
  if (load_le<uint8_t>(bh + 13) != stream || load_le<uint32_t>(bh + 16) != i) corrupt(path, name + " is out of place");
  if (n != expect_rows || raw != n * width)
    corrupt(path, name + " holds " + std::to_string(n) + " rows, expected " + std::to_string(expect_rows));
  if (codec > static_cast<uint8_t>(Codec::kZstd)) corrupt(path, name + " uses unknown codec " + std::to_string(codec));
  if (filter > 1 || (filter == 1 && (codec == 0 || !shufflable(width))))
    corrupt(path, name + " uses unknown filter " + std::to_string(filter));
  if (codec == static_cast<uint8_t>(Codec::kNone) ? stored != raw : stored == 0)
    corrupt(path, name + " has a bad stored size " + std::to_string(stored));
  offset += kBlockHeaderBytes;
  if (offset + stored > file_bytes) corrupt(path, name + " lies past the end of the file");
  if (codec == static_cast<uint8_t>(Codec::kNone)) {
    f.pread(offset, dst, stored);
    if (checksum32(dst, stored) != load_le<uint32_t>(bh + 20)) corrupt(path, "checksum mismatch in " + name);
  } else {
    char* in = Decoder::reserve(dec.stored, dec.stored_cap, stored);
    f.pread(offset, in, stored);
    if (checksum32(in, stored) != load_le<uint32_t>(bh + 20)) corrupt(path, "checksum mismatch in " + name);
    char* target = filter ? Decoder::reserve(dec.unfiltered, dec.unfiltered_cap, raw) : dst;
    if (!dec.decompress(static_cast<Codec>(codec), in, stored, target, raw))
      corrupt(path, name + " does not decompress to its " + std::to_string(raw) + " bytes");
    if (filter) unshuffle(target, dst, raw, width);
  }
  offset += stored;
  return n;
}

}  // namespace

const char* codec_name(Codec c) {
  switch (c) {
    case Codec::kLz4: return "lz4";
    case Codec::kZstd: return "zstd";
    default: return "none";
  }
}

std::string ColumnFileInfo::codec_summary() const {
  std::string out;
  for (Codec c : {Codec::kLz4, Codec::kZstd, Codec::kNone})
    if (uses(c)) out += (out.empty() ? "" : "+") + std::string(codec_name(c));
  return out.empty() ? "none" : out;
}

void write_column_file(const std::string& path, ColumnType type, const void* data, const uint8_t* valid,
                       size_t rows, CompressionPolicy policy, bool sync, bool atomic) {
  write_column_file(path, type, {{data, valid, rows}}, policy, sync, atomic);
}

void write_column_file(const std::string& path, ColumnType type, const std::vector<ColumnChunk>& chunks,
                       CompressionPolicy policy, bool sync, bool atomic) {
  size_t rows = 0;
  bool has_validity = false;
  for (const ColumnChunk& c : chunks) {
    if (c.rows > 0 && c.data == nullptr)
      throw_error(ErrorCode::kInvalidArgument, path + ": no data for " + std::to_string(c.rows) + " rows");
    rows += c.rows;
    has_validity = has_validity || (c.valid != nullptr && std::memchr(c.valid, 0, c.rows) != nullptr);
  }
  const size_t width = type_width(type);
  const size_t rows_per_block = kMaxBlockBytes / width;
  const size_t validity_rows_per_block = kMaxBlockBytes;

  std::optional<AtomicFileWriter> replacing;
  std::optional<File> fresh;
  if (atomic) {
    replacing.emplace(path);
  } else {
    fresh.emplace(File::create(path));
  }
  File& f = atomic ? replacing->file() : *fresh;
  try {
    char h[kHeaderBytes] = {};
    f.write(h, sizeof h);  // the real header once the blocks are written
    Encoder enc(policy);
    uint8_t codecs = 0;
    uint64_t written_back = kHeaderBytes;
    ChunkReader values(chunks, kValues, width);
    write_stream(f, enc, kValues, values, rows, width, rows_per_block, codecs, sync, written_back);
    if (has_validity) {
      ChunkReader validity(chunks, kValidity, width);
      write_stream(f, enc, kValidity, validity, rows, 1, validity_rows_per_block, codecs, sync, written_back);
    }

    std::memcpy(h, kMagic, 4);
    store_le<uint16_t>(h + 4, kVersion);
    store_le<uint8_t>(h + 6, static_cast<uint8_t>(type));
    store_le<uint8_t>(h + 7, codecs);
    store_le<uint8_t>(h + 8, has_validity ? kFlagValidity : 0);
    store_le<uint64_t>(h + 16, rows);
    store_le<uint32_t>(h + 24, static_cast<uint32_t>(blocks_for(rows, rows_per_block)));
    store_le<uint32_t>(h + 28, static_cast<uint32_t>(has_validity ? blocks_for(rows, validity_rows_per_block) : 0));
    store_le<uint64_t>(h + 32, f.size());
    store_le<uint32_t>(h + 40, static_cast<uint32_t>(rows_per_block));
    store_le<uint32_t>(h + 44, static_cast<uint32_t>(validity_rows_per_block));
    store_le<uint32_t>(h + 60, checksum32(h, 60));
    f.write_at(0, h, sizeof h);
    if (atomic) {
      replacing->commit(sync);
    } else {
      if (sync) f.sync();
      f.close();
    }
  } catch (...) {
    if (!atomic) {
      fresh.reset();
      remove_file(path);
    }
    throw;
  }
}

ColumnFileInfo read_column_header(const std::string& path) {
  File f = File::open_read(path);
  return parse_header(f, path).info;
}

// One stream of a file being read in order: where its next block is, and
// the rest of the last block decoded.
struct StreamCursor {
  Stream stream = kValues;
  size_t width = 0;
  size_t rows_per_block = 0;
  uint64_t offset = 0;  // of the next block's header
  uint64_t end = 0;     // where the stream ends (the next one, or the end of the file)
  size_t block = 0;     // the next block's index
  size_t decoded = 0;   // rows of the stream decoded so far
  std::vector<char> buf;
  size_t buf_rows = 0, buf_pos = 0;
};

static StreamCursor stream_cursor(Stream stream, size_t width, size_t rows_per_block, uint64_t offset, uint64_t end) {
  StreamCursor c;
  c.stream = stream;
  c.width = width;
  c.rows_per_block = rows_per_block;
  c.offset = offset;
  c.end = end;
  return c;
}

struct ColumnFileReader::Impl {
  std::string path;
  File f;
  Header h;
  Decoder dec;
  StreamCursor values, validity;
  size_t left = 0;  // rows not read yet

  Impl(const std::string& p) : path(p), f(File::open_read(p)), h(parse_header(f, p)) {}

  // Copies the next `n` rows of the stream of `c` to `dst`.
  void take(StreamCursor& c, size_t n, char* dst) {
    const size_t rows = h.info.rows;
    while (n > 0) {
      if (c.buf_pos == c.buf_rows) {
        char* to = dst;  // a whole block wanted: decoded in place
        if (n < std::min(c.rows_per_block, rows - c.decoded)) {
          c.buf.resize(c.rows_per_block * c.width);
          to = c.buf.data();
        }
        const size_t k = read_block(f, path, c.stream, c.block++, rows - c.decoded, c.rows_per_block, c.width, to,
                                    c.offset, h.info.file_bytes, dec);
        c.decoded += k;
        if (c.decoded == rows && c.offset != c.end)
          corrupt(path, std::to_string(c.end - c.offset) + " unexpected bytes after the last block");
        if (to == dst) {
          dst += k * c.width;
          n -= k;
          continue;
        }
        c.buf_rows = k;
        c.buf_pos = 0;
      }
      const size_t k = std::min(n, c.buf_rows - c.buf_pos);
      std::memcpy(dst, c.buf.data() + c.buf_pos * c.width, k * c.width);
      c.buf_pos += k;
      dst += k * c.width;
      n -= k;
    }
  }
};

ColumnFileReader::ColumnFileReader(const std::string& path, std::optional<ColumnType> expected)
    : impl_(std::make_unique<Impl>(path)) {
  Impl& r = *impl_;
  const ColumnFileInfo& info = r.h.info;
  if (expected && *expected != info.type)
    throw_error(ErrorCode::kIOError, path + ": column type is " + std::string(type_name(info.type)) + ", expected " +
                                         std::string(type_name(*expected)));
  r.left = info.rows;
  r.values = stream_cursor(kValues, type_width(info.type), r.h.rows_per_block, kHeaderBytes, info.file_bytes);
  if (info.has_validity) {
    // The validity stream starts after the last value block: walk the headers.
    uint64_t at = kHeaderBytes;
    char bh[kBlockHeaderBytes];
    for (size_t i = 0; i < info.value_blocks; ++i) {
      read_block_header(r.f, path, kValues, i, at, info.file_bytes, bh);
      at += kBlockHeaderBytes + load_le<uint32_t>(bh + 8);
    }
    r.values.end = at;
    r.validity = stream_cursor(kValidity, 1, r.h.validity_rows_per_block, at, info.file_bytes);
  }
  if (info.rows == 0 && info.file_bytes != kHeaderBytes)
    corrupt(path, std::to_string(info.file_bytes - kHeaderBytes) + " unexpected bytes after the last block");
}

ColumnFileReader::~ColumnFileReader() = default;
ColumnFileReader::ColumnFileReader(ColumnFileReader&&) noexcept = default;
ColumnFileReader& ColumnFileReader::operator=(ColumnFileReader&&) noexcept = default;

const ColumnFileInfo& ColumnFileReader::info() const { return impl_->h.info; }
const std::string& ColumnFileReader::path() const { return impl_->path; }
size_t ColumnFileReader::rows_left() const { return impl_->left; }

void ColumnFileReader::read(size_t n, void* values, uint8_t* validity) {
  Impl& r = *impl_;
  if (n > r.left)
    throw_error(ErrorCode::kInvalidArgument, r.path + ": " + std::to_string(n) + " rows asked for, " +
                                                 std::to_string(r.left) + " left");
  r.take(r.values, n, static_cast<char*>(values));
  if (r.h.info.has_validity) r.take(r.validity, n, reinterpret_cast<char*>(validity));
  r.left -= n;
}

ColumnFileData read_column_file(const std::string& path, const std::shared_ptr<MemoryTracker>& tracker,
                                size_t min_capacity_rows, std::optional<ColumnType> expected) {
  ColumnFileReader reader(path, expected);
  const ColumnFileInfo& info = reader.info();
  const size_t capacity = std::max<size_t>({info.rows, min_capacity_rows, 1});
  ColumnFileData out;
  out.type = info.type;
  out.rows = info.rows;
  out.values = Block::allocate(capacity * type_width(info.type), tracker);
  if (info.has_validity) out.validity = Block::allocate(capacity, tracker);
  reader.read(info.rows, out.values->data(),
              info.has_validity ? reinterpret_cast<uint8_t*>(out.validity->data()) : nullptr);
  return out;
}

}  // namespace zepto::persist
