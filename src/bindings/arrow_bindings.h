// The Arrow PyCapsule protocol in the Python module, registered from module.cpp.
#pragma once

#include <nanobind/nanobind.h>

namespace zepto::py {

// Adds the ArrowExport class (__arrow_c_stream__, __arrow_c_schema__,
// __arrow_c_array__), Pipeline._export_arrow() and Pipeline._ingest_arrow();
// call after Pipeline is registered.
void register_arrow(nanobind::module_& m);

}  // namespace zepto::py
