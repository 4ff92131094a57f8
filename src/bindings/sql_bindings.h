// SQL parts of the nanobind module, registered from module.cpp.
#pragma once

#include <nanobind/nanobind.h>

#include "zeptodb/database.h"

namespace zepto::py {

// Adds the QueryResult class to the module and Pipeline._execute_sql();
// call after Pipeline is registered.
void register_sql(nanobind::module_& m);

}  // namespace zepto::py
