// Database's SQL entry points (declared in database.h).
#include "zeptodb/database.h"
#include "zeptodb/exec/thread_pool.h"
#include "zeptodb/sql/engine.h"

namespace zepto {

exec::ResultSet Database::execute(std::string_view sql) { return execute(sql, exec_options()); }

exec::ResultSet Database::execute(std::string_view sql, const exec::ExecOptions& options) {
  return sql::execute(*this, sql, options);
}

void Database::enable_parallel(size_t num_threads, size_t row_threshold) {
  std::lock_guard lock(exec_mu_);
  exec_options_.threads = num_threads == 0 ? exec::ThreadPool::hardware_threads() : num_threads;
  exec_options_.row_threshold = row_threshold;
}

void Database::disable_parallel() {
  std::lock_guard lock(exec_mu_);
  exec_options_.threads = 1;
}

exec::ExecOptions Database::exec_options() const {
  std::lock_guard lock(exec_mu_);
  return exec_options_;
}

}  // namespace zepto
