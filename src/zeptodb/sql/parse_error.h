// The error thrown for SQL that does not parse.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "zeptodb/common/error.h"

namespace zepto::sql {

// An Error(kInvalidArgument) whose message reads
//   "syntax error at line 1, column 15: expected FROM, found 'FORM'"
// and which also carries the position for callers that want it apart.
class ParseError : public Error {
 public:
  ParseError(uint32_t line, uint32_t column, std::string_view detail)
      : Error(ErrorCode::kInvalidArgument, "syntax error at line " + std::to_string(line) +
                                               ", column " + std::to_string(column) + ": " +
                                               std::string(detail)),
        line_(line),
        column_(column) {}

  uint32_t line() const { return line_; }
  uint32_t column() const { return column_; }

 private:
  uint32_t line_;
  uint32_t column_;
};

}  // namespace zepto::sql
