#include "zeptodb/formats/arrow_ipc.h"

#include <lz4frame.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>

#include "zeptodb/common/error.h"
#include "zeptodb/formats/arrow_export.h"
#include "zeptodb/formats/arrow_result.h"
#include "zeptodb/formats/encoders.h"
#include "zeptodb/formats/flatbuffer.h"

namespace zepto::formats {

namespace {

// Schema.fbs / Message.fbs enums.
enum : uint8_t { kTypeInt = 2, kTypeFloat = 3, kTypeBinary = 4, kTypeUtf8 = 5, kTypeBool = 6, kTypeDate = 8,
                 kTypeTimestamp = 10, kTypeLargeBinary = 19, kTypeLargeUtf8 = 20 };
enum : uint8_t { kHeaderSchema = 1, kHeaderDictionary = 2, kHeaderRecordBatch = 3 };
constexpr int16_t kMetadataV5 = 4;

[[noreturn]] void bad(const std::string& what) { throw_error(ErrorCode::kInvalidArgument, "Arrow IPC: " + what); }

// ------------------------------------------------------------------ writing

// The IPC type of a C Data format string: (type enum, type table).
std::pair<uint8_t, fb::Table> ipc_type(std::string_view f, std::string_view column) {
  fb::Table t;
  auto integer = [&](int32_t bits, bool is_signed) {
    t.scalar<int32_t>(0, bits).scalar<uint8_t>(1, is_signed);
    return std::make_pair(kTypeInt, t);
  };
  if (f == "c") return integer(8, true);
  if (f == "C") return integer(8, false);
  if (f == "s") return integer(16, true);
  if (f == "S") return integer(16, false);
  if (f == "i") return integer(32, true);
  if (f == "I") return integer(32, false);
  if (f == "l") return integer(64, true);
  if (f == "L") return integer(64, false);
  if (f == "f") return {kTypeFloat, t.scalar<int16_t>(0, 1)};
  if (f == "g") return {kTypeFloat, t.scalar<int16_t>(0, 2)};
  if (f == "b") return {kTypeBool, t};
  if (f == "u") return {kTypeUtf8, t};
  if (f == "U") return {kTypeLargeUtf8, t};
  if (f == "z") return {kTypeBinary, t};
  if (f == "Z") return {kTypeLargeBinary, t};
  if (f == "tdD") return {kTypeDate, t.scalar<int16_t>(0, 0)};
  if (f == "tdm") return {kTypeDate, t.scalar<int16_t>(0, 1)};
  if (f.size() >= 4 && f.substr(0, 2) == "ts" && f[3] == ':') {
    int16_t unit = f[2] == 's' ? 0 : f[2] == 'm' ? 1 : f[2] == 'u' ? 2 : 3;
    t.scalar<int16_t>(0, unit);
    if (f.size() > 4) t.string(1, f.substr(4));
    return {kTypeTimestamp, t};
  }
  bad("cannot write column '" + std::string(column) + "' of format '" + std::string(f) + "'");
}

fb::Table schema_table(const ArrowSchema& schema) {
  std::vector<fb::Table> fields;
  for (int64_t i = 0; i < schema.n_children; ++i) {
    const ArrowSchema& c = *schema.children[i];
    std::string_view name = c.name ? c.name : "";
    if (c.dictionary) bad("dictionary columns are not written (column '" + std::string(name) + "')");
    auto [type_id, type] = ipc_type(c.format, name);
    fb::Table field;
    field.string(0, name).scalar<uint8_t>(1, 1).scalar<uint8_t>(2, type_id).table(3, std::move(type)).tables(5, {});
    fields.push_back(std::move(field));
  }
  fb::Table s;
  s.scalar<int16_t>(0, 0).tables(1, std::move(fields));
  return s;
}

// Appends an encapsulated message; returns the metadata length incl. prefix.
int32_t write_message(uint8_t header_type, fb::Table header, int64_t body_length, std::string& out) {
  fb::Table msg;
  msg.scalar<int16_t>(0, kMetadataV5).scalar<uint8_t>(1, header_type).table(2, std::move(header)).scalar<int64_t>(3, body_length);
  std::string meta = msg.finish();
  while ((meta.size() + 8) % 8) meta += '\0';
  int32_t cont = -1, len = static_cast<int32_t>(meta.size());
  out.append(reinterpret_cast<const char*>(&cont), 4);
  out.append(reinterpret_cast<const char*>(&len), 4);
  out += meta;
  return len + 8;
}

bool bit(const void* bits, int64_t i) { return (static_cast<const uint8_t*>(bits)[i >> 3] >> (i & 7)) & 1; }

// Collects the buffers of a record batch body.
class BodyWriter {
 public:
  void add(const void* p, size_t n) {
    size_t off = body_.size();
    if (n) body_.append(static_cast<const char*>(p), n);
    while (body_.size() % 8) body_ += '\0';
    int64_t desc[2] = {static_cast<int64_t>(off), static_cast<int64_t>(n)};
    buffers_.append(reinterpret_cast<const char*>(desc), 16);
    ++count_;
  }
  // A bitmap of `length` bits starting at bit `offset`.
  void add_bits(const void* bits, int64_t offset, int64_t length) {
    if (offset % 8 == 0) return add(static_cast<const uint8_t*>(bits) + offset / 8, static_cast<size_t>((length + 7) / 8));
    std::string packed(static_cast<size_t>((length + 7) / 8), '\0');
    for (int64_t i = 0; i < length; ++i)
      if (bit(bits, offset + i)) packed[static_cast<size_t>(i >> 3)] |= static_cast<char>(1 << (i & 7));
    add(packed.data(), packed.size());
  }
  std::string body_, buffers_;
  size_t count_ = 0;
};

template <typename Offset>
void add_strings(BodyWriter& w, const ArrowArray& a) {
  const Offset* off = static_cast<const Offset*>(a.buffers[1]) + a.offset;
  std::vector<Offset> rebased(static_cast<size_t>(a.length) + 1);
  for (int64_t i = 0; i <= a.length; ++i) rebased[static_cast<size_t>(i)] = off[i] - off[0];
  w.add(rebased.data(), rebased.size() * sizeof(Offset));
  w.add(static_cast<const char*>(a.buffers[2]) + off[0], static_cast<size_t>(off[a.length] - off[0]));
}

size_t fixed_width(std::string_view f) {
  if (f == "c" || f == "C") return 1;
  if (f == "s" || f == "S") return 2;
  if (f == "i" || f == "I" || f == "f" || f == "tdD") return 4;
  return 8;
}

// ------------------------------------------------------------------ reading

struct FieldInfo {
  std::string name;
  std::string format;       // C Data format of the values (the index type when dictionary encoded)
  std::string value_format;  // dictionary encoded: format of the dictionary values
  int64_t dictionary_id = -1;
};

std::string c_format(const fb::View& field, uint8_t type_id, const fb::View& type, const std::string& name) {
  switch (type_id) {
    case kTypeInt: {
      int32_t bits = type.scalar<int32_t>(0, 0);
      bool is_signed = type.scalar<uint8_t>(1, 0) != 0;
      const char* s = bits == 8 ? "c" : bits == 16 ? "s" : bits == 32 ? "i" : bits == 64 ? "l" : nullptr;
      if (!s) bad("column '" + name + "': integer width " + std::to_string(bits));
      std::string r(s);
      if (!is_signed) r[0] = static_cast<char>(std::toupper(r[0]));
      return r;
    }
    case kTypeFloat: {
      int16_t p = type.scalar<int16_t>(0, 0);
      if (p == 1) return "f";
      if (p == 2) return "g";
      bad("column '" + name + "': half floats are not read");
    }
    case kTypeUtf8: return "u";
    case kTypeLargeUtf8: return "U";
    case kTypeBinary: return "z";
    case kTypeLargeBinary: return "Z";
    case kTypeBool: return "b";
    case kTypeDate: return type.scalar<int16_t>(0, 1) == 0 ? "tdD" : "tdm";
    case kTypeTimestamp: {
      int16_t unit = type.scalar<int16_t>(0, 0);
      std::string r = "ts";
      r += unit == 0 ? 's' : unit == 1 ? 'm' : unit == 2 ? 'u' : 'n';
      r += ':';
      r += type.string(1);
      return r;
    }
    default: bad("column '" + name + "' has Arrow type id " + std::to_string(type_id) + ", which is not read");
  }
}

FieldInfo read_field(const fb::View& f) {
  FieldInfo info;
  info.name = std::string(f.string(0));
  if (f.vector_size(5) != 0) bad("nested column '" + info.name + "' is not read");
  uint8_t type_id = f.scalar<uint8_t>(2, 0);
  std::string fmt = c_format(f, type_id, f.table(3), info.name);
  fb::View dict = f.table(4);
  if (dict.valid()) {
    info.dictionary_id = dict.scalar<int64_t>(0, 0);
    fb::View index = dict.table(1);
    int32_t bits = index.valid() ? index.scalar<int32_t>(0, 32) : 32;
    bool is_signed = index.valid() ? index.scalar<uint8_t>(1, 1) != 0 : true;
    std::string ix = bits == 8 ? "c" : bits == 16 ? "s" : bits == 32 ? "i" : "l";
    if (!is_signed) ix[0] = static_cast<char>(std::toupper(ix[0]));
    info.format = ix;
    info.value_format = fmt;
  } else {
    info.format = fmt;
  }
  return info;
}

int buffer_count(std::string_view f) {
  if (f == "u" || f == "U" || f == "z" || f == "Z") return 3;
  if (f == "n") return 0;
  return 2;
}

// One column of one batch, over memory owned by the stream.
struct ColumnData {
  int64_t length = 0, null_count = 0;
  std::vector<const void*> buffers;
};

struct BatchData {
  int64_t length = 0;
  std::vector<ColumnData> columns;
};

struct SchemaPrivate {
  std::string format, name;
  std::vector<std::unique_ptr<ArrowSchema>> children;
  std::vector<ArrowSchema*> child_ptrs;
  std::unique_ptr<ArrowSchema> dictionary;
};

void release_schema(ArrowSchema* s) {
  auto* p = static_cast<SchemaPrivate*>(s->private_data);
  for (auto& c : p->children)
    if (c->release) c->release(c.get());
  if (p->dictionary && p->dictionary->release) p->dictionary->release(p->dictionary.get());
  delete p;
  s->release = nullptr;
}

void make_schema(ArrowSchema* out, std::string format, std::string name, int64_t flags) {
  auto* p = new SchemaPrivate{std::move(format), std::move(name), {}, {}, nullptr};
  *out = ArrowSchema{p->format.c_str(), p->name.c_str(), nullptr, flags, 0, nullptr, nullptr, release_schema, p};
}

struct ArrayPrivate {
  std::vector<const void*> buffers;
  std::vector<std::unique_ptr<ArrowArray>> children;
  std::vector<ArrowArray*> child_ptrs;
  std::unique_ptr<ArrowArray> dictionary;
  std::shared_ptr<const void> keep;
};

void release_array(ArrowArray* a) {
  auto* p = static_cast<ArrayPrivate*>(a->private_data);
  for (auto& c : p->children)
    if (c->release) c->release(c.get());
  if (p->dictionary && p->dictionary->release) p->dictionary->release(p->dictionary.get());
  delete p;
  a->release = nullptr;
}

void make_array(ArrowArray* out, const ColumnData& c, std::shared_ptr<const void> keep) {
  auto* p = new ArrayPrivate{c.buffers, {}, {}, nullptr, std::move(keep)};
  *out = ArrowArray{c.length, c.null_count, 0, static_cast<int64_t>(p->buffers.size()), 0,
                    p->buffers.data(), nullptr, nullptr, release_array, p};
}

// Everything the stream hands out, parsed up front.
struct IpcData {
  std::vector<uint64_t> storage;  // the input, 8-byte aligned
  std::vector<std::unique_ptr<std::vector<uint64_t>>> decompressed;
  std::vector<FieldInfo> fields;
  std::map<int64_t, ColumnData> dictionaries;
  std::vector<BatchData> batches;
};

struct StreamPrivate {
  std::shared_ptr<IpcData> data;
  size_t next = 0;
  std::string error;
};

class IpcParser {
 public:
  explicit IpcParser(std::shared_ptr<IpcData> d) : d_(std::move(d)) {}

