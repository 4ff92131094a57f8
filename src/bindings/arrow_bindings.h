// The Arrow PyCapsule protocol in the Python module, registered from module.cpp.
#pragma once

#include <nanobind/nanobind.h>

#include <vector>

#include "zeptodb/formats/arrow_export.h"

namespace zepto::py {

// An "arrow_schema" capsule of the schema of `columns` (buffers not looked at).
nanobind::object arrow_schema_capsule(const std::vector<formats::ArrowColumn>& columns);

// An "arrow_array" capsule of `batch` as one struct array (zero copy).
nanobind::object arrow_array_capsule(const formats::ArrowBatch& batch);

// An "arrow_array_stream" capsule: schema of `columns`, batches from `next`.
nanobind::object arrow_stream_capsule(std::vector<formats::ArrowColumn> columns, formats::BatchSource next);

// Adds the ArrowExport class (__arrow_c_stream__, __arrow_c_schema__,
// __arrow_c_array__), Pipeline._export_arrow() and Pipeline._ingest_arrow();
// call after Pipeline is registered.
void register_arrow(nanobind::module_& m);

}  // namespace zepto::py
