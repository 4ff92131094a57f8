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
  order_.push_back(id);
  return id;
}

std::vector<std::pair<int64_t, std::string>> SymbolDictionary::entries(size_t from) const {
  std::shared_lock lock(mu_);
  std::vector<std::pair<int64_t, std::string>> out;
  for (size_t i = from; i < order_.size(); ++i) out.emplace_back(order_[i], names_.at(order_[i]));
  return out;
}

void SymbolDictionary::restore(int64_t id, std::string_view name) {
  std::unique_lock lock(mu_);
  std::string key(name);
  auto it = ids_.find(key);
  if (it != ids_.end()) {
    if (it->second == id) return;
    throw_error(ErrorCode::kInvalidArgument, "symbol '" + key + "' is restored with id " + std::to_string(id) +
                                                 " but already has id " + std::to_string(it->second));
  }
  if (names_.count(id))
    throw_error(ErrorCode::kInvalidArgument, "symbol id " + std::to_string(id) + " is restored for '" + key +
                                                 "' but already names '" + names_.at(id) + "'");
  ids_.emplace(key, id);
  names_.emplace(id, std::move(key));
  order_.push_back(id);
  if (id > max_id_) max_id_ = id;
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

int64_t SymbolDictionary::max_id() const {
  std::shared_lock lock(mu_);
  return max_id_;
}

size_t SymbolDictionary::size() const {
  std::shared_lock lock(mu_);
  return ids_.size();
}

}  // namespace zepto