  void parse(std::string_view input, bool file) {
    d_->storage.resize((input.size() + 7) / 8 + 1);
    std::memcpy(d_->storage.data(), input.data(), input.size());
    const uint8_t* base = reinterpret_cast<const uint8_t*>(d_->storage.data());
    size_t size = input.size(), pos = 0, end = size;
    if (file) {
      if (size < 18 || std::memcmp(base, "ARROW1", 6) != 0 || std::memcmp(base + size - 6, "ARROW1", 6) != 0)
        bad("not an Arrow file (missing ARROW1 magic)");
      int32_t footer;
      std::memcpy(&footer, base + size - 10, 4);
      if (footer < 0 || static_cast<size_t>(footer) > size - 18) bad("bad footer length");
      end = size - 10 - static_cast<size_t>(footer);
      pos = 8;
    }
    bool have_schema = false;
    while (pos + 4 <= end) {
      int32_t len;
      std::memcpy(&len, base + pos, 4);
      pos += 4;
      if (len == -1) {
        if (pos + 4 > end) bad("truncated message");
        std::memcpy(&len, base + pos, 4);
        pos += 4;
      }
      if (len == 0) break;  // end of stream
      if (len < 0 || static_cast<size_t>(len) > end - pos) bad("truncated message");
      fb::View msg = fb::View::root(base + pos, static_cast<size_t>(len));
      pos += static_cast<size_t>(len);
      uint8_t type = msg.scalar<uint8_t>(1, 0);
      int64_t body_len = msg.scalar<int64_t>(3, 0);
      if (body_len < 0 || static_cast<size_t>(body_len) > end - pos) bad("truncated message body");
      const uint8_t* body = base + pos;
      pos += static_cast<size_t>(body_len);
      fb::View header = msg.table(2);
      if (!header.valid()) bad("message without a header");
      if (type == kHeaderSchema) {
        for (size_t i = 0, n = header.vector_size(1); i < n; ++i) d_->fields.push_back(read_field(header.table_at(1, i)));
        have_schema = true;
      } else if (!have_schema) {
        bad("data before the schema");
      } else if (type == kHeaderRecordBatch) {
        BatchData b;
        b.length = header.scalar<int64_t>(0, 0);
        std::vector<std::string> formats;
        for (const auto& f : d_->fields) formats.push_back(f.format);
        read_batch(header, body, static_cast<size_t>(body_len), formats, b);
        d_->batches.push_back(std::move(b));
      } else if (type == kHeaderDictionary) {
        int64_t id = header.scalar<int64_t>(0, 0);
        if (header.scalar<uint8_t>(2, 0)) bad("dictionary deltas are not read");
        const FieldInfo* field = nullptr;
        for (const auto& f : d_->fields)
          if (f.dictionary_id == id) field = &f;
        if (!field) bad("dictionary batch for an unknown id");
        BatchData b;
        read_batch(header.table(1), body, static_cast<size_t>(body_len), {field->value_format}, b);
        d_->dictionaries[id] = b.columns.at(0);
      }
    }
    if (!have_schema) bad("no schema message");
  }

