#include "zeptodb/server/compression.h"

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "zeptodb/common/error.h"
#include "zeptodb/common/strings.h"

namespace zepto::server {

namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

[[noreturn]] void corrupt(std::string_view what) {
  throw_error(ErrorCode::kInvalidArgument, "cannot decompress the request body (" + std::string(what) + ")");
}

void check_limit(size_t size, size_t limit) {
  if (size > limit)
    throw_error(ErrorCode::kOutOfMemory, "the decompressed request body exceeds the limit of " + std::to_string(limit) + " bytes");
}

std::string inflate_all(std::string_view data, size_t limit, int window_bits) {
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK) corrupt("zlib");
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      corrupt("gzip/deflate data is corrupt or truncated");
    }
    out.append(buf, sizeof buf - z.avail_out);
    check_limit(out.size(), limit);
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
      inflateEnd(&z);
      corrupt("gzip/deflate data is truncated");
    }
  }
  inflateEnd(&z);
  return out;
}

class ZlibCompressor : public Compressor {
 public:
  ZlibCompressor(bool gzip, int level) {
    deflateInit2(&z_, level > 0 ? level : 3, Z_DEFLATED, gzip ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY);
  }
  ~ZlibCompressor() override { deflateEnd(&z_); }
  void write(std::string_view in, bool last, std::string& out) override {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    char buf[1 << 16];
    int flush = last ? Z_FINISH : Z_NO_FLUSH;
    do {
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = sizeof buf;
      deflate(&z_, flush);
      out.append(buf, sizeof buf - z_.avail_out);
    } while (z_.avail_out == 0 || (last && z_.avail_in > 0));
  }

 private:
  z_stream z_{};
};

class ZstdCompressor : public Compressor {
 public:
  explicit ZstdCompressor(int level) : ctx_(ZSTD_createCCtx()) {
    ZSTD_CCtx_setParameter(ctx_, ZSTD_c_compressionLevel, level > 0 ? level : 1);
  }
  ~ZstdCompressor() override { ZSTD_freeCCtx(ctx_); }
  void write(std::string_view in, bool last, std::string& out) override {
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    std::vector<char> buf(ZSTD_CStreamOutSize());
    ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
    while (true) {
      ZSTD_outBuffer output{buf.data(), buf.size(), 0};
      size_t remaining = ZSTD_compressStream2(ctx_, &output, &input, mode);
      out.append(buf.data(), output.pos);
      if (ZSTD_isError(remaining)) throw_error(ErrorCode::kInternal, "zstd compression failed");
      if (last ? remaining == 0 : input.pos == input.size) break;
    }
  }

 private:
  ZSTD_CCtx* ctx_;
};

class Lz4Compressor : public Compressor {
 public:
  Lz4Compressor() { LZ4F_createCompressionContext(&ctx_, LZ4F_VERSION); }
  ~Lz4Compressor() override { LZ4F_freeCompressionContext(ctx_); }
  void write(std::string_view in, bool last, std::string& out) override {
    if (!started_) {
      char header[LZ4F_HEADER_SIZE_MAX];
      size_t n = LZ4F_compressBegin(ctx_, header, sizeof header, nullptr);
      out.append(header, n);
      started_ = true;
    }
    size_t step = 1 << 20;
    for (size_t pos = 0; pos < in.size(); pos += step) {
      size_t n = std::min(step, in.size() - pos);
      std::vector<char> buf(LZ4F_compressBound(n, nullptr));
      size_t w = LZ4F_compressUpdate(ctx_, buf.data(), buf.size(), in.data() + pos, n, nullptr);
      if (LZ4F_isError(w)) throw_error(ErrorCode::kInternal, "lz4 compression failed");
      out.append(buf.data(), w);
    }
    if (last) {
      std::vector<char> buf(LZ4F_compressBound(0, nullptr) + 16);
      size_t w = LZ4F_compressEnd(ctx_, buf.data(), buf.size(), nullptr);
      out.append(buf.data(), w);
    }
  }

 private:
  LZ4F_cctx* ctx_ = nullptr;
  bool started_ = false;
};

}  // namespace

Encoding parse_content_encoding(std::string_view value) {
  std::string v = to_lower(trim(value));
  if (v.empty() || v == "identity") return Encoding::kIdentity;
  if (v == "gzip" || v == "x-gzip") return Encoding::kGzip;
  if (v == "deflate") return Encoding::kDeflate;
  if (v == "zstd") return Encoding::kZstd;
  if (v == "lz4") return Encoding::kLz4;
  throw_error(ErrorCode::kInvalidArgument, "unsupported Content-Encoding '" + std::string(value) +
                                               "' (supported: gzip, deflate, zstd, lz4)");
}

