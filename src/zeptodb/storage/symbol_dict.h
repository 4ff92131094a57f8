// Per-database dictionary of symbol names ('AAPL') and their int64 ids.
//
// Names get ids from kNameIdBase (2^32) upward, so they never collide with
// the integer ids applications use directly (below 2^32). A new name gets
// max(kNameIdBase - 1, every id seen so far) + 1, so it also avoids large
// integer ids already used. An integer id equal to a name's id refers to that
// name's symbol.
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
  static constexpr int64_t kNameIdBase = int64_t{1} << 32;

  // Id of `name`, adding it if new.
  int64_t intern(std::string_view name);
  // Id of `name` if it is known.
  std::optional<int64_t> find(std::string_view name) const;
  // Name of `id` if it has one.
  std::optional<std::string> name(int64_t id) const;
  // Records integer ids used directly by ingest so later names avoid them.
  void note_ids(int64_t min_id, int64_t max_id);
  size_t size() const;
  // The largest id in use or noted (kNameIdBase - 1 when none).
  int64_t max_id() const;

  // The names added since the first `from` (in the order they were added)
  // with their ids: what a write-ahead log records.
  std::vector<std::pair<int64_t, std::string>> entries(size_t from) const;
  // Adds `name` with the id it had before a restart. Throws
  // Error(kInvalidArgument) if the name or the id is already taken otherwise.
  void restore(int64_t id, std::string_view name);

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, int64_t> ids_;
  std::unordered_map<int64_t, std::string> names_;
  std::vector<int64_t> order_;  // ids of the names, in the order they were added
  int64_t max_id_ = kNameIdBase - 1;
};

}  // namespace zepto