 private:
  void read_batch(const fb::View& rb, const uint8_t* body, size_t body_len, const std::vector<std::string>& formats,
                  BatchData& out) {
    if (!rb.valid()) bad("record batch without metadata");
    size_t nnodes, nbufs;
    const uint8_t* nodes = rb.structs(1, 16, &nnodes);
    const uint8_t* bufs = rb.structs(2, 16, &nbufs);
    fb::View compression = rb.table(3);
    int codec = compression.valid() ? compression.scalar<int8_t>(0, 0) : -1;
    if (nnodes != formats.size()) bad("record batch has " + std::to_string(nnodes) + " columns, the schema " + std::to_string(formats.size()));
    size_t b = 0;
    for (size_t i = 0; i < nnodes; ++i) {
      ColumnData c;
      std::memcpy(&c.length, nodes + 16 * i, 8);
      std::memcpy(&c.null_count, nodes + 16 * i + 8, 8);
      if (c.length < 0) bad("negative length");
      int n = buffer_count(formats[i]);
      for (int k = 0; k < n; ++k, ++b) {
        if (b >= nbufs) bad("too few buffers");
        int64_t off, len;
        std::memcpy(&off, bufs + 16 * b, 8);
        std::memcpy(&len, bufs + 16 * b + 8, 8);
        if (off < 0 || len < 0 || static_cast<size_t>(off) > body_len || static_cast<size_t>(len) > body_len - static_cast<size_t>(off))
          bad("buffer outside the message body");
        const uint8_t* p = body + off;
        size_t n_bytes = static_cast<size_t>(len);
        if (codec >= 0 && len > 0) p = decompress(p, n_bytes, codec, &n_bytes);
        c.buffers.push_back(len == 0 && k == 0 ? nullptr : p);
        check_size(formats[i], k, c.length, n_bytes, c);
      }
      out.columns.push_back(std::move(c));
    }
  }

