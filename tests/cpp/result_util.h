// Test helper for SQL result columns.
#pragma once

#include <cstddef>

#include "zeptodb/exec/result_set.h"

namespace zepto::test_util {

// Rows [begin, end) of a VARCHAR column in the plain layout (offsets from 0
// and their characters): the column itself when it is plain and whole, a copy
// otherwise. The reference the dictionary-encoded paths are checked against.
inline exec::ResultColumn plain_strings(const exec::ResultColumn& c, size_t begin, size_t end) {
  if (!c.dictionary && begin == 0 && end == c.length) return c;
  exec::ColumnBuilder b(c.name, exec::DataType::kVarchar, end - begin);
  for (size_t r = begin; r < end; ++r) {
    if (c.is_null(r)) b.append_null();
    else b.append_string(c.string_at(r));
  }
  return b.finish();
}

}  // namespace zepto::test_util
