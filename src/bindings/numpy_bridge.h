// NumPy arrays made directly with NumPy's C API: zero-copy, read-only views
// of engine blocks (the array's base keeps the block alive) and fresh int64
// arrays. NumPy is imported on first use, so `import zeptodb` works without
// it; only the functions that hand out arrays need it.
#pragma once

#include <Python.h>

#include <cstdint>

#include "zeptodb/database.h"

namespace zepto::py {

// A read-only 1-D array over ref.rows values of ref.block (dtype from
// ref.type: int64, int32, float64, bool, datetime64[ns]). New reference;
// nullptr with a Python error set on failure.
PyObject* make_view(ColumnRef ref);

// A new writable int64 array of length n; *data receives its buffer.
PyObject* new_int64_array(size_t n, int64_t** data);

}  // namespace zepto::py
