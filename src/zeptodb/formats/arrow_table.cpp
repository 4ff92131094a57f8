#include "zeptodb/formats/arrow_table.h"

#include <cstring>

#include "zeptodb/common/error.h"

namespace zepto::formats {

namespace {

ArrowKind fixed_kind(ColumnType t, bool is_timestamp) {
  if (is_timestamp) return ArrowKind::kTimestamp;
  switch (t) {
    case ColumnType::INT32: return ArrowKind::kInt32;
    case ColumnType::DOUBLE: return ArrowKind::kFloat64;
    case ColumnType::BOOL: return ArrowKind::kBool;
    case ColumnType::TIMESTAMP: return ArrowKind::kTimestamp;
    case ColumnType::INT64:
    case ColumnType::SYMBOL: return ArrowKind::kInt64;
  }
  return ArrowKind::kInt64;
}

std::shared_ptr<const void> block_view(const BlockPtr& b) {
  return b ? std::shared_ptr<const void>(b, b->data()) : nullptr;
}

template <typename T>
std::shared_ptr<const void> owned(std::vector<T> v) {
  auto p = std::make_shared<std::vector<T>>(std::move(v));
  return std::shared_ptr<const void>(p, p->data());
}

// The values of one column over several snapshots, back to back.
std::vector<uint8_t> concat_bytes(const std::vector<const PartitionSnapshot*>& parts, size_t col,
                                  size_t width) {
  size_t total = 0;
  for (auto* s : parts) total += s->rows;
  std::vector<uint8_t> out(total * width);
  size_t at = 0;
  for (auto* s : parts) {
    if (s->rows == 0) continue;
    std::memcpy(out.data() + at, s->columns[col]->data(), s->rows * width);
    at += s->rows * width;
  }
  return out;
}

}  // namespace

TableExport::TableExport(std::shared_ptr<const Table> table, const SymbolDictionary& symbols,
                         const std::optional<std::vector<int64_t>>& keys,
                         const TableExportOptions& options)
    : table_(std::move(table)) {
  const Schema& schema = table_->schema();
  if (options.columns.empty()) {
    for (size_t i = 0; i < schema.size(); ++i) indices_.push_back(i);
  } else {
    for (const auto& name : options.columns) indices_.push_back(schema.require(name, table_->name()));
  }
  if (keys) {
    for (int64_t k : *keys)
      if (const Partition* p = table_->find_partition(k)) snapshots_.push_back(p->snapshot());
  } else {
    for (const Partition* p : table_->partitions()) snapshots_.push_back(p->snapshot());
  }
  for (size_t out = 0; out < indices_.size(); ++out) {
    size_t c = indices_[out];
    const ColumnDef& def = schema.column(c);
    bool is_key = static_cast<int>(c) == schema.symbol_index();
    bool symbolic = options.symbols != SymbolExport::kId && (is_key || def.type == ColumnType::SYMBOL);
    if (symbolic) {
      // Resolve the names now: the stream must not depend on the dictionary later.
      bool any_named = false;
      auto note = [&](int64_t id) {
        if (names_.count(id) != 0) return;
        auto name = symbols.name(id);
        any_named |= name.has_value();
        names_.emplace(id, name ? *name : std::to_string(id));
      };
      for (const auto& s : snapshots_) {
        if (is_key) {
          if (s.rows > 0) note(s.key);
          continue;
        }
        const int64_t* ids = s.data<int64_t>(c);
        for (size_t r = 0; r < s.rows; ++r)
          if (s.valid(c) == nullptr || s.valid(c)[r] != 0) note(ids[r]);
      }
      if (options.symbols == SymbolExport::kAuto && !any_named) symbolic = false;
    }
    symbolic_.push_back(symbolic);
    ArrowColumn proto;
    proto.name = def.name;
    proto.kind = symbolic ? (options.symbols == SymbolExport::kUtf8 ? ArrowKind::kUtf8 : ArrowKind::kDictionary)
                          : fixed_kind(def.type, static_cast<int>(c) == schema.timestamp_index());
    if (proto.kind == ArrowKind::kDictionary)
      proto.dictionary = std::make_shared<const ArrowColumn>(utf8_column("", {}));
    schema_.push_back(std::move(proto));
  }
}

size_t TableExport::rows() const {
  size_t n = 0;
  for (const auto& s : snapshots_) n += s.rows;
  return n;
}

ArrowBatch TableExport::batch(size_t i) const {
  ArrowBatch b;
  b.rows = snapshots_.at(i).rows;
  for (size_t out = 0; out < indices_.size(); ++out) b.columns.push_back(build({&snapshots_[i]}, out));
  return b;
}

ArrowBatch TableExport::combined() const {
  std::vector<const PartitionSnapshot*> parts;
  for (const auto& s : snapshots_)
    if (s.rows > 0) parts.push_back(&s);
  ArrowBatch b;
  b.rows = rows();
  for (size_t out = 0; out < indices_.size(); ++out) b.columns.push_back(build(parts, out));
  return b;
}

ArrowColumn TableExport::build(const std::vector<const PartitionSnapshot*>& parts, size_t out) const {
  const size_t c = indices_[out];
  const ColumnDef& def = table_->schema().column(c);
  const bool is_key = static_cast<int>(c) == table_->schema().symbol_index();
  ArrowColumn col = schema_[out];
  for (auto* s : parts) col.length += s->rows;

  // Validity: the block itself for one partition, else the bytes concatenated.
  bool any_null = false;
  for (auto* s : parts) any_null |= s->valid(c) != nullptr;
  if (any_null && parts.size() == 1) {
    col.valid = std::shared_ptr<const uint8_t>(parts[0]->validity[c], parts[0]->valid(c));
  } else if (any_null) {
    auto bytes = std::make_shared<std::vector<uint8_t>>(col.length, 1);
    size_t at = 0;
    for (auto* s : parts) {
      if (s->valid(c) != nullptr) std::memcpy(bytes->data() + at, s->valid(c), s->rows);
      at += s->rows;
    }
    col.valid = std::shared_ptr<const uint8_t>(bytes, bytes->data());
  }

  if (!symbolic_[out]) {
    if (parts.size() == 1) {
      col.values = block_view(parts[0]->columns[c]);
    } else {
      col.values = owned(concat_bytes(parts, c, type_width(def.type)));
    }
    return col;
  }

  // Symbols: the id of each row (the partition key, or the stored id).
  std::vector<std::string> dict;
  std::unordered_map<int64_t, int32_t> index;
  std::vector<int32_t> codes;
  codes.reserve(col.length);
  for (auto* s : parts) {
    const int64_t* ids = is_key ? nullptr : s->data<int64_t>(c);
    for (size_t r = 0; r < s->rows; ++r) {
      int64_t id = is_key ? s->key : ids[r];
      auto [it, fresh] = index.try_emplace(id, static_cast<int32_t>(dict.size()));
      if (fresh) {
        auto name = names_.find(id);
        dict.push_back(name != names_.end() ? name->second : std::string());
      }
      codes.push_back(it->second);
    }
  }
  if (col.kind == ArrowKind::kDictionary) {
    col.values = owned(std::move(codes));
    col.dictionary = std::make_shared<const ArrowColumn>(utf8_column("", dict));
    return col;
  }
  std::vector<std::string> strings;
  strings.reserve(codes.size());
  for (int32_t k : codes) strings.push_back(dict[static_cast<size_t>(k)]);
  ArrowColumn text = utf8_column(col.name, strings);
  text.valid = col.valid;
  return text;
}

void export_stream(std::shared_ptr<const TableExport> table, ArrowArrayStream* out) {
  auto next = std::make_shared<size_t>(0);
  export_stream(table->schema(), [table, next]() -> std::optional<ArrowBatch> {
    if (*next >= table->batch_count()) return std::nullopt;
    return table->batch((*next)++);
  }, out);
}

}  // namespace zepto::formats
