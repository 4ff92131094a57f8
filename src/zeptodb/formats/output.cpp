#include "zeptodb/formats/output.h"

#include <algorithm>
#include <array>
#include <utility>

#include "zeptodb/common/error.h"
#include "zeptodb/common/strings.h"
#include "zeptodb/formats/encoders.h"

namespace zepto::formats {

namespace {

// (alias, canonical name)
constexpr std::array<std::pair<std::string_view, std::string_view>, 18> kFormats{{
    {"TabSeparated", "TabSeparated"},
    {"TSV", "TabSeparated"},
    {"TabSeparatedWithNames", "TabSeparatedWithNames"},
    {"TSVWithNames", "TabSeparatedWithNames"},
    {"TabSeparatedWithNamesAndTypes", "TabSeparatedWithNamesAndTypes"},
    {"TSVWithNamesAndTypes", "TabSeparatedWithNamesAndTypes"},
    {"CSV", "CSV"},
    {"CSVWithNames", "CSVWithNames"},
    {"JSON", "JSON"},
    {"JSONCompact", "JSONCompact"},
    {"JSONEachRow", "JSONEachRow"},
    {"JSONLines", "JSONEachRow"},
    {"NDJSON", "JSONEachRow"},
    {"Native", "Native"},
    {"ArrowStream", "ArrowStream"},
    {"Arrow", "Arrow"},
    {"TabSeparatedRaw", "TabSeparatedRaw"},
    {"TSVRaw", "TabSeparatedRaw"},
}};

}  // namespace

std::string_view output_format_name(std::string_view name) {
  for (const auto& [alias, canonical] : kFormats)
    if (iequals(alias, name)) return canonical;
  return {};
}

std::string_view content_type(std::string_view f) {
  if (f == "CSV" || f == "CSVWithNames") return "text/csv; charset=UTF-8; header=absent";
  if (f == "JSON" || f == "JSONCompact") return "application/json; charset=UTF-8";
  if (f == "JSONEachRow") return "application/x-ndjson; charset=UTF-8";
  if (f == "Native" || f == "ArrowStream" || f == "Arrow") return "application/octet-stream";
  return "text/tab-separated-values; charset=UTF-8";
}

std::unique_ptr<Encoder> make_encoder(std::string_view f, const exec::ResultSet& rs,
                                      const OutputOptions& options) {
  if (f == "Native") return make_native_encoder(rs, options);
  if (f == "ArrowStream") return make_arrow_encoder(false, rs, options);
  if (f == "Arrow") return make_arrow_encoder(true, rs, options);
  return make_text_encoder(f, rs, options);
}

ResultStream::ResultStream(std::shared_ptr<const exec::ResultSet> rs, std::string_view format,
                           OutputOptions options)
    : rs_(std::move(rs)), options_(options) {
  std::string_view canonical = output_format_name(format);
  if (canonical.empty())
    throw_error(ErrorCode::kInvalidArgument, "Unknown output format '" + std::string(format) + "'");
  format_ = std::string(canonical);
  encoder_ = make_encoder(format_, *rs_, options_);
}

bool ResultStream::next(std::string& out) {
  out.clear();
  if (stage_ == 2) return false;
  if (stage_ == 0) {
    encoder_->prefix(out);
    stage_ = 1;
  }
  const size_t step = std::max<size_t>(1, options_.block_rows);
  while (row_ < rs_->rows && out.size() < options_.chunk_bytes) {
    size_t end = std::min(rs_->rows, row_ + step);
    encoder_->rows(row_, end, out);
    row_ = end;
  }
  if (row_ >= rs_->rows) {
    encoder_->suffix(out);
    stage_ = 2;
  }
  return true;
}

std::string encode(const exec::ResultSet& rs, std::string_view format, const OutputOptions& options) {
  auto shared = std::shared_ptr<const exec::ResultSet>(&rs, [](const exec::ResultSet*) {});
  ResultStream stream(shared, format, options);
  std::string all, chunk;
  while (stream.next(chunk)) all += chunk;
  return all;
}

}  // namespace zepto::formats
