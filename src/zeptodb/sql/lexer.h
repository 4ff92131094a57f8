// Splits SQL text into tokens, on demand.
//
// The lexer is pulled one token at a time so that the parser can stop in
// the middle of the input: after `INSERT ... FORMAT Name` the rest is data
// and must not be tokenized. Tokens refer to the source by byte offset; the
// lexer allocates nothing.
//
// Lexical rules:
//   identifiers   [A-Za-z_][A-Za-z0-9_$]*, or quoted "x" ("" escapes ") or
//                 `x` (`` escapes `); bytes >= 0x80 are identifier bytes
//   numbers       123  1.5  .5  1e9  2.5E-3  (a letter right after a number
//                 is an error)
//   strings       'x' with '' for a quote; backslash escapes as in
//                 ClickHouse: \' \\ \n \t \r \0, any other \c stays as
//                 written (so LIKE patterns may use \% and \_)
//   comments      -- to end of line, /* ... */ (not nested)
//   operators     = == != <> < <= > >= + - * / % || :: : . , ; ( ) { }
// Columns count characters (UTF-8 code points), from 1.
#pragma once

#include <cstdint>
#include <string_view>

namespace zepto::sql {

enum class TokenKind : uint8_t {
  kEnd,
  kIdent,        // bare word; `keyword` says whether it is one
  kQuotedIdent,  // "x" or `x`; text includes the quotes
  kInteger,
  kFloat,
  kString,  // text includes the quotes
  kLParen,
  kRParen,
  kLBrace,
  kRBrace,
  kComma,
  kDot,
  kSemicolon,
  kStar,
  kPlus,
  kMinus,
  kSlash,
  kPercent,
  kEq,  // = or ==
  kNe,  // != or <>
  kLt,
  kLe,
  kGt,
  kGe,
  kConcat,       // ||
  kDoubleColon,  // ::
  kColon,
};

// Words with a meaning in the grammar. Whether a keyword may also serve as
// a name is the parser's decision (see is_reserved()).
enum class Keyword : uint8_t {
  kNone,
  kAll, kAlter, kAnalyze, kAnd, kAs, kAsc, kAsof, kBetween, kBy, kCase, kCast,
  kCheckpoint, kCreate, kCross, kCurrent, kDate, kDesc, kDescribe, kDistinct, kDrop,
  kElse, kEnd, kExists, kExplain, kFalse, kFirst, kFollowing, kFormat, kFrom, kFull,
  kGroup, kHaving, kIf, kIn, kInner, kInsert, kInterval, kInto, kIs, kJoin, kLast,
  kLeft, kLike, kLimit, kNot, kNull, kNulls, kOffset, kOn, kOr, kOrder, kOuter, kOver,
  kPartition, kPreceding, kRange, kRight, kRow, kRows, kSelect, kSet, kSettings, kShow,
  kTable, kTables, kThen, kTimestamp, kTrue, kTtl, kUnbounded, kUnion, kUsing, kValues,
  kWhen, kWhere, kWindow, kWith,
};

// Keywords that can never be a bare identifier (column, table, alias).
bool is_reserved(Keyword kw);

// Upper-case spelling of a keyword ("SELECT").
std::string_view keyword_name(Keyword kw);

struct Token {
  TokenKind kind = TokenKind::kEnd;
  Keyword keyword = Keyword::kNone;  // kIdent only
  bool has_escape = false;  // kString / kQuotedIdent: contains escapes to undo
  uint32_t line = 1;
  uint32_t column = 1;
  uint32_t offset = 0;  // byte offset of the first character
  uint32_t length = 0;  // bytes
};

class Lexer {
 public:
  explicit Lexer(std::string_view source) : src_(source) {}

  // The next token; kEnd at the end of input, repeatedly. Throws ParseError
  // on an unterminated string, identifier or comment, a malformed number or
  // a character that starts no token.
  Token next();

  std::string_view text(const Token& t) const { return src_.substr(t.offset, t.length); }
  std::string_view source() const { return src_; }

 private:
  void skip_space_and_comments();
  void advance(size_t n);  // moves pos_ by n bytes, keeping line/column
  Token make(TokenKind kind, size_t start, uint32_t line, uint32_t column) const;

  std::string_view src_;
  size_t pos_ = 0;
  uint32_t line_ = 1;
  uint32_t column_ = 1;
};

}  // namespace zepto::sql
