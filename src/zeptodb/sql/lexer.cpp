#include "zeptodb/sql/lexer.h"

#include <array>
#include <string>

#include "zeptodb/sql/parse_error.h"

namespace zepto::sql {
namespace {

struct KeywordEntry {
  std::string_view name;  // upper case
  Keyword kw;
  bool reserved;
};

// Sorted by name for binary search.
constexpr std::array kKeywords = {
    KeywordEntry{"ALL", Keyword::kAll, true},
    KeywordEntry{"ALTER", Keyword::kAlter, false},
    KeywordEntry{"ANALYZE", Keyword::kAnalyze, false},
    KeywordEntry{"AND", Keyword::kAnd, true},
    KeywordEntry{"AS", Keyword::kAs, true},
    KeywordEntry{"ASC", Keyword::kAsc, true},
    KeywordEntry{"ASOF", Keyword::kAsof, true},
    KeywordEntry{"BETWEEN", Keyword::kBetween, true},
    KeywordEntry{"BY", Keyword::kBy, true},
    KeywordEntry{"CASE", Keyword::kCase, true},
    KeywordEntry{"CAST", Keyword::kCast, true},
    KeywordEntry{"CHECKPOINT", Keyword::kCheckpoint, false},
    KeywordEntry{"CREATE", Keyword::kCreate, false},
    KeywordEntry{"CROSS", Keyword::kCross, true},
    KeywordEntry{"CURRENT", Keyword::kCurrent, false},
    KeywordEntry{"DATE", Keyword::kDate, false},
    KeywordEntry{"DESC", Keyword::kDesc, true},
    KeywordEntry{"DESCRIBE", Keyword::kDescribe, false},
    KeywordEntry{"DISTINCT", Keyword::kDistinct, true},
    KeywordEntry{"DROP", Keyword::kDrop, false},
    KeywordEntry{"ELSE", Keyword::kElse, true},
    KeywordEntry{"END", Keyword::kEnd, true},
    KeywordEntry{"EXISTS", Keyword::kExists, false},
    KeywordEntry{"EXPLAIN", Keyword::kExplain, false},
    KeywordEntry{"FALSE", Keyword::kFalse, true},
    KeywordEntry{"FIRST", Keyword::kFirst, false},
    KeywordEntry{"FOLLOWING", Keyword::kFollowing, false},
    KeywordEntry{"FORMAT", Keyword::kFormat, false},
    KeywordEntry{"FROM", Keyword::kFrom, true},
    KeywordEntry{"FULL", Keyword::kFull, true},
    KeywordEntry{"GROUP", Keyword::kGroup, true},
    KeywordEntry{"HAVING", Keyword::kHaving, true},
    KeywordEntry{"IF", Keyword::kIf, false},
    KeywordEntry{"IN", Keyword::kIn, true},
    KeywordEntry{"INNER", Keyword::kInner, true},
    KeywordEntry{"INSERT", Keyword::kInsert, false},
    KeywordEntry{"INTERVAL", Keyword::kInterval, false},
    KeywordEntry{"INTO", Keyword::kInto, true},
    KeywordEntry{"IS", Keyword::kIs, true},
    KeywordEntry{"JOIN", Keyword::kJoin, true},
    KeywordEntry{"LAST", Keyword::kLast, false},
    KeywordEntry{"LEFT", Keyword::kLeft, true},
    KeywordEntry{"LIKE", Keyword::kLike, true},
    KeywordEntry{"LIMIT", Keyword::kLimit, true},
    KeywordEntry{"NOT", Keyword::kNot, true},
    KeywordEntry{"NULL", Keyword::kNull, true},
    KeywordEntry{"NULLS", Keyword::kNulls, false},
    KeywordEntry{"OFFSET", Keyword::kOffset, true},
    KeywordEntry{"ON", Keyword::kOn, true},
    KeywordEntry{"OR", Keyword::kOr, true},
    KeywordEntry{"ORDER", Keyword::kOrder, true},
    KeywordEntry{"OUTER", Keyword::kOuter, true},
    KeywordEntry{"OVER", Keyword::kOver, false},
    KeywordEntry{"PARTITION", Keyword::kPartition, false},
    KeywordEntry{"PRECEDING", Keyword::kPreceding, false},
    KeywordEntry{"RANGE", Keyword::kRange, false},
    KeywordEntry{"RIGHT", Keyword::kRight, true},
    KeywordEntry{"ROW", Keyword::kRow, false},
    KeywordEntry{"ROWS", Keyword::kRows, false},
    KeywordEntry{"SELECT", Keyword::kSelect, true},
    KeywordEntry{"SET", Keyword::kSet, false},
    KeywordEntry{"SETTINGS", Keyword::kSettings, false},
    KeywordEntry{"SHOW", Keyword::kShow, false},
    KeywordEntry{"TABLE", Keyword::kTable, false},
    KeywordEntry{"TABLES", Keyword::kTables, false},
    KeywordEntry{"THEN", Keyword::kThen, true},
    KeywordEntry{"TIMESTAMP", Keyword::kTimestamp, false},
    KeywordEntry{"TRUE", Keyword::kTrue, true},
    KeywordEntry{"TTL", Keyword::kTtl, false},
    KeywordEntry{"UNBOUNDED", Keyword::kUnbounded, false},
    KeywordEntry{"UNION", Keyword::kUnion, true},
    KeywordEntry{"USING", Keyword::kUsing, true},
    KeywordEntry{"VALUES", Keyword::kValues, false},
    KeywordEntry{"WHEN", Keyword::kWhen, true},
    KeywordEntry{"WHERE", Keyword::kWhere, true},
    KeywordEntry{"WINDOW", Keyword::kWindow, false},
    KeywordEntry{"WITH", Keyword::kWith, true},
};

constexpr bool keywords_sorted() {
  for (size_t i = 1; i < kKeywords.size(); ++i)
    if (!(kKeywords[i - 1].name < kKeywords[i].name)) return false;
  return true;
}
static_assert(keywords_sorted(), "kKeywords must be sorted by name");

constexpr size_t kMaxKeywordLength = 10;

// Open-addressing hash table over kKeywords, built at compile time, so that
// a word costs one hash and usually one comparison.
constexpr size_t kHashSlots = 256;

constexpr size_t keyword_hash(const char* up, size_t n) {
  size_t h = n;
  for (size_t i = 0; i < n; ++i) h = h * 31 + static_cast<unsigned char>(up[i]);
  return h & (kHashSlots - 1);
}

struct KeywordTables {
  std::array<const KeywordEntry*, 128> by_kw{};
  std::array<const KeywordEntry*, kHashSlots> by_hash{};
  constexpr KeywordTables() {
    for (const auto& e : kKeywords) {
      by_kw[static_cast<size_t>(e.kw)] = &e;
      size_t h = keyword_hash(e.name.data(), e.name.size());
      while (by_hash[h] != nullptr) h = (h + 1) & (kHashSlots - 1);
      by_hash[h] = &e;
    }
  }
};
constexpr KeywordTables kTables;

Keyword lookup_keyword(std::string_view word) {
  if (word.size() < 2 || word.size() > kMaxKeywordLength) return Keyword::kNone;
  char up[kMaxKeywordLength];
  for (size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    up[i] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  }
  for (size_t h = keyword_hash(up, word.size());; h = (h + 1) & (kHashSlots - 1)) {
    const KeywordEntry* e = kTables.by_hash[h];
    if (e == nullptr) return Keyword::kNone;
    if (e->name.size() == word.size() && std::char_traits<char>::compare(e->name.data(), up, word.size()) == 0)
      return e->kw;
  }
}

inline bool is_ident_start(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}
inline bool is_ident_char(unsigned char c) {
  return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}
inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool is_reserved(Keyword kw) {
  const KeywordEntry* e = kTables.by_kw[static_cast<size_t>(kw)];
  return e != nullptr && e->reserved;
}

std::string_view keyword_name(Keyword kw) {
  const KeywordEntry* e = kTables.by_kw[static_cast<size_t>(kw)];
  return e != nullptr ? e->name : std::string_view();
}

void Lexer::advance(size_t n) {
  for (size_t end = pos_ + n; pos_ < end; ++pos_) {
    unsigned char c = static_cast<unsigned char>(src_[pos_]);
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else if ((c & 0xC0) != 0x80) {  // not a UTF-8 continuation byte
      ++column_;
    }
  }
}

void Lexer::skip_space_and_comments() {
  while (pos_ < src_.size()) {
    char c = src_[pos_];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      ++pos_;
      ++column_;
    } else if (c == '\n') {
      ++pos_;
      ++line_;
      column_ = 1;
    } else if (c == '-' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '-') {
      size_t end = src_.find('\n', pos_);
      advance((end == std::string_view::npos ? src_.size() : end) - pos_);
    } else if (c == '/' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '*') {
      size_t end = src_.find("*/", pos_ + 2);
      if (end == std::string_view::npos)
        throw ParseError(line_, column_, "unterminated comment: missing '*/'");
      advance(end + 2 - pos_);
    } else {
      return;
    }
  }
}

Token Lexer::make(TokenKind kind, size_t start, uint32_t line, uint32_t column) const {
  Token t;
  t.kind = kind;
  t.line = line;
  t.column = column;
  t.offset = static_cast<uint32_t>(start);
  t.length = static_cast<uint32_t>(pos_ - start);
  return t;
}

Token Lexer::next() {
  skip_space_and_comments();
  const size_t start = pos_;
  const uint32_t line = line_, column = column_;
  if (pos_ >= src_.size()) return make(TokenKind::kEnd, start, line, column);

  const unsigned char c = static_cast<unsigned char>(src_[pos_]);
  auto single = [&](TokenKind kind, size_t n = 1) {
    pos_ += n;  // operators never contain newlines or multi-byte characters
    column_ += static_cast<uint32_t>(n);
    return make(kind, start, line, column);
  };
  const char c1 = pos_ + 1 < src_.size() ? src_[pos_ + 1] : '\0';

  if (is_ident_start(c)) {
    size_t end = pos_ + 1;
    bool ascii = c < 0x80;
    for (; end < src_.size() && is_ident_char(static_cast<unsigned char>(src_[end])); ++end)
      ascii = ascii && static_cast<unsigned char>(src_[end]) < 0x80;
    if (ascii) {
      column_ += static_cast<uint32_t>(end - pos_);
      pos_ = end;
    } else {
      advance(end - pos_);
    }
    Token t = make(TokenKind::kIdent, start, line, column);
    t.keyword = lookup_keyword(src_.substr(start, end - start));
    return t;
  }

  if (is_digit(c) || (c == '.' && is_digit(static_cast<unsigned char>(c1)))) {
    size_t p = pos_;
    bool is_float = false;
    while (p < src_.size() && is_digit(static_cast<unsigned char>(src_[p]))) ++p;
    if (p < src_.size() && src_[p] == '.') {
      is_float = true;
      ++p;
      while (p < src_.size() && is_digit(static_cast<unsigned char>(src_[p]))) ++p;
    }
    if (p < src_.size() && (src_[p] == 'e' || src_[p] == 'E')) {
      size_t q = p + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < src_.size() && is_digit(static_cast<unsigned char>(src_[q]))) {
        is_float = true;
        p = q;
        while (p < src_.size() && is_digit(static_cast<unsigned char>(src_[p]))) ++p;
      }
    }
    if (p < src_.size() && is_ident_char(static_cast<unsigned char>(src_[p]))) {
      size_t end = p;
      while (end < src_.size() && is_ident_char(static_cast<unsigned char>(src_[end]))) ++end;
      throw ParseError(line, column,
                       "invalid number '" + std::string(src_.substr(start, end - start)) + "'");
    }
    pos_ = p;
    column_ += static_cast<uint32_t>(p - start);
    return make(is_float ? TokenKind::kFloat : TokenKind::kInteger, start, line, column);
  }