  // The buffer must hold what the length says (checked so that the import never reads past it).
  void check_size(const std::string& f, int k, int64_t length, size_t bytes, const ColumnData& c) {
    size_t need = 0;
    if (k == 0) need = c.null_count > 0 ? static_cast<size_t>((length + 7) / 8) : 0;
    else if (f == "b") need = static_cast<size_t>((length + 7) / 8);
    else if (k == 1 && (f == "u" || f == "z")) need = static_cast<size_t>(length + 1) * 4;
    else if (k == 1 && (f == "U" || f == "Z")) need = static_cast<size_t>(length + 1) * 8;
    else if (k == 2) {
      const void* offs = c.buffers[1];
      if (length > 0 && offs == nullptr) bad("missing offsets");
      int64_t last = length == 0 ? 0 : (f == "u" || f == "z") ? static_cast<const int32_t*>(offs)[length]
                                                               : static_cast<const int64_t*>(offs)[length];
      int64_t first = length == 0 ? 0 : (f == "u" || f == "z") ? static_cast<const int32_t*>(offs)[0]
                                                                : static_cast<const int64_t*>(offs)[0];
      if (first < 0 || last < first) bad("bad string offsets");
      need = static_cast<size_t>(last);
    } else {
      need = static_cast<size_t>(length) * fixed_width(f);
    }
    if (bytes < need) bad("buffer " + std::to_string(k) + " is shorter than its column");
  }

