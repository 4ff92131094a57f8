// A SQL result (exec::ResultSet) described as Arrow columns (ArrowColumn,
// arrow_export.h), sharing the result's buffers: the one mapping that the
// Arrow/ArrowStream output format and the Python binding's Arrow PyCapsule
// protocol both use.
//
// Types: BIGINT → int64, INTEGER → int32, DOUBLE → float64, BOOLEAN → bool,
// TIMESTAMP → timestamp[ns, tz=UTC], VARCHAR → large_utf8. NULLs come from
// the result's validity bytes (export_batch turns them into bitmaps).
#pragma once

#include <cstddef>
#include <vector>

#include "zeptodb/exec/result_set.h"
#include "zeptodb/formats/arrow_export.h"

namespace zepto::formats {

// The Arrow kind of a result type.
ArrowKind result_kind(exec::DataType t);

// The columns of `rs` with names and kinds only (no buffers): a schema.
std::vector<ArrowColumn> result_schema(const exec::ResultSet& rs);

// Rows [begin, end) of `c`, sharing its buffers (no copy; the text of a
// dictionary-encoded VARCHAR column is built for those rows).
ArrowColumn result_column(const exec::ResultColumn& c, size_t begin, size_t end);

// Rows [begin, end) of every column of `rs` as one batch, sharing buffers.
ArrowBatch result_batch(const exec::ResultSet& rs, size_t begin, size_t end);

}  // namespace zepto::formats