  switch (c) {
    case '\'': {
      size_t p = pos_ + 1;
      bool escaped = false;
      for (;;) {
        if (p >= src_.size())
          throw ParseError(line, column, "unterminated string literal: missing closing quote");
        char d = src_[p];
        if (d == '\\' && p + 1 < src_.size()) {
          escaped = true;
          p += 2;
        } else if (d == '\'') {
          if (p + 1 < src_.size() && src_[p + 1] == '\'') {
            escaped = true;
            p += 2;
          } else {
            ++p;
            break;
          }
        } else {
          ++p;
        }
      }
      advance(p - pos_);
      Token t = make(TokenKind::kString, start, line, column);
      t.has_escape = escaped;
      return t;
    }
    case '"':
    case '`': {
      const char q = static_cast<char>(c);
      size_t p = pos_ + 1;
      bool escaped = false;
      for (;;) {
        if (p >= src_.size())
          throw ParseError(line, column,
                           std::string("unterminated quoted identifier: missing closing ") + q);
        if (src_[p] == q) {
          if (p + 1 < src_.size() && src_[p + 1] == q) {
            escaped = true;
            p += 2;
            continue;
          }
          ++p;
          break;
        }
        ++p;
      }
      if (p - pos_ == 2) throw ParseError(line, column, "empty quoted identifier");
      advance(p - pos_);
      Token t = make(TokenKind::kQuotedIdent, start, line, column);
      t.has_escape = escaped;
      return t;
    }
    case '(': return single(TokenKind::kLParen);
    case ')': return single(TokenKind::kRParen);
    case '{': return single(TokenKind::kLBrace);
    case '}': return single(TokenKind::kRBrace);
    case ',': return single(TokenKind::kComma);
    case '.': return single(TokenKind::kDot);
    case ';': return single(TokenKind::kSemicolon);
    case '*': return single(TokenKind::kStar);
    case '+': return single(TokenKind::kPlus);
    case '-': return single(TokenKind::kMinus);
    case '/': return single(TokenKind::kSlash);
    case '%': return single(TokenKind::kPercent);
    case '=': return c1 == '=' ? single(TokenKind::kEq, 2) : single(TokenKind::kEq);
    case '!':
      if (c1 == '=') return single(TokenKind::kNe, 2);
      break;
    case '<':
      if (c1 == '=') return single(TokenKind::kLe, 2);
      if (c1 == '>') return single(TokenKind::kNe, 2);
      return single(TokenKind::kLt);
    case '>': return c1 == '=' ? single(TokenKind::kGe, 2) : single(TokenKind::kGt);
    case '|':
      if (c1 == '|') return single(TokenKind::kConcat, 2);
      break;
    case ':': return c1 == ':' ? single(TokenKind::kDoubleColon, 2) : single(TokenKind::kColon);
    default: break;
  }
  std::string shown = (c >= 0x20 && c < 0x7f) ? std::string(1, static_cast<char>(c))
                                              : "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) +
                                                    "0123456789abcdef"[c & 15];
  throw ParseError(line, column, "unexpected character '" + shown + "'");
}

}  // namespace zepto::sql
