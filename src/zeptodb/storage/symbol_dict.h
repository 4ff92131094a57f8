// Per-database dictionary of symbol names ('AAPL') and their int64 ids.
//
// Ids given to names never collide with integer ids that were used before the
// name was added: a new name gets max(every id seen so far) + 1. An integer
// id used after a name owns it refers to that name's symbol.
#pragma once

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace zepto {

class SymbolDictionary {
 public:
  // Id of `name`, adding it if new.
  int64_t intern(std::string_view name);
  // Id of `name` if it is known.
  std::optional<int64_t> find(std::string_view name) const;
  // Name of `id` if it has one.
  std::optional<std::string> name(int64_t id) const;
  // Records integer ids used directly by ingest so later names avoid them.
  void note_ids(int64_t min_id, int64_t max_id);
  size_t size() const;

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, int64_t> ids_;
  std::unordered_map<int64_t, std::string> names_;
  int64_t max_id_ = 0;
};

}  // namespace zepto
