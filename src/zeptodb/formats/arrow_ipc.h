// The Arrow IPC formats (https://arrow.apache.org/docs/format/Columnar.html
// "Serialization and Interprocess Communication"): the stream format
// (ClickHouse's ArrowStream) and the file format (ClickHouse's Arrow), on top
// of the C Data Interface.
//
// Writing serializes exported C arrays (arrow_export.h), so a result is laid
// out by the same code that hands it to Python. Reading turns the messages
// into C arrays over the message bodies and hands them to the Arrow import
// (arrow_import.h) as a stream: one decoder of Arrow types in the engine.
// The reader accepts uncompressed and LZ4_FRAME / ZSTD compressed bodies,
// dictionary batches (not deltas), and the types the import reads; the
// writer writes uncompressed bodies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "zeptodb/formats/arrow_c.h"

namespace zepto::formats {

// Appends the encapsulated Schema message of `schema` (a struct "+s").
// Returns the bytes of the message, for a file footer.
void write_ipc_schema(const ArrowSchema& schema, std::string& out);
// Appends one RecordBatch message for `batch` (a struct array of `schema`).
// Returns {metadata bytes incl. prefix, body bytes} for a file footer.
std::pair<int32_t, int64_t> write_ipc_batch(const ArrowSchema& schema, const ArrowArray& batch, std::string& out);
// Appends the end-of-stream marker.
void write_ipc_end(std::string& out);

// Block of the file footer: where a record batch message starts, and its sizes.
struct IpcBlock {
  int64_t offset;
  int32_t metadata_length;
  int64_t body_length;
};
// Appends the file format's footer (schema, record batch blocks) and trailing magic.
void write_ipc_footer(const ArrowSchema& schema, const std::vector<IpcBlock>& batches, std::string& out);

// The magic that starts and ends the file format, padded: "ARROW1\0\0".
inline constexpr std::string_view kArrowFileMagic{"ARROW1\0\0", 8};

// Parses `data` (the stream format, or with `file` the file format) into
// *out, a stream of its record batches, and returns the column names.
// `data` is copied; *out owns everything it refers to. Throws
// Error(kInvalidArgument) on malformed input.
std::vector<std::string> read_arrow_ipc(std::string_view data, bool file, ArrowArrayStream* out);

}  // namespace zepto::formats
