// The text output formats: TabSeparated family, CSV family, JSON family.
#include <charconv>
#include <cmath>
#include <memory>

#include "zeptodb/common/error.h"
#include "zeptodb/formats/clickhouse_types.h"
#include "zeptodb/formats/encoders.h"

namespace zepto::formats {

namespace {

using exec::DataType;
using exec::ResultColumn;

enum class Style : uint8_t { kTsv, kTsvRaw, kCsv, kJson };

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_double(std::string& out, double x, bool json) {
  if (!std::isfinite(x)) {
    if (json) out += "null";
    else out += std::isnan(x) ? "nan" : (x > 0 ? "inf" : "-inf");
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, x);
  out.append(buf, r.ptr);
}

void append_tsv_escaped(std::string& out, std::string_view s) {
  for (char ch : s) {
    switch (ch) {
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\0': out += "\\0"; break;
      default: out += ch;
    }
  }
}

void append_csv_quoted(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
}

void append_json_string(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    unsigned char u = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += hex[u >> 4];
          out += hex[u & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void append_value(std::string& out, const ResultColumn& c, size_t row, Style style, const OutputOptions& o) {
  const bool json = style == Style::kJson;
  if (c.is_null(row)) {
    out += json ? "null" : "\\N";
    return;
  }
  switch (c.type) {
    case DataType::kBigint:
      if (json && o.quote_64bit_integers) {
        out += '"';
        append_int(out, c.data<int64_t>()[row]);
        out += '"';
      } else {
        append_int(out, c.data<int64_t>()[row]);
      }
      return;
    case DataType::kInteger: append_int(out, c.data<int32_t>()[row]); return;
    case DataType::kDouble: append_double(out, c.data<double>()[row], json); return;
    case DataType::kBoolean: out += c.data<uint8_t>()[row] ? "true" : "false"; return;
    case DataType::kTimestamp: {
      bool quote = json || style == Style::kCsv;
      if (quote) out += '"';
      append_timestamp(out, c.data<int64_t>()[row]);
      if (quote) out += '"';
      return;
    }
    case DataType::kVarchar: {
      std::string_view s = c.string_at(row);
      switch (style) {
        case Style::kTsv: append_tsv_escaped(out, s); return;
        case Style::kTsvRaw: out += s; return;
        case Style::kCsv: append_csv_quoted(out, s); return;
        case Style::kJson: append_json_string(out, s); return;
      }
    }
  }
}

// TabSeparated, TabSeparatedRaw, CSV and their WithNames(AndTypes) variants.
class DelimitedEncoder : public Encoder {
 public:
  DelimitedEncoder(const exec::ResultSet& rs, const OutputOptions& o, Style style, bool names, bool types)
      : rs_(rs), o_(o), style_(style), names_(names), types_(types),
        sep_(style == Style::kCsv ? o.csv_delimiter : '\t') {}

  void prefix(std::string& out) override {
    if (names_) header(out, false);
    if (types_) header(out, true);
  }

  void rows(size_t begin, size_t end, std::string& out) override {
    const size_t ncols = rs_.columns.size();
    for (size_t r = begin; r < end; ++r) {
      for (size_t c = 0; c < ncols; ++c) {
        if (c) out += sep_;
        append_value(out, rs_.columns[c], r, style_, o_);
      }
      out += '\n';
    }
  }

 private:
  void header(std::string& out, bool types) {
    for (size_t c = 0; c < rs_.columns.size(); ++c) {
      if (c) out += sep_;
      const ResultColumn& col = rs_.columns[c];
      std::string text = types ? clickhouse_type(col.type, col.has_nulls()) : col.name;
      if (style_ == Style::kCsv) append_csv_quoted(out, text);
      else append_tsv_escaped(out, text);
    }
    out += '\n';
  }

  const exec::ResultSet& rs_;
  OutputOptions o_;
  Style style_;
  bool names_, types_;
  char sep_;
};

// JSON and JSONCompact: meta, data, rows, statistics.
class JsonEncoder : public Encoder {
 public:
  JsonEncoder(const exec::ResultSet& rs, const OutputOptions& o, bool compact)
      : rs_(rs), o_(o), compact_(compact) {}

  void prefix(std::string& out) override {
    out += "{\n\t\"meta\":\n\t[";
    for (size_t c = 0; c < rs_.columns.size(); ++c) {
      const ResultColumn& col = rs_.columns[c];
      out += c ? ",\n\t\t{\n\t\t\t\"name\": " : "\n\t\t{\n\t\t\t\"name\": ";
      append_json_string(out, col.name);
      out += ",\n\t\t\t\"type\": ";
      append_json_string(out, clickhouse_type(col.type, col.has_nulls()));
      out += "\n\t\t}";
    }
    out += rs_.columns.empty() ? "],\n\n\t\"data\":\n\t[" : "\n\t],\n\n\t\"data\":\n\t[";
  }

  void rows(size_t begin, size_t end, std::string& out) override {
    for (size_t r = begin; r < end; ++r) {
      out += r ? ",\n\t\t" : "\n\t\t";
      out += compact_ ? '[' : '{';
      for (size_t c = 0; c < rs_.columns.size(); ++c) {
        if (c) out += compact_ ? ", " : ",\n\t\t\t";
        else if (!compact_) out += "\n\t\t\t";
        if (!compact_) {
          append_json_string(out, rs_.columns[c].name);
          out += ": ";
        }
        append_value(out, rs_.columns[c], r, Style::kJson, o_);
      }
      out += compact_ ? "]" : "\n\t\t}";
    }
  }

  void suffix(std::string& out) override {
    out += rs_.rows ? "\n\t],\n\n\t\"rows\": " : "],\n\n\t\"rows\": ";
    append_int(out, static_cast<int64_t>(rs_.rows));
    out += ",\n\n\t\"statistics\":\n\t{\n\t\t\"elapsed\": ";
    append_double(out, o_.elapsed_seconds, true);
    out += ",\n\t\t\"rows_read\": ";
    append_int(out, static_cast<int64_t>(o_.rows_read));
    out += ",\n\t\t\"bytes_read\": ";
    append_int(out, static_cast<int64_t>(o_.bytes_read));
    out += "\n\t}\n}\n";
  }

 private:
  const exec::ResultSet& rs_;
  OutputOptions o_;
  bool compact_;
};

class JsonEachRowEncoder : public Encoder {
 public:
  JsonEachRowEncoder(const exec::ResultSet& rs, const OutputOptions& o) : rs_(rs), o_(o) {
    for (const auto& c : rs_.columns) {
      std::string key;
      append_json_string(key, c.name);
      keys_.push_back(key + ":");
    }
  }

  void rows(size_t begin, size_t end, std::string& out) override {
    for (size_t r = begin; r < end; ++r) {
      out += '{';
      for (size_t c = 0; c < rs_.columns.size(); ++c) {
        if (c) out += ',';
        out += keys_[c];
        append_value(out, rs_.columns[c], r, Style::kJson, o_);
      }
      out += "}\n";
    }
  }

 private:
  const exec::ResultSet& rs_;
  OutputOptions o_;
  std::vector<std::string> keys_;
};

}  // namespace

std::unique_ptr<Encoder> make_text_encoder(std::string_view f, const exec::ResultSet& rs,
                                           const OutputOptions& o) {
  if (f == "TabSeparated") return std::make_unique<DelimitedEncoder>(rs, o, Style::kTsv, false, false);
  if (f == "TabSeparatedRaw") return std::make_unique<DelimitedEncoder>(rs, o, Style::kTsvRaw, false, false);
  if (f == "TabSeparatedWithNames") return std::make_unique<DelimitedEncoder>(rs, o, Style::kTsv, true, false);
  if (f == "TabSeparatedWithNamesAndTypes")
    return std::make_unique<DelimitedEncoder>(rs, o, Style::kTsv, true, true);
  if (f == "CSV") return std::make_unique<DelimitedEncoder>(rs, o, Style::kCsv, false, false);
  if (f == "CSVWithNames") return std::make_unique<DelimitedEncoder>(rs, o, Style::kCsv, true, false);
  if (f == "JSON") return std::make_unique<JsonEncoder>(rs, o, false);
  if (f == "JSONCompact") return std::make_unique<JsonEncoder>(rs, o, true);
  if (f == "JSONEachRow") return std::make_unique<JsonEachRowEncoder>(rs, o);
  throw_error(ErrorCode::kInvalidArgument, "Unknown output format '" + std::string(f) + "'");
}

}  // namespace zepto::formats
