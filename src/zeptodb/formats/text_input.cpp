// Text input formats: CSV, TabSeparated (with or without a header row) and
// JSONEachRow.
#include <simdjson.h>

#include "zeptodb/common/error.h"
#include "zeptodb/formats/decoders.h"

namespace zepto::formats {

namespace {

// Splits CSV or TSV text into fields, row by row.
class FieldReader {
 public:
  FieldReader(std::string_view data, char delimiter, bool csv) : d_(data), delim_(delimiter), csv_(csv) {}

  bool at_end() {
    // Blank lines (and a final line break) end nothing: skip them.
    while (pos_ < d_.size() && (d_[pos_] == '\n' || d_[pos_] == '\r')) ++pos_;
    return pos_ >= d_.size();
  }

  // Reads the fields of one row into `fields` (`null[i]`: the field was \N).
  void row(std::vector<std::string>& fields, std::vector<uint8_t>& null, size_t row_number) {
    fields.clear();
    null.clear();
    while (true) {
      std::string f;
      bool is_null = false;
      if (csv_) read_csv(f, is_null, row_number);
      else read_tsv(f, is_null, row_number);
      fields.push_back(std::move(f));
      null.push_back(is_null);
      if (pos_ >= d_.size()) return;
      char c = d_[pos_];
      if (c == delim_) {
        ++pos_;
        continue;
      }
      if (c == '\r' && pos_ + 1 < d_.size() && d_[pos_ + 1] == '\n') ++pos_;
      if (d_[pos_] == '\n' || d_[pos_] == '\r') {
        ++pos_;
        return;
      }
      throw_error(ErrorCode::kInvalidArgument, "row " + std::to_string(row_number) + ": unexpected character '" +
                                                   std::string(1, c) + "' after field " + std::to_string(fields.size()));
    }
  }

 private:
  bool end_of_field(char c) const { return c == delim_ || c == '\n' || c == '\r'; }

  void read_csv(std::string& f, bool& is_null, size_t row_number) {
    if (pos_ < d_.size() && (d_[pos_] == '"' || d_[pos_] == '\'')) {
      char q = d_[pos_++];
      while (true) {
        if (pos_ >= d_.size())
          throw_error(ErrorCode::kInvalidArgument, "row " + std::to_string(row_number) + ": unterminated quoted field");
        char c = d_[pos_++];
        if (c == q) {
          if (pos_ < d_.size() && d_[pos_] == q) {
            f += q;
            ++pos_;
            continue;
          }
          return;
        }
        f += c;
      }
    }
    size_t start = pos_;
    while (pos_ < d_.size() && !end_of_field(d_[pos_])) ++pos_;
    f.assign(d_.substr(start, pos_ - start));
    is_null = f == "\\N" || f.empty() || f == "NULL";
  }

  void read_tsv(std::string& f, bool& is_null, size_t row_number) {
    size_t start = pos_;
    while (pos_ < d_.size() && d_[pos_] != delim_ && d_[pos_] != '\n') {
      char c = d_[pos_++];
      if (c != '\\') {
        f += c;
        continue;
      }
      if (pos_ >= d_.size())
        throw_error(ErrorCode::kInvalidArgument, "row " + std::to_string(row_number) + ": backslash at end of data");
      char e = d_[pos_++];
      switch (e) {
        case 't': f += '\t'; break;
        case 'n': f += '\n'; break;
        case 'r': f += '\r'; break;
        case 'b': f += '\b'; break;
        case 'f': f += '\f'; break;
        case '0': f += '\0'; break;
        case 'N':
          if (pos_ - start == 2) is_null = true;
          else f += "\\N";
          break;
        default: f += e;  // \\ \' \t and any other escaped character
      }
    }
    if (is_null && !f.empty()) is_null = false;
  }

