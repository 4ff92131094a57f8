#include "zeptodb/formats/input.h"

#include <algorithm>
#include <array>
#include <memory>
#include <utility>

#include "zeptodb/common/error.h"
#include "zeptodb/common/strings.h"
#include "zeptodb/database.h"
#include "zeptodb/formats/arrow_ipc.h"
#include "zeptodb/formats/decoders.h"

namespace zepto::formats {

namespace {

constexpr std::array<std::pair<std::string_view, std::string_view>, 15> kInputs{{
    {"JSONEachRow", "JSONEachRow"},
    {"JSONLines", "JSONEachRow"},
    {"NDJSON", "JSONEachRow"},
    {"CSV", "CSV"},
    {"CSVWithNames", "CSVWithNames"},
    {"TabSeparated", "TabSeparated"},
    {"TSV", "TabSeparated"},
    {"TabSeparatedWithNames", "TabSeparatedWithNames"},
    {"TSVWithNames", "TabSeparatedWithNames"},
    {"TabSeparatedRaw", "TabSeparated"},
    {"TSVRaw", "TabSeparated"},
    {"Native", "Native"},
    {"ArrowStream", "ArrowStream"},
    {"Arrow", "Arrow"},
    {"Values", ""},
}};

// Stores decoded batches (all of the same columns) as one atomic batch.
size_t store(Database& db, std::string_view table, std::vector<ArrowBatch> batches) {
  batches.erase(std::remove_if(batches.begin(), batches.end(), [](const ArrowBatch& b) { return b.rows == 0; }),
                batches.end());
  if (batches.empty()) return 0;
  const auto& first = batches.front().columns;
  for (const auto& b : batches) {
    bool same = b.columns.size() == first.size();
    for (size_t i = 0; same && i < first.size(); ++i)
      same = b.columns[i].name == first[i].name && b.columns[i].kind == first[i].kind;
    if (!same) throw_error(ErrorCode::kInvalidArgument, "every block of an INSERT must have the same columns and types");
  }
  auto shared = std::make_shared<std::vector<ArrowBatch>>(std::move(batches));
  auto next = std::make_shared<size_t>(0);
  ArrowArrayStream stream;
  export_stream(shared->front().columns, [shared, next]() -> std::optional<ArrowBatch> {
    if (*next >= shared->size()) return std::nullopt;
    return (*shared)[(*next)++];
  }, &stream);
  return db.ingest_arrow(table, &stream);
}

}  // namespace

std::string_view input_format_name(std::string_view name) {
  for (const auto& [alias, canonical] : kInputs)
    if (iequals(alias, name)) return canonical;
  return {};
}

size_t insert_formatted(Database& db, std::string_view table, const std::vector<std::string>& columns,
                        std::string_view format, std::string_view data, const InputOptions& options) {
  std::string_view f = input_format_name(format);
  if (f.empty())
    throw_error(ErrorCode::kInvalidArgument,
                "Unknown input format '" + std::string(format) +
                    "' (supported: JSONEachRow, CSV, CSVWithNames, TabSeparated, TabSeparatedWithNames, Native, "
                    "ArrowStream, Arrow)");
  auto t = db.catalog().require(table);
  const Schema& schema = t->schema();
  const std::string name = t->name();
  if (f == "ArrowStream" || f == "Arrow") {
    ArrowImportOptions import;
    ArrowArrayStream stream;
    std::vector<std::string> source_names = read_arrow_ipc(data, f == "Arrow", &stream);
    if (!columns.empty()) {
      if (columns.size() != source_names.size()) {
        stream.release(&stream);
        throw_error(ErrorCode::kInvalidArgument, "the Arrow data has " + std::to_string(source_names.size()) +
                                                     " columns, the INSERT names " + std::to_string(columns.size()));
      }
      for (size_t i = 0; i < columns.size(); ++i) import.columns.emplace_back(source_names[i], columns[i]);
    }
    return db.ingest_arrow(name, &stream, import);
  }
  std::vector<ArrowBatch> batches;
  if (f == "Native") {
    batches = decode_native(data, schema, name, columns);
  } else if (f == "JSONEachRow") {
    batches.push_back(decode_json_each_row(data, schema, name, columns, db.symbols(), options));
  } else {
    bool csv = f.substr(0, 3) == "CSV";
    bool with_names = f.size() > 9 && f.substr(f.size() - 9) == "WithNames";
    batches.push_back(decode_delimited(data, schema, name, columns, db.symbols(), options.csv_delimiter, csv, with_names));
  }
  return store(db, name, std::move(batches));
}

}  // namespace zepto::formats