Encoding choose_encoding(std::string_view accept) {
  bool gzip = false, deflate = false, zstd = false, lz4 = false;
  size_t pos = 0;
  while (pos <= accept.size()) {
    size_t end = accept.find(',', pos);
    if (end == std::string_view::npos) end = accept.size();
    std::string item = to_lower(trim(accept.substr(pos, end - pos)));
    std::string name = item.substr(0, item.find(';'));
    bool refused = item.find("q=0") != std::string::npos && item.find("q=0.") == std::string::npos;
    if (!refused) {
      name = trim(name);
      gzip |= name == "gzip";
      deflate |= name == "deflate";
      zstd |= name == "zstd";
      lz4 |= name == "lz4";
    }
    pos = end + 1;
  }
  if (zstd) return Encoding::kZstd;
  if (lz4) return Encoding::kLz4;
  if (gzip) return Encoding::kGzip;
  if (deflate) return Encoding::kDeflate;
  return Encoding::kIdentity;
}

std::string_view encoding_name(Encoding e) {
  switch (e) {
    case Encoding::kGzip: return "gzip";
    case Encoding::kDeflate: return "deflate";
    case Encoding::kZstd: return "zstd";
    case Encoding::kLz4: return "lz4";
    default: return "identity";
  }
}

std::string decompress(Encoding e, std::string_view data, size_t limit) {
  switch (e) {
    case Encoding::kIdentity: return std::string(data);
    case Encoding::kGzip: return inflate_all(data, limit, 15 + 32);
    case Encoding::kDeflate:
      // zlib-wrapped (what HTTP means) or raw deflate (what some clients send).
      if (data.size() >= 2 && (static_cast<uint8_t>(data[0]) & 0x0f) == 8 &&
          ((static_cast<uint8_t>(data[0]) << 8) | static_cast<uint8_t>(data[1])) % 31 == 0)
        return inflate_all(data, limit, 15);
      return inflate_all(data, limit, -15);
    case Encoding::kZstd: {
      ZSTD_DCtx* ctx = ZSTD_createDCtx();
      std::string out;
      ZSTD_inBuffer in{data.data(), data.size(), 0};
      std::vector<char> buf(ZSTD_DStreamOutSize());
      size_t rc = 1;
      while (in.pos < in.size) {
        ZSTD_outBuffer o{buf.data(), buf.size(), 0};
        rc = ZSTD_decompressStream(ctx, &o, &in);
        if (ZSTD_isError(rc)) {
          ZSTD_freeDCtx(ctx);
          corrupt("zstd data is corrupt");
        }
        out.append(buf.data(), o.pos);
        check_limit(out.size(), limit);
        if (o.pos == 0 && in.pos < in.size && rc == 0) break;
      }
      // Drain what is still buffered.
      while (rc != 0) {
        ZSTD_outBuffer o{buf.data(), buf.size(), 0};
        rc = ZSTD_decompressStream(ctx, &o, &in);
        if (ZSTD_isError(rc) || o.pos == 0) break;
        out.append(buf.data(), o.pos);
        check_limit(out.size(), limit);
      }
      ZSTD_freeDCtx(ctx);
      if (rc != 0) corrupt("zstd data is truncated");
      return out;
    }
    case Encoding::kLz4: {
      LZ4F_dctx* ctx;
      LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION);
      std::string out;
      std::vector<char> buf(1 << 18);
      size_t pos = 0, rc = 1;
      while (pos < data.size()) {
        size_t dst = buf.size(), src = data.size() - pos;
        rc = LZ4F_decompress(ctx, buf.data(), &dst, data.data() + pos, &src, nullptr);
        if (LZ4F_isError(rc)) {
          LZ4F_freeDecompressionContext(ctx);
          corrupt("lz4 data is corrupt");
        }
        pos += src;
        out.append(buf.data(), dst);
        check_limit(out.size(), limit);
        if (rc == 0 && pos < data.size()) {
          // Concatenated frames: start the next one.
          LZ4F_resetDecompressionContext(ctx);
          rc = 1;
        }
        if (src == 0 && dst == 0) break;
      }
      LZ4F_freeDecompressionContext(ctx);
      if (rc != 0) corrupt("lz4 data is truncated");
      return out;
    }
  }
  return std::string(data);
}

std::unique_ptr<Compressor> make_compressor(Encoding e, int level) {
  switch (e) {
    case Encoding::kGzip: return std::make_unique<ZlibCompressor>(true, level);
    case Encoding::kDeflate: return std::make_unique<ZlibCompressor>(false, level);
    case Encoding::kZstd: return std::make_unique<ZstdCompressor>(level);
    case Encoding::kLz4: return std::make_unique<Lz4Compressor>();
    default: return nullptr;
  }
}

}  // namespace zepto::server