  const uint8_t* decompress(const uint8_t* p, size_t n, int codec, size_t* out_n) {
    if (n < 8) bad("compressed buffer without its length");
    int64_t raw;
    std::memcpy(&raw, p, 8);
    if (raw == -1) {
      *out_n = n - 8;
      auto copy = std::make_unique<std::vector<uint64_t>>((n - 8 + 7) / 8 + 1);
      std::memcpy(copy->data(), p + 8, n - 8);
      d_->decompressed.push_back(std::move(copy));
      return reinterpret_cast<const uint8_t*>(d_->decompressed.back()->data());
    }
    if (raw < 0 || raw > (int64_t{1} << 40)) bad("bad uncompressed length");
    auto buf = std::make_unique<std::vector<uint64_t>>(static_cast<size_t>(raw + 7) / 8 + 1);
    char* dst = reinterpret_cast<char*>(buf->data());
    if (codec == 1) {
      size_t r = ZSTD_decompress(dst, static_cast<size_t>(raw), p + 8, n - 8);
      if (ZSTD_isError(r) || r != static_cast<size_t>(raw)) bad("bad ZSTD buffer");
    } else {
      LZ4F_dctx* ctx;
      if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) bad("LZ4 context");
      size_t dst_size = static_cast<size_t>(raw), src_size = n - 8;
      size_t r = LZ4F_decompress(ctx, dst, &dst_size, p + 8, &src_size, nullptr);
      LZ4F_freeDecompressionContext(ctx);
      if (LZ4F_isError(r) || dst_size != static_cast<size_t>(raw)) bad("bad LZ4 buffer");
    }
    *out_n = static_cast<size_t>(raw);
    d_->decompressed.push_back(std::move(buf));
    return reinterpret_cast<const uint8_t*>(d_->decompressed.back()->data());
  }

