// The tables of a database, by name (case-insensitive).
#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "zeptodb/storage/table.h"

namespace zepto {

class Catalog {
 public:
  explicit Catalog(std::shared_ptr<MemoryTracker> tracker, size_t initial_rows = 1024)
      : tracker_(std::move(tracker)), initial_rows_(initial_rows) {}

  // Creates a table. Returns nullptr if it exists and `if_not_exists`, else
  // throws Error(kAlreadyExists).
  std::shared_ptr<Table> create(std::string_view name, Schema schema, bool if_not_exists = false);
  // Removes a table; returns false if absent (readers holding it keep it).
  bool drop(std::string_view name);
  // The table or nullptr.
  std::shared_ptr<Table> find(std::string_view name) const;
  // The table, or throws Error(kNotFound) listing the tables that exist.
  std::shared_ptr<Table> require(std::string_view name) const;
  // Table names, sorted.
  std::vector<std::string> names() const;

 private:
  static std::string key(std::string_view name);

  std::shared_ptr<MemoryTracker> tracker_;
  size_t initial_rows_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<Table>, std::less<>> tables_;  // by key()
};

}  // namespace zepto