  std::string_view d_;
  size_t pos_ = 0;
  char delim_;
  bool csv_;
};

}  // namespace

ArrowBatch decode_delimited(std::string_view data, const Schema& schema, std::string_view table,
                            const std::vector<std::string>& names, SymbolDictionary& symbols, char delimiter,
                            bool csv, bool with_names) {
  FieldReader reader(data, csv ? delimiter : '\t', csv);
  std::vector<std::string> fields;
  std::vector<uint8_t> null;
  size_t row = 0;
  std::vector<std::string> header;
  if (with_names && !reader.at_end()) {
    reader.row(fields, null, ++row);
    header = fields;
  }
  std::vector<ValueColumn> cols;
  for (auto& t : target_columns(schema, table, names.empty() ? header : names)) cols.emplace_back(t, symbols);
  while (!reader.at_end()) {
    reader.row(fields, null, ++row);
    if (fields.size() != cols.size())
      throw_error(ErrorCode::kInvalidArgument, "row " + std::to_string(row) + " has " + std::to_string(fields.size()) +
                                                   " fields, expected " + std::to_string(cols.size()));
    for (size_t c = 0; c < cols.size(); ++c) {
      if (null[c]) cols[c].add_null();
      else cols[c].add_text(fields[c], row);
    }
  }
  ArrowBatch batch;
  batch.rows = cols.empty() ? 0 : cols[0].size();
  for (auto& c : cols) batch.columns.push_back(c.finish());
  return batch;
}

ArrowBatch decode_json_each_row(std::string_view data, const Schema& schema, std::string_view table,
                                const std::vector<std::string>& names, SymbolDictionary& symbols,
                                const InputOptions& options) {
  std::vector<TargetColumn> targets = target_columns(schema, table, names);
  std::vector<ValueColumn> cols;
  for (auto& t : targets) cols.emplace_back(t, symbols);
  auto find = [&](std::string_view key) -> int {
    for (size_t i = 0; i < cols.size(); ++i)
      if (cols[i].target().def.name == key) return static_cast<int>(i);
    int idx = schema.find(key);
    if (idx >= 0)
      for (size_t i = 0; i < cols.size(); ++i)
        if (cols[i].target().def.name == schema.column(static_cast<size_t>(idx)).name) return static_cast<int>(i);
    return -1;
  };

  std::vector<bool> seen(cols.size(), false);
  simdjson::padded_string json(data);
  simdjson::ondemand::parser parser;
  size_t row = 0;
  try {
    simdjson::ondemand::document_stream docs =
        parser.iterate_many(json, std::max<size_t>(json.size() + 64, simdjson::dom::MINIMAL_BATCH_SIZE));
    for (auto doc : docs) {
      ++row;
      simdjson::ondemand::object obj = doc.get_object();
      for (auto field : obj) {
        std::string_view key = field.unescaped_key();
        int c = find(key);
        if (c < 0) {
          if (options.skip_unknown_fields) continue;
          throw_error(ErrorCode::kNotFound, "row " + std::to_string(row) + ": unknown column '" + std::string(key) +
                                                "' of table '" + std::string(table) + "' (valid: " + schema.column_list() + ")");
        }
        ValueColumn& col = cols[static_cast<size_t>(c)];
        seen[static_cast<size_t>(c)] = true;
        if (col.size() >= row)
          throw_error(ErrorCode::kInvalidArgument, "row " + std::to_string(row) + ": column '" + std::string(key) + "' given twice");
        col.pad_to(row - 1);
        simdjson::ondemand::value v = field.value();
        switch (v.type()) {
          case simdjson::ondemand::json_type::null: col.add_null(); break;
          case simdjson::ondemand::json_type::boolean: col.add_bool(v.get_bool(), row); break;
          case simdjson::ondemand::json_type::string: col.add_string(v.get_string(), row); break;
          case simdjson::ondemand::json_type::number: {
            simdjson::ondemand::number_type nt = v.get_number_type();
            if (nt == simdjson::ondemand::number_type::signed_integer) col.add_int(v.get_int64(), row);
            else if (nt == simdjson::ondemand::number_type::floating_point_number) col.add_double(v.get_double(), row);
            else col.add_text(std::string_view(v.raw_json_token()), row);
            break;
          }
          default:
            throw_error(ErrorCode::kInvalidArgument,
                        "row " + std::to_string(row) + ", column '" + std::string(key) + "': arrays and objects are not accepted");
        }
      }
      for (auto& col : cols) col.pad_to(row);
    }
    if (docs.truncated_bytes() > 0)
      throw_error(ErrorCode::kInvalidArgument, "JSONEachRow row " + std::to_string(row + 1) + ": the data ends inside a JSON object");
  } catch (const simdjson::simdjson_error& e) {
    throw_error(ErrorCode::kInvalidArgument, "JSONEachRow row " + std::to_string(row == 0 ? 1 : row) +
                                                 ": malformed JSON (" + e.what() + ")");
  }
  ArrowBatch batch;
  batch.rows = row;
  // A column no row mentions is left out (so the timestamp defaults to the ingest time).
  for (size_t c = 0; c < cols.size(); ++c)
    if (seen[c]) batch.columns.push_back(cols[c].finish());
  return batch;
}

}  // namespace zepto::formats
