#include "zeptodb/storage/catalog.h"

#include <algorithm>
#include <cctype>
#include <mutex>

#include "zeptodb/common/error.h"

namespace zepto {

std::string Catalog::key(std::string_view name) {
  std::string k(name);
  for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k;
}

std::shared_ptr<Table> Catalog::create(std::string_view name, Schema schema, bool if_not_exists) {
  if (name.empty()) throw_error(ErrorCode::kInvalidArgument, "table name must not be empty");
  std::unique_lock lock(mu_);
  auto k = key(name);
  if (tables_.count(k)) {
    if (if_not_exists) return nullptr;
    throw_error(ErrorCode::kAlreadyExists, "table '" + std::string(name) + "' already exists");
  }
  auto t = std::make_shared<Table>(std::string(name), std::move(schema), tracker_, initial_rows_);
  tables_.emplace(std::move(k), t);
  return t;
}

bool Catalog::drop(std::string_view name) {
  std::unique_lock lock(mu_);
  return tables_.erase(key(name)) > 0;
}

std::shared_ptr<Table> Catalog::find(std::string_view name) const {
  // Names in lower case (the usual spelling) are their own key: no copy.
  const bool lower = std::none_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  std::shared_lock lock(mu_);
  auto it = lower ? tables_.find(name) : tables_.find(key(name));
  return it == tables_.end() ? nullptr : it->second;
}

std::shared_ptr<Table> Catalog::require(std::string_view name) const {
  auto t = find(name);
  if (!t) {
    std::string list;
    for (const auto& n : names()) list += (list.empty() ? "" : ", ") + n;
    throw_error(ErrorCode::kNotFound,
                "unknown table '" + std::string(name) + "'; tables: " + (list.empty() ? "(none)" : list));
  }
  return t;
}

std::vector<std::string> Catalog::names() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, t] : tables_) out.push_back(t->name());
  return out;
}

}  // namespace zepto
