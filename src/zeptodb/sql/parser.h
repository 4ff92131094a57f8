// Hand-written recursive-descent parser of ZeptoDB's SQL dialect.
//
// parse() turns the text of one statement (an optional trailing `;`
// allowed) into a Statement. Anything it cannot parse, including trailing
// tokens and empty input, throws ParseError naming the problem, the
// offending token and its line and column.
//
// Expression precedence, loosest first:
//   OR < AND < NOT < comparison (= == != <> < <= > >=, [NOT] BETWEEN,
//   [NOT] IN, IS [NOT] NULL, [NOT] LIKE) < + - || < * / % < unary - +
//   < ::type < primary
//
// Reserved words (is_reserved() in lexer.h) cannot be bare names; quote
// them ("order"). TIMESTAMP, DATE, INTERVAL, FIRST, LAST and the other
// non-reserved keywords are names unless their grammar follows
// (TIMESTAMP '...' is a literal, `timestamp` a column).
#pragma once

#include <string_view>

#include "zeptodb/sql/ast.h"
#include "zeptodb/sql/parse_error.h"

namespace zepto::sql {

// Parses one statement. For `INSERT ... FORMAT Name` parsing stops after the
// name and InsertStmt::data_offset tells where the data begins; the bytes
// after it are not looked at.
Statement parse(std::string_view sql);

// Parses a standalone expression (the whole input must be one expression).
ExprPtr parse_expression(std::string_view sql);

}  // namespace zepto::sql
