#include "zeptodb/storage/symbol_dict.h"

#include <limits>
#include <mutex>

#include "zeptodb/common/error.h"

namespace zepto {

int64_t SymbolDictionary::intern(std::string_view name) {
  std::string key(name);
  {
    std::shared_lock lock(mu_);
    auto it = ids_.find(key);
    if (it != ids_.end()) return it->second;
  }
  std::unique_lock lock(mu_);
  auto it = ids_.find(key);
  if (it != ids_.end()) return it->second;
  if (max_id_ == std::numeric_limits<int64_t>::max())
    throw_error(ErrorCode::kInvalidArgument,
                "no symbol id left for name '" + key +
                    "': names take ids above the largest integer id in use, which is the int64 maximum");
  int64_t id = ++max_id_;
  ids_.emplace(key, id);
  names_.emplace(id, std::move(key));
  return id;
}

std::optional<int64_t> SymbolDictionary::find(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = ids_.find(std::string(name));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> SymbolDictionary::name(int64_t id) const {
  std::shared_lock lock(mu_);
  auto it = names_.find(id);
  if (it == names_.end()) return std::nullopt;
  return it->second;
}

void SymbolDictionary::note_ids(int64_t /*min_id*/, int64_t max_id) {
  {
    std::shared_lock lock(mu_);
    if (max_id <= max_id_) return;
  }
  std::unique_lock lock(mu_);
  if (max_id > max_id_) max_id_ = max_id;
}

size_t SymbolDictionary::size() const {
  std::shared_lock lock(mu_);
  return ids_.size();
}

}  // namespace zepto
