// How a query runs: the knobs a caller (Python's QueryExecutor, the server)
// sets per statement.
#pragma once

#include <cstddef>

namespace zepto::exec {

struct ExecOptions {
  size_t threads = 1;              // worker threads of one query (1 = serial)
  size_t row_threshold = 100'000;  // rows a query must read before it uses more than one thread
};

}  // namespace zepto::exec