  std::shared_ptr<IpcData> d_;
};

int stream_get_schema(ArrowArrayStream* s, ArrowSchema* out) {
  auto* p = static_cast<StreamPrivate*>(s->private_data);
  make_schema(out, "+s", "", 0);
  auto* sp = static_cast<SchemaPrivate*>(out->private_data);
  for (const auto& f : p->data->fields) {
    auto child = std::make_unique<ArrowSchema>();
    make_schema(child.get(), f.format, f.name, ARROW_FLAG_NULLABLE);
    if (f.dictionary_id >= 0) {
      auto* cp = static_cast<SchemaPrivate*>(child->private_data);
      cp->dictionary = std::make_unique<ArrowSchema>();
      make_schema(cp->dictionary.get(), f.value_format, "", ARROW_FLAG_NULLABLE);
      child->dictionary = cp->dictionary.get();
    }
    sp->child_ptrs.push_back(child.get());
    sp->children.push_back(std::move(child));
  }
  out->n_children = static_cast<int64_t>(sp->children.size());
  out->children = sp->child_ptrs.data();
  return 0;
}

int stream_get_next(ArrowArrayStream* s, ArrowArray* out) {
  auto* p = static_cast<StreamPrivate*>(s->private_data);
  if (p->next >= p->data->batches.size()) {
    out->release = nullptr;
    return 0;
  }
  const BatchData& b = p->data->batches[p->next++];
  ColumnData top;
  top.length = b.length;
  top.buffers = {nullptr};
  make_array(out, top, p->data);
  auto* ap = static_cast<ArrayPrivate*>(out->private_data);
  for (size_t i = 0; i < b.columns.size(); ++i) {
    auto child = std::make_unique<ArrowArray>();
    make_array(child.get(), b.columns[i], p->data);
    const FieldInfo& f = p->data->fields[i];
    if (f.dictionary_id >= 0) {
      auto it = p->data->dictionaries.find(f.dictionary_id);
      if (it == p->data->dictionaries.end()) {
        p->error = "Arrow IPC: column '" + f.name + "' has no dictionary batch";
        child->release(child.get());
        out->release(out);
        return EINVAL;
      }
      auto* cp = static_cast<ArrayPrivate*>(child->private_data);
      cp->dictionary = std::make_unique<ArrowArray>();
      make_array(cp->dictionary.get(), it->second, p->data);
      child->dictionary = cp->dictionary.get();
    }
    ap->child_ptrs.push_back(child.get());
    ap->children.push_back(std::move(child));
  }
  out->n_children = static_cast<int64_t>(ap->children.size());
  out->children = ap->child_ptrs.data();
  return 0;
}

const char* stream_last_error(ArrowArrayStream* s) {
  auto* p = static_cast<StreamPrivate*>(s->private_data);
  return p->error.empty() ? nullptr : p->error.c_str();
}

void stream_release(ArrowArrayStream* s) {
  delete static_cast<StreamPrivate*>(s->private_data);
  s->release = nullptr;
}

// ------------------------------------------------------------------ encoder

// ArrowStream / Arrow output of a result: export_batch (arrow_export.h) of
// result_batch (arrow_result.h) per block, serialized as IPC messages.
class ArrowEncoder : public Encoder {
 public:
  ArrowEncoder(bool file, const exec::ResultSet& rs) : file_(file), rs_(rs) {
    export_schema(result_schema(rs_), &schema_);
  }
  ~ArrowEncoder() override {
    if (schema_.release) schema_.release(&schema_);
  }

  void prefix(std::string& out) override {
    size_t start = out.size();
    if (file_) out += kArrowFileMagic;
    write_ipc_schema(schema_, out);
    written_ += out.size() - start;
  }

