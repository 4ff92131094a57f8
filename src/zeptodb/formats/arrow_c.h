// The Arrow C Data Interface and C Stream Interface: the ABI-stable structs
// through which Arrow data crosses library boundaries without a copy.
//
// These definitions follow the Arrow specification ("The Arrow C data
// interface", "The Arrow C stream interface") field for field; any library
// that implements the spec (pyarrow, Polars, DuckDB, nanoarrow) can produce
// or consume them. The guard macros are the spec's, so this header coexists
// with another copy of the same definitions.
//
// Ownership rule: a struct whose `release` is non-null owns its resources;
// the consumer calls `release` exactly once and the producer's callback sets
// `release` to null. Moving a struct is a plain memcpy followed by setting
// the source's `release` to null.
#pragma once

#include <cstdint>

extern "C" {

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

// A data type (and, for a record batch, its fields as children): `format`
// is the type's format string ("l" = int64, "tsn:UTC" = timestamp[ns, UTC],
// "+s" = struct, ...).
struct ArrowSchema {
  const char* format;
  const char* name;
  const char* metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema** children;
  struct ArrowSchema* dictionary;
  void (*release)(struct ArrowSchema*);
  void* private_data;
};

// The values of one array: `length` slots starting at slot `offset` of the
// buffers, whose number and meaning the type fixes (buffer 0 is always the
// validity bitmap, null when there are no nulls).
struct ArrowArray {
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void** buffers;
  struct ArrowArray** children;
  struct ArrowArray* dictionary;
  void (*release)(struct ArrowArray*);
  void* private_data;
};

#endif  // ARROW_C_DATA_INTERFACE

#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE

// A pull-based sequence of arrays (record batches) of one schema. The
// callbacks return 0 or an errno value; get_next marks the end of the stream
// by producing an array whose `release` is null.
struct ArrowArrayStream {
  int (*get_schema)(struct ArrowArrayStream*, struct ArrowSchema* out);
  int (*get_next)(struct ArrowArrayStream*, struct ArrowArray* out);
  const char* (*get_last_error)(struct ArrowArrayStream*);
  void (*release)(struct ArrowArrayStream*);
  void* private_data;
};

#endif  // ARROW_C_STREAM_INTERFACE

}  // extern "C"
