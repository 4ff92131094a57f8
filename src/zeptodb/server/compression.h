// HTTP body compression: gzip, deflate (zlib), zstd and lz4 (the LZ4 frame
// format), as ClickHouse's HTTP interface names them in Content-Encoding
// and Accept-Encoding.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace zepto::server {

enum class Encoding { kIdentity, kGzip, kDeflate, kZstd, kLz4 };

// The encoding a Content-Encoding value names; throws Error(kInvalidArgument)
// if it is not one of ours.
Encoding parse_content_encoding(std::string_view value);
// The best encoding an Accept-Encoding header offers (zstd, lz4, gzip,
// deflate, in that order of preference), or kIdentity.
Encoding choose_encoding(std::string_view accept_encoding);
std::string_view encoding_name(Encoding e);

// Decompresses a whole request body; throws Error(kInvalidArgument) on
// corrupt input and when the result would exceed `limit` bytes.
std::string decompress(Encoding e, std::string_view data, size_t limit);

// Compresses a response body piece by piece.
class Compressor {
 public:
  virtual ~Compressor() = default;
  // Appends the compressed form of `in` to `out`; `last` ends the stream.
  virtual void write(std::string_view in, bool last, std::string& out) = 0;
};
std::unique_ptr<Compressor> make_compressor(Encoding e, int level = 0);

}  // namespace zepto::server
