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

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, int64_t> ids_;
  std::unordered_map<int64_t, std::string> names_;
  int64_t max_id_ = kNameIdBase - 1;
};

}  // namespace zepto