  void rows(size_t begin, size_t end, std::string& out) override {
    ArrowArray array;
    export_batch(result_batch(rs_, begin, end), &array);
    size_t start = out.size();
    std::pair<int32_t, int64_t> sizes;
    try {
      sizes = write_ipc_batch(schema_, array, out);
    } catch (...) {
      array.release(&array);
      throw;
    }
    array.release(&array);
    blocks_.push_back({static_cast<int64_t>(written_), sizes.first, sizes.second});
    written_ += out.size() - start;
  }

  void suffix(std::string& out) override {
    write_ipc_end(out);
    if (file_) write_ipc_footer(schema_, blocks_, out);
  }

 private:
  bool file_;
  const exec::ResultSet& rs_;
  ArrowSchema schema_{};
  size_t written_ = 0;
  std::vector<IpcBlock> blocks_;
};

}  // namespace

void write_ipc_schema(const ArrowSchema& schema, std::string& out) {
  write_message(kHeaderSchema, schema_table(schema), 0, out);
}

std::pair<int32_t, int64_t> write_ipc_batch(const ArrowSchema& schema, const ArrowArray& batch, std::string& out) {
  BodyWriter w;
  std::string nodes;
  for (int64_t i = 0; i < batch.n_children; ++i) {
    const ArrowArray& a = *batch.children[i];
    std::string_view f = schema.children[i]->format;
    int64_t node[2] = {a.length, a.null_count};
    nodes.append(reinterpret_cast<const char*>(node), 16);
    if (a.null_count != 0 && a.buffers[0] != nullptr) w.add_bits(a.buffers[0], a.offset, a.length);
    else w.add(nullptr, 0);
    if (f == "b") w.add_bits(a.buffers[1], a.offset, a.length);
    else if (f == "u" || f == "z") add_strings<int32_t>(w, a);
    else if (f == "U" || f == "Z") add_strings<int64_t>(w, a);
    else {
      size_t width = fixed_width(f);
      w.add(static_cast<const char*>(a.buffers[1]) + a.offset * static_cast<int64_t>(width), static_cast<size_t>(a.length) * width);
    }
  }
  fb::Table rb;
  rb.scalar<int64_t>(0, batch.length)
      .structs(1, std::move(nodes), static_cast<size_t>(batch.n_children))
      .structs(2, std::move(w.buffers_), w.count_);
  int32_t meta = write_message(kHeaderRecordBatch, std::move(rb), static_cast<int64_t>(w.body_.size()), out);
  out += w.body_;
  return {meta, static_cast<int64_t>(w.body_.size())};
}

void write_ipc_end(std::string& out) {
  int32_t eos[2] = {-1, 0};
  out.append(reinterpret_cast<const char*>(eos), 8);
}

void write_ipc_footer(const ArrowSchema& schema, const std::vector<IpcBlock>& batches, std::string& out) {
  std::string blocks;
  for (const auto& b : batches) {
    char rec[24] = {};
    std::memcpy(rec, &b.offset, 8);
    std::memcpy(rec + 8, &b.metadata_length, 4);
    std::memcpy(rec + 16, &b.body_length, 8);
    blocks.append(rec, 24);
  }
  fb::Table footer;
  footer.scalar<int16_t>(0, kMetadataV5).table(1, schema_table(schema)).structs(2, {}, 0).structs(3, std::move(blocks), batches.size());
  std::string meta = footer.finish();
  out += meta;
  int32_t len = static_cast<int32_t>(meta.size());
  out.append(reinterpret_cast<const char*>(&len), 4);
  out += "ARROW1";
}

std::vector<std::string> read_arrow_ipc(std::string_view data, bool file, ArrowArrayStream* out) {
  auto d = std::make_shared<IpcData>();
  IpcParser(d).parse(data, file);
  std::vector<std::string> names;
  for (const auto& f : d->fields) names.push_back(f.name);
  auto* p = new StreamPrivate{std::move(d), 0, {}};
  *out = ArrowArrayStream{stream_get_schema, stream_get_next, stream_last_error, stream_release, p};
  return names;
}

std::unique_ptr<Encoder> make_arrow_encoder(bool file, const exec::ResultSet& rs, const OutputOptions&) {
  return std::make_unique<ArrowEncoder>(file, rs);
}

}  // namespace zepto::formats
