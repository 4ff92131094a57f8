#include "zeptodb/formats/arrow_export.h"

#include <cerrno>
#include <cstring>
#include <new>

#include "zeptodb/common/error.h"

namespace zepto::formats {

namespace {

// ---------------------------------------------------------------- schemas
// The release callback of a struct exported here: releases the children and
// the dictionary the consumer has not moved away, then the private data.
template <typename T, typename Data>
void release_node(T* node) {
  auto* d = static_cast<Data*>(node->private_data);
  for (T* c : d->child_ptrs)
    if (c->release != nullptr) c->release(c);
  if (node->dictionary != nullptr && node->dictionary->release != nullptr) node->dictionary->release(node->dictionary);
  delete d;
  node->release = nullptr;
}

// Owns everything an exported ArrowSchema points at.
struct SchemaData {
  std::string format;
  std::string name;
  std::vector<ArrowSchema> children;
  std::vector<ArrowSchema*> child_ptrs;
  ArrowSchema dictionary{};
};


// Fills *out as a field of `format` named `name` (children added by the caller).
SchemaData* init_schema(ArrowSchema* out, std::string format, std::string name, int64_t flags) {
  auto* d = new SchemaData{std::move(format), std::move(name), {}, {}, {}};
  *out = ArrowSchema{};
  out->format = d->format.c_str();
  out->name = d->name.c_str();
  out->metadata = nullptr;
  out->flags = flags;
  out->release = release_node<ArrowSchema, SchemaData>;
  out->private_data = d;
  return d;
}

void column_schema(const ArrowColumn& c, ArrowSchema* out) {
  SchemaData* d = init_schema(out, arrow_format(c.kind), c.name, ARROW_FLAG_NULLABLE);
  if (c.kind == ArrowKind::kDictionary) {
    init_schema(&d->dictionary, arrow_format(ArrowKind::kUtf8), "", ARROW_FLAG_NULLABLE);
    out->dictionary = &d->dictionary;
  }
}

// ----------------------------------------------------------------- arrays

// Owns (or holds references to) everything an exported ArrowArray points at.
struct ArrayData {
  std::vector<std::shared_ptr<const void>> keep;  // engine buffers kept alive
  std::vector<std::vector<uint8_t>> built;         // bitmaps and packed booleans
  std::vector<const void*> buffers;
  std::vector<ArrowArray> children;
  std::vector<ArrowArray*> child_ptrs;
  ArrowArray dictionary{};
};

void release_array(ArrowArray* a) { release_node<ArrowArray, ArrayData>(a); }

ArrayData* init_array(ArrowArray* out, size_t length, int64_t null_count) {
  auto* d = new ArrayData;
  *out = ArrowArray{};
  out->length = static_cast<int64_t>(length);
  out->null_count = null_count;
  out->release = release_array;
  out->private_data = d;
  return d;
}

// Packs one byte per value (non-zero = set) into an LSB-first bitmap.
std::vector<uint8_t> pack_bits(const uint8_t* bytes, size_t n) {
  std::vector<uint8_t> bits((n + 7) / 8, 0);
  size_t full = n / 8;
  for (size_t i = 0; i < full; ++i) {
    const uint8_t* b = bytes + i * 8;
    bits[i] = static_cast<uint8_t>((b[0] != 0) | (b[1] != 0) << 1 | (b[2] != 0) << 2 | (b[3] != 0) << 3 |
                                   (b[4] != 0) << 4 | (b[5] != 0) << 5 | (b[6] != 0) << 6 |
                                   (b[7] != 0) << 7);
  }
  for (size_t i = full * 8; i < n; ++i)
    if (bytes[i] != 0) bits[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
  return bits;
}

// A pointer Arrow accepts for an empty buffer: never null, never read.
const void* empty_buffer() {
  alignas(64) static const int64_t zero[2] = {0, 0};
  return zero;
}

const void* or_empty(const void* p) { return p != nullptr ? p : empty_buffer(); }

void column_array(const ArrowColumn& c, ArrowArray* out) {
  int64_t nulls = 0;
  if (c.valid != nullptr)
    for (size_t i = 0; i < c.length; ++i) nulls += c.valid.get()[i] == 0;
  ArrayData* d = init_array(out, c.length, nulls);
  d->buffers.push_back(nullptr);
  if (nulls > 0) {
    d->built.push_back(pack_bits(c.valid.get(), c.length));
    d->buffers[0] = d->built.back().data();
  }
  if (c.kind == ArrowKind::kBool) {
    d->built.push_back(c.length > 0 ? pack_bits(static_cast<const uint8_t*>(c.values.get()), c.length)
                                    : std::vector<uint8_t>(1, 0));
    d->buffers.push_back(d->built.back().data());
  } else {
    d->keep.push_back(c.values);
    d->buffers.push_back(or_empty(c.values.get()));
  }
  if (c.kind == ArrowKind::kUtf8 || c.kind == ArrowKind::kLargeUtf8) {
    d->keep.push_back(c.chars);
    d->buffers.push_back(or_empty(c.chars.get()));
  }
  if (c.kind == ArrowKind::kDictionary) {
    if (c.dictionary == nullptr)
      throw_error(ErrorCode::kInternal, "dictionary column '" + c.name + "' has no dictionary");
    column_array(*c.dictionary, &d->dictionary);
    out->dictionary = &d->dictionary;
  }
  out->n_buffers = static_cast<int64_t>(d->buffers.size());
  out->buffers = d->buffers.data();
}

// ----------------------------------------------------------------- streams

struct StreamData {
  std::vector<ArrowColumn> columns;
  BatchSource next;
  std::string error;
};

// Runs `f`, turning an exception into an errno value and the stream's last error.
template <typename F>
int guarded(ArrowArrayStream* s, F&& f) {
  auto* d = static_cast<StreamData*>(s->private_data);
  try {
    f(*d);
    return 0;
  } catch (const std::bad_alloc&) {
    d->error = "out of memory";
    return ENOMEM;
  } catch (const std::exception& e) {
    d->error = e.what();
    return EIO;
  }
}

int stream_get_schema(ArrowArrayStream* s, ArrowSchema* out) {
  return guarded(s, [&](StreamData& d) { export_schema(d.columns, out); });
}

int stream_get_next(ArrowArrayStream* s, ArrowArray* out) {
  return guarded(s, [&](StreamData& d) {
    std::optional<ArrowBatch> batch = d.next ? d.next() : std::nullopt;
    if (!batch) {
      *out = ArrowArray{};  // release == nullptr: end of stream
      d.next = nullptr;
      return;
    }
    export_batch(*batch, out);
  });
}

const char* stream_last_error(ArrowArrayStream* s) {
  auto* d = static_cast<StreamData*>(s->private_data);
  return d->error.empty() ? nullptr : d->error.c_str();
}

void stream_release(ArrowArrayStream* s) {
  delete static_cast<StreamData*>(s->private_data);
  s->release = nullptr;
}

}  // namespace

const char* arrow_format(ArrowKind kind) {
  switch (kind) {
    case ArrowKind::kInt64: return "l";
    case ArrowKind::kInt32: return "i";
    case ArrowKind::kFloat64: return "g";
    case ArrowKind::kBool: return "b";
    case ArrowKind::kTimestamp: return "tsn:UTC";
    case ArrowKind::kUtf8: return "u";
    case ArrowKind::kLargeUtf8: return "U";
    case ArrowKind::kDictionary: return "i";
  }
  return "n";
}

ArrowColumn utf8_column(std::string name, const std::vector<std::string>& strings) {
  auto offsets = std::make_shared<std::vector<int32_t>>();
  auto chars = std::make_shared<std::string>();
  offsets->reserve(strings.size() + 1);
  offsets->push_back(0);
  for (const auto& s : strings) {
    chars->append(s);
    if (chars->size() > static_cast<size_t>(INT32_MAX))
      throw_error(ErrorCode::kInvalidArgument, "column '" + name + "': more than 2 GiB of characters");
    offsets->push_back(static_cast<int32_t>(chars->size()));
  }
  ArrowColumn c;
  c.name = std::move(name);
  c.kind = ArrowKind::kUtf8;
  c.length = strings.size();
  c.values = std::shared_ptr<const void>(offsets, offsets->data());
  c.chars = std::shared_ptr<const char>(chars, chars->data());
  return c;
}

void export_schema(const std::vector<ArrowColumn>& columns, ArrowSchema* out) {
  SchemaData* d = init_schema(out, "+s", "", 0);
  d->children.resize(columns.size());
  for (size_t i = 0; i < columns.size(); ++i) {
    column_schema(columns[i], &d->children[i]);
    d->child_ptrs.push_back(&d->children[i]);
  }
  out->n_children = static_cast<int64_t>(columns.size());
  out->children = d->child_ptrs.data();
}

void export_batch(const ArrowBatch& batch, ArrowArray* out) {
  for (const auto& c : batch.columns)
    if (c.length != batch.rows)
      throw_error(ErrorCode::kInternal, "column '" + c.name + "' has " + std::to_string(c.length) +
                                            " rows in a batch of " + std::to_string(batch.rows));
  ArrayData* d = init_array(out, batch.rows, 0);
  d->buffers.push_back(nullptr);  // a struct's validity: no NULL rows
  d->children.resize(batch.columns.size());
  for (size_t i = 0; i < batch.columns.size(); ++i) {
    d->children[i] = ArrowArray{};  // release == nullptr until built
    d->child_ptrs.push_back(&d->children[i]);
  }
  out->n_buffers = 1;
  out->buffers = d->buffers.data();
  out->n_children = static_cast<int64_t>(batch.columns.size());
  out->children = d->child_ptrs.data();
  try {
    for (size_t i = 0; i < batch.columns.size(); ++i) column_array(batch.columns[i], &d->children[i]);
  } catch (...) {
    release_array(out);
    throw;
  }
}

void export_stream(std::vector<ArrowColumn> columns, BatchSource next, ArrowArrayStream* out) {
  *out = ArrowArrayStream{};
  out->get_schema = stream_get_schema;
  out->get_next = stream_get_next;
  out->get_last_error = stream_last_error;
  out->release = stream_release;
  out->private_data = new StreamData{std::move(columns), std::move(next), {}};
}

}  // namespace zepto::formats
