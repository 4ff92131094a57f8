#include "zeptodb/sql/parser.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <string>
#include <utility>

#include "zeptodb/common/strings.h"
#include "zeptodb/sql/lexer.h"
#include "zeptodb/sql/time_literal.h"

namespace zepto::sql {
namespace {

// Bytes per unit of a size (binary units, as memory sizes usually are):
// BYTES, KB, MB, GB, TB (also KIB .. TIB), any case; 0 if `u` is none of them.
uint64_t size_unit_bytes(std::string_view u) {
  static constexpr std::pair<std::string_view, int> kUnits[] = {
      {"BYTES", 0}, {"B", 0}, {"KB", 10}, {"KIB", 10}, {"MB", 20}, {"MIB", 20},
      {"GB", 30},   {"GIB", 30}, {"TB", 40}, {"TIB", 40}};
  for (const auto& [name, shift] : kUnits)
    if (iequals(u, name)) return uint64_t{1} << shift;
  return 0;
}

// Nesting limit for the parser's own recursion (parentheses, subqueries,
// unary chains). The height of the trees it builds is limited separately
// (kMaxExprHeight, ast.h), since a chain such as a OR b OR ... nests
// without recursion.
constexpr int kMaxDepth = 200;

char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_upper(c);
  return out;
}

// Optimal-string-alignment distance (edits plus adjacent transpositions),
// case-insensitive, for words of at most 16 characters.
size_t edit_distance(std::string_view a, std::string_view b) {
  if (a.size() > 16 || b.size() > 16) return 99;
  size_t d[17][17];
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = to_upper(a[i - 1]) == to_upper(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && to_upper(a[i - 1]) == to_upper(b[j - 2]) &&
          to_upper(a[i - 2]) == to_upper(b[j - 1]))
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// The clause keyword `word` most likely misspells, or empty.
std::string_view misspelled_keyword(std::string_view word) {
  static constexpr std::string_view kClauses[] = {"FROM",  "WHERE", "GROUP",  "ORDER",  "HAVING",
                                                  "LIMIT", "UNION", "OFFSET", "SELECT", "JOIN"};
  for (std::string_view kw : kClauses) {
    size_t dist = edit_distance(word, kw);
    if (dist > 0 && (dist == 1 || (dist == 2 && word.size() >= 5))) return kw;
  }
  return {};
}

// Types that parse_type_name() (the storage layer's DDL names) does not know
// but SQL and ClickHouse clients write.
std::optional<ColumnType> extra_type(std::string_view up) {
  if (up == "SMALLINT" || up == "TINYINT" || up == "INT16" || up == "UINT8" || up == "UINT16")
    return ColumnType::INT32;
  if (up == "UINT32" || up == "UINT64" || up == "HUGEINT") return ColumnType::INT64;
  if (up == "FLOAT32" || up == "FLOAT4" || up == "NUMERIC" || up == "DECIMAL")
    return ColumnType::DOUBLE;
  if (up == "DATE" || up == "TIMESTAMPTZ") return ColumnType::TIMESTAMP;
  return std::nullopt;
}

// Left-associative binary operator levels, loosest first.
enum class Level : uint8_t { kOr, kAnd, kAdditive, kMultiplicative };
bool level_op(const Token& t, Level level, BinaryOp* op);

class Parser {
 public:
  explicit Parser(std::string_view src) : lex_(src) { toks_.reserve(64); }

  Statement parse_statement_top();
  ExprPtr parse_expression_top();

 private:
  struct DepthGuard {
    explicit DepthGuard(Parser* p) : p_(p) {
      if (++p_->depth_ > kMaxDepth) p_->fail(p_->peek(), "query nested too deeply");
    }
    ~DepthGuard() { --p_->depth_; }
    Parser* p_;
  };

  // ---- tokens
  const Token& peek(size_t k = 0) {
    if (cur_ + k < toks_.size()) [[likely]]
      return toks_[cur_ + k];
    return fill(k);
  }
  // Tokenizes up to the k-th token ahead (or the end).
  [[gnu::noinline]] const Token& fill(size_t k) {
    while (toks_.size() <= cur_ + k) {
      if (!toks_.empty() && toks_.back().kind == TokenKind::kEnd) return toks_.back();
      toks_.push_back(lex_.next());
    }
    return toks_[cur_ + k];
  }
  Token advance() {
    Token t = peek();
    if (t.kind != TokenKind::kEnd) ++cur_;
    return t;
  }
  bool at(TokenKind k, size_t ahead = 0) { return peek(ahead).kind == k; }
  bool at_kw(Keyword kw, size_t ahead = 0) {
    const Token t = peek(ahead);
    return t.kind == TokenKind::kIdent && t.keyword == kw;
  }
  bool accept(TokenKind k) {
    if (!at(k)) return false;
    ++cur_;
    return true;
  }
  bool accept_kw(Keyword kw) {
    if (!at_kw(kw)) return false;
    ++cur_;
    return true;
  }
  Token expect(TokenKind k, std::string_view what) {
    if (!at(k)) fail_expected(what);
    return advance();
  }
  void expect_kw(Keyword kw) {
    if (!at_kw(kw)) fail_expected(keyword_name(kw));
  }
  void consume_kw(Keyword kw) {
    expect_kw(kw);
    ++cur_;
  }
  // A name: a non-reserved word or a quoted identifier.
  bool at_name(size_t ahead = 0) {
    const Token t = peek(ahead);
    return t.kind == TokenKind::kQuotedIdent ||
           (t.kind == TokenKind::kIdent && !is_reserved(t.keyword));
  }
  bool at_query_start(size_t ahead = 0) {
    return at_kw(Keyword::kSelect, ahead) || at_kw(Keyword::kWith, ahead);
  }

  std::string_view text(const Token& t) const { return lex_.text(t); }
  static SourcePos pos(const Token& t) { return SourcePos{t.line, t.column}; }

  std::string describe(const Token& t) const {
    if (t.kind == TokenKind::kEnd) return "end of input";
    std::string_view s = text(t);
    if (s.size() > 40) return "'" + std::string(s.substr(0, 37)) + "...'";
    return "'" + std::string(s) + "'";
  }

  [[noreturn]] void fail(const Token& t, std::string_view detail) {
    throw ParseError(t.line, t.column, detail);
  }
  // "expected <what>, found <token>", at the current token. If the token
  // before it was taken as an implicit alias that looks like a misspelled
  // clause keyword (SELECT a FORM t), the error names that word instead.
  [[noreturn]] void fail_expected(std::string_view what) {
    if (cur_ > 0 && cur_ - 1 == implicit_alias_at_) {
      const Token& alias = toks_[cur_ - 1];
      std::string_view kw = misspelled_keyword(text(alias));
      if (!kw.empty())
        fail(alias, "expected " + std::string(kw) + ", found " + describe(alias));
    }
    fail(peek(), "expected " + std::string(what) + ", found " + describe(peek()));
  }

  std::string name_text(const Token& t) const;
  std::string name(std::string_view what) {
    if (!at_name()) fail_expected(what);
    return name_text(advance());
  }
  QualifiedName qualified_name(std::string_view what);
  std::string string_value(const Token& t) const;
  std::string optional_alias();

  // ---- statements
  void parse_trailing_clauses(Statement& st);
  void parse_settings(Statement& st);
  InsertStmt parse_insert(Statement& st);
  CreateTableStmt parse_create();
  DropTableStmt parse_drop();
  DescribeStmt parse_describe();
  AlterTableStmt parse_alter();

  // ---- queries
  std::unique_ptr<SelectStmt> parse_query();
  std::unique_ptr<SelectStmt> parse_query_term(bool* parenthesized);
  std::unique_ptr<SelectStmt> parse_select_core();
  SelectItem parse_select_item();
  std::unique_ptr<TableRef> parse_from();
  std::unique_ptr<TableRef> parse_join_chain();
  std::unique_ptr<TableRef> parse_table_primary();
  std::vector<OrderItem> parse_order_list();
  int64_t parse_count(std::string_view clause);
  std::vector<std::string> parse_name_list(std::string_view what);

  // ---- expressions
  ExprPtr parse_expr();
  ExprPtr parse_level(Level level);
  ExprPtr parse_not();
  ExprPtr parse_comparison();
  ExprPtr parse_unary();
  ExprPtr parse_postfix(ExprPtr e);
  ExprPtr parse_primary();
  ExprPtr parse_number(const Token& t, bool negative);
  ExprPtr parse_function(const Token& name_tok);
  ExprPtr parse_case();
  ExprPtr parse_cast();
  ExprPtr parse_interval_literal();
  ExprPtr parse_parameter();
  std::unique_ptr<WindowSpec> parse_window();
  FrameBound parse_frame_bound(bool range);
  TypeName parse_type();
  ExprList parse_expr_list();
  Literal parse_setting_value();

  static ExprPtr make(ExprKind kind, const Token& t) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos(t);
    return e;
  }
  ExprPtr binary(BinaryOp op, const Token& t, ExprPtr l, ExprPtr r) {
    auto e = make(ExprKind::kBinary, t);
    e->binary_op = op;
    e->children.reserve(2);
    e->children.push_back(std::move(l));
    e->children.push_back(std::move(r));
    return seal(std::move(e));
  }
  // Sets the height of a node whose children are complete, and rejects
  // trees higher than kMaxExprHeight.
  ExprPtr seal(ExprPtr e) {
    uint32_t h = 0;
    for (const ExprPtr& c : e->children) h = std::max(h, c->height);
    if (e->window) {
      for (const ExprPtr& c : e->window->partition_by) h = std::max(h, c->height);
      for (const OrderItem& o : e->window->order_by) h = std::max(h, o.expr->height);
    }
    e->height = h + 1;
    if (e->height > kMaxExprHeight)
      throw ParseError(e->pos.line, e->pos.column,
                       "expression too deep: more than " + std::to_string(kMaxExprHeight) +
                           " nested operations (write long lists of values as IN (...))");
    return e;
  }

  Lexer lex_;
  std::vector<Token> toks_;
  size_t cur_ = 0;
  size_t implicit_alias_at_ = static_cast<size_t>(-1);
  int depth_ = 0;
};

// ------------------------------------------------------------------ names

std::string Parser::name_text(const Token& t) const {
  std::string_view s = text(t);
  if (t.kind != TokenKind::kQuotedIdent) return std::string(s);
  const char q = s.front();
  s = s.substr(1, s.size() - 2);
  if (!t.has_escape) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    out += s[i];
    if (s[i] == q) ++i;  // doubled quote
  }
  return out;
}

std::string Parser::string_value(const Token& t) const {
  std::string_view s = text(t);
  s = s.substr(1, s.size() - 2);
  if (!t.has_escape) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\'' && i + 1 < s.size() && s[i + 1] == '\'') {
      out += '\'';
      ++i;
    } else if (c == '\\' && i + 1 < s.size()) {
      char d = s[++i];
      switch (d) {
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case '0': out += '\0'; break;
        default:
          out += '\\';
          out += d;
      }
    } else {
      out += c;
    }
  }
  return out;
}

QualifiedName Parser::qualified_name(std::string_view what) {
  QualifiedName q;
  q.name = name(what);
  if (at(TokenKind::kDot) && at_name(1)) {
    advance();
    q.schema = std::move(q.name);
    q.name = name_text(advance());
  }
  return q;
}

std::string Parser::optional_alias() {
  if (accept_kw(Keyword::kAs)) {
    if (at(TokenKind::kString)) return string_value(advance());
    return name("an alias after AS");
  }
  const Token t = peek();
  if (t.kind == TokenKind::kQuotedIdent ||
      (t.kind == TokenKind::kIdent && !is_reserved(t.keyword) && t.keyword != Keyword::kFormat &&
       t.keyword != Keyword::kSettings && t.keyword != Keyword::kWindow)) {
    implicit_alias_at_ = cur_;
    return name_text(advance());
  }
  return {};
}

std::vector<std::string> Parser::parse_name_list(std::string_view what) {
  expect(TokenKind::kLParen, "'('");
  std::vector<std::string> names;
  do {
    names.push_back(name(what));
  } while (accept(TokenKind::kComma));
  expect(TokenKind::kRParen, "',' or ')'");
  return names;
}

// ------------------------------------------------------------- statements

Statement Parser::parse_statement_top() {
  const Token first = peek();
  if (first.kind == TokenKind::kEnd || first.kind == TokenKind::kSemicolon)
    fail(first, "empty query");
  Statement st;
  st.pos = pos(first);
  if (accept_kw(Keyword::kExplain)) {
    st.explain = true;
    st.explain_analyze = accept_kw(Keyword::kAnalyze);
  }
  const Token t = peek();
  if (t.kind == TokenKind::kLParen || at_query_start()) {
    st.body = std::move(*parse_query());
  } else if (t.kind == TokenKind::kIdent) {
    switch (t.keyword) {
      case Keyword::kInsert: {
        InsertStmt ins = parse_insert(st);
        const bool data_follows = ins.source == InsertStmt::Source::kFormat;
        st.body = std::move(ins);
        if (data_follows) return st;  // the rest of the input is data
        break;
      }
      case Keyword::kCreate: st.body = parse_create(); break;
      case Keyword::kDrop: st.body = parse_drop(); break;
      case Keyword::kShow:
        advance();
        consume_kw(Keyword::kTables);
        st.body = ShowTablesStmt{};
        break;
      case Keyword::kDescribe:
      case Keyword::kDesc: st.body = parse_describe(); break;
      case Keyword::kCheckpoint:
        advance();
        st.body = CheckpointStmt{};
        break;
      case Keyword::kAlter: st.body = parse_alter(); break;
      default:
        fail_expected(st.explain ? "a statement after EXPLAIN" : "a statement (SELECT, INSERT, "
                                                                 "CREATE, DROP, SHOW, DESCRIBE, "
                                                                 "EXPLAIN, CHECKPOINT, ALTER)");
    }
  } else {
    fail_expected("a statement (SELECT, INSERT, CREATE, DROP, SHOW, DESCRIBE, EXPLAIN, "
                  "CHECKPOINT, ALTER)");
  }
  parse_trailing_clauses(st);
  accept(TokenKind::kSemicolon);
  if (!at(TokenKind::kEnd)) fail_expected("end of statement");
  return st;
}

// [SETTINGS k = v, ...] [FORMAT Name], in either order.
void Parser::parse_trailing_clauses(Statement& st) {
  bool seen_settings = false, seen_format = false;
  for (;;) {
    if (!seen_settings && at_kw(Keyword::kSettings)) {
      seen_settings = true;
      parse_settings(st);
    } else if (!seen_format && at_kw(Keyword::kFormat)) {
      if (std::holds_alternative<InsertStmt>(st.body))
        fail(peek(), "FORMAT of an INSERT must come right after the table and column list");
      seen_format = true;
      advance();
      if (peek().kind != TokenKind::kIdent && peek().kind != TokenKind::kQuotedIdent)
        fail_expected("a format name after FORMAT");
      st.format = name_text(advance());
    } else {
      return;
    }
  }
}

void Parser::parse_settings(Statement& st) {
  consume_kw(Keyword::kSettings);
  do {
    Setting s;
    s.pos = pos(peek());
    if (peek().kind != TokenKind::kIdent && peek().kind != TokenKind::kQuotedIdent)
      fail_expected("a setting name");
    s.name = name_text(advance());
    expect(TokenKind::kEq, "'=' after the setting name");
    s.value = parse_setting_value();
    st.settings.push_back(std::move(s));
  } while (accept(TokenKind::kComma));
}

Literal Parser::parse_setting_value() {
  Literal v;
  const bool negative = accept(TokenKind::kMinus);
  const Token t = peek();
  if (t.kind == TokenKind::kInteger || t.kind == TokenKind::kFloat) {
    ExprPtr e = parse_number(advance(), negative);
    return std::move(e->value);
  }
  if (negative) fail_expected("a number after '-'");
  if (t.kind == TokenKind::kString) {
    v.kind = LiteralKind::kString;
    v.string_value = string_value(advance());
  } else if (t.kind == TokenKind::kIdent && (t.keyword == Keyword::kTrue || t.keyword == Keyword::kFalse)) {
    v.kind = LiteralKind::kBool;
    v.int_value = t.keyword == Keyword::kTrue;
    advance();
  } else if (t.kind == TokenKind::kIdent || t.kind == TokenKind::kQuotedIdent) {
    v.kind = LiteralKind::kString;
    v.string_value = name_text(advance());
  } else {
    fail_expected("a setting value");
  }
  return v;
}

InsertStmt Parser::parse_insert(Statement& st) {
  consume_kw(Keyword::kInsert);
  consume_kw(Keyword::kInto);
  InsertStmt ins;
  ins.table = qualified_name("a table name");
  if (at(TokenKind::kLParen) && !at_query_start(1)) ins.columns = parse_name_list("a column name");
  if (accept_kw(Keyword::kValues)) {
    ins.source = InsertStmt::Source::kValues;
    do {
      expect(TokenKind::kLParen, "'(' before a row of VALUES");
      ins.rows.push_back(parse_expr_list());
      expect(TokenKind::kRParen, "',' or ')'");
    } while (accept(TokenKind::kComma));
    return ins;
  }
  if (at(TokenKind::kLParen) || at_query_start()) {
    ins.source = InsertStmt::Source::kSelect;
    ins.select = parse_query();
    return ins;
  }
  if (at_kw(Keyword::kSettings)) parse_settings(st);
  if (!at_kw(Keyword::kFormat)) fail_expected("VALUES, SELECT or FORMAT");
  advance();
  const Token f = peek();
  if (f.kind != TokenKind::kIdent && f.kind != TokenKind::kQuotedIdent)
    fail_expected("a format name after FORMAT");
  ins.source = InsertStmt::Source::kFormat;
  ins.format = name_text(f);
  // Data starts after the spaces and tabs that follow the name and after at
  // most one line break. advance() does not read ahead, so nothing past the
  // name is tokenized.
  std::string_view src = lex_.source();
  size_t p = f.offset + f.length;
  advance();
  while (p < src.size() && (src[p] == ' ' || src[p] == '\t' || src[p] == '\f')) ++p;
  if (p < src.size() && src[p] == '\r') ++p;
  if (p < src.size() && src[p] == '\n') ++p;
  ins.data_offset = p;
  return ins;
}

CreateTableStmt Parser::parse_create() {
  consume_kw(Keyword::kCreate);
  consume_kw(Keyword::kTable);
  CreateTableStmt ct;
  if (accept_kw(Keyword::kIf)) {
    consume_kw(Keyword::kNot);
    consume_kw(Keyword::kExists);
    ct.if_not_exists = true;
  }
  ct.table = qualified_name("a table name");
  expect(TokenKind::kLParen, "'(' before the column definitions");
  do {
    ColumnDefinition col;
    col.pos = pos(peek());
    col.name = name("a column name");
    col.type = parse_type();
    ct.columns.push_back(std::move(col));
  } while (accept(TokenKind::kComma));
  expect(TokenKind::kRParen, "',' or ')'");
  auto single_column = [&](std::string_view what) {
    const bool paren = accept(TokenKind::kLParen);
    std::string n = name(what);
    if (paren) expect(TokenKind::kRParen, "')'");
    return n;
  };
  if (accept_kw(Keyword::kPartition)) {
    consume_kw(Keyword::kBy);
    ct.partition_by = single_column("the symbol column after PARTITION BY");
  }
  if (accept_kw(Keyword::kOrder)) {
    consume_kw(Keyword::kBy);
    ct.order_by = single_column("the timestamp column after ORDER BY");
  }
  return ct;
}

DropTableStmt Parser::parse_drop() {
  consume_kw(Keyword::kDrop);
  consume_kw(Keyword::kTable);
  DropTableStmt d;
  if (accept_kw(Keyword::kIf)) {
    consume_kw(Keyword::kExists);
    d.if_exists = true;
  }
  d.table = qualified_name("a table name");
  return d;
}

DescribeStmt Parser::parse_describe() {
  advance();  // DESCRIBE or DESC
  accept_kw(Keyword::kTable);
  DescribeStmt d;
  d.table = qualified_name("a table name");
  return d;
}

AlterTableStmt Parser::parse_alter() {
  consume_kw(Keyword::kAlter);
  consume_kw(Keyword::kTable);
  AlterTableStmt a;
  a.table = qualified_name("a table name");
  // TTL is a keyword; RETENTION, REMOVE and the size units are plain words.
  auto what = [&] {
    if (accept_kw(Keyword::kTtl)) return;
    if (at(TokenKind::kIdent) && iequals(text(peek()), "RETENTION")) {
      advance();
      a.retention = true;
      return;
    }
    fail_expected("TTL or RETENTION");
  };
  if (at(TokenKind::kIdent) && iequals(text(peek()), "REMOVE")) {  // ALTER TABLE t REMOVE TTL | RETENTION
    advance();
    what();
    return a;  // 0: none
  }
  if (!at_kw(Keyword::kSet)) fail_expected("SET TTL, SET RETENTION, REMOVE TTL or REMOVE RETENTION");
  consume_kw(Keyword::kSet);
  what();
  if (a.retention) {
    const Token n = peek();
    if (n.kind != TokenKind::kInteger) fail_expected("a size, e.g. RETENTION 500 MB");
    const int64_t count = parse_count("RETENTION");
    const Token u = peek();
    const uint64_t unit = u.kind == TokenKind::kIdent ? size_unit_bytes(text(u)) : 0;
    if (unit == 0) fail_expected("a size unit: BYTES, KB, MB, GB or TB");
    advance();
    if (count <= 0) fail(n, "RETENTION must be positive");
    if (static_cast<uint64_t>(count) > UINT64_MAX / unit) fail(n, "RETENTION out of range");
    a.max_bytes = static_cast<uint64_t>(count) * unit;
    return a;
  }
  if (at_kw(Keyword::kInterval)) {
    ExprPtr e = parse_interval_literal();
    a.ttl_ns = e->value.int_value;
  } else {
    const Token n = peek();
    if (n.kind != TokenKind::kInteger) fail_expected("a number of days, e.g. TTL 30 DAYS");
    const int64_t count = parse_count("TTL");
    const Token u = peek();
    const int64_t unit = u.kind == TokenKind::kIdent ? interval_unit_ns(text(u)) : 0;
    if (unit <= 0) fail_expected("a unit such as DAYS");
    advance();
    auto ns = scale_interval(count, unit);
    if (!ns) fail(n, "TTL out of range");
    a.ttl_ns = *ns;
  }
  if (a.ttl_ns <= 0) fail(peek(), "TTL must be positive");
  return a;
}

// ---------------------------------------------------------------- queries

// [WITH ...] term [UNION ALL term ...] [ORDER BY ...] [LIMIT ...] [OFFSET ...]
std::unique_ptr<SelectStmt> Parser::parse_query() {
  DepthGuard guard(this);
  const Token start = peek();
  std::vector<CommonTableExpr> ctes;
  if (accept_kw(Keyword::kWith)) {
    do {
      CommonTableExpr cte;
      cte.pos = pos(peek());
      cte.name = name("a name for the WITH query");
      if (at(TokenKind::kLParen)) cte.columns = parse_name_list("a column name");
      consume_kw(Keyword::kAs);
      expect(TokenKind::kLParen, "'(' before the WITH query");
      cte.query = parse_query();
      expect(TokenKind::kRParen, "')' after the WITH query");
      ctes.push_back(std::move(cte));
    } while (accept(TokenKind::kComma));
  }

  std::vector<std::unique_ptr<SelectStmt>> branches;
  bool parenthesized = false;
  branches.push_back(parse_query_term(&parenthesized));
  while (at_kw(Keyword::kUnion)) {
    advance();
    if (!at_kw(Keyword::kAll)) fail_expected("ALL after UNION (only UNION ALL is supported)");
    advance();
    bool p;
    branches.push_back(parse_query_term(&p));
  }

  std::vector<OrderItem> order_by;
  std::optional<int64_t> limit, offset;
  if (accept_kw(Keyword::kOrder)) {
    consume_kw(Keyword::kBy);
    order_by = parse_order_list();
  }
  if (accept_kw(Keyword::kLimit)) {
    int64_t first = parse_count("LIMIT");
    if (accept(TokenKind::kComma)) {
      offset = first;
      limit = parse_count("LIMIT");
    } else {
      limit = first;
    }
  }
  if (!offset && accept_kw(Keyword::kOffset)) {
    offset = parse_count("OFFSET");
    accept_kw(Keyword::kRows);
  }

  const bool outer_tail = !order_by.empty() || limit || offset;
  std::unique_ptr<SelectStmt> q;
  if (branches.size() == 1) {
    SelectStmt& b = *branches[0];
    const bool own_tail = !b.order_by.empty() || b.limit || b.offset;
    if (!(parenthesized && outer_tail && own_tail) && !(!ctes.empty() && !b.ctes.empty()))
      q = std::move(branches[0]);
  }
  if (!q) {
    q = std::make_unique<SelectStmt>();
    q->pos = pos(start);
    q->union_all = std::move(branches);
  }
  if (!ctes.empty()) {
    q->ctes = std::move(ctes);
    q->pos = pos(start);
  }
  if (outer_tail) {
    q->order_by = std::move(order_by);
    q->limit = limit;
    q->offset = offset;
  }
  return q;
}

std::unique_ptr<SelectStmt> Parser::parse_query_term(bool* parenthesized) {
  if (at(TokenKind::kLParen)) {
    advance();
    *parenthesized = true;
    auto q = parse_query();
    expect(TokenKind::kRParen, "')'");
    return q;
  }
  *parenthesized = false;
  if (!at_kw(Keyword::kSelect)) fail_expected("SELECT");
  return parse_select_core();
}

std::unique_ptr<SelectStmt> Parser::parse_select_core() {
  auto s = std::make_unique<SelectStmt>();
  s->pos = pos(advance());  // SELECT
  if (accept_kw(Keyword::kDistinct))
    s->distinct = true;
  else
    accept_kw(Keyword::kAll);
  do {
    s->select_list.push_back(parse_select_item());
  } while (accept(TokenKind::kComma));
  if (accept_kw(Keyword::kFrom)) s->from = parse_from();
  if (accept_kw(Keyword::kWhere)) s->where = parse_expr();
  if (accept_kw(Keyword::kGroup)) {
    consume_kw(Keyword::kBy);
    s->group_by = parse_expr_list();
  }
  if (accept_kw(Keyword::kHaving)) s->having = parse_expr();
  return s;
}

SelectItem Parser::parse_select_item() {
  SelectItem item;
  const Token t = peek();
  item.pos = pos(t);
  if (t.kind == TokenKind::kStar) {
    item.expr = make(ExprKind::kStar, advance());
    return item;
  }
  // t.* or db.t.*
  size_t dots = 0;
  if (at_name() && at(TokenKind::kDot, 1)) {
    if (at(TokenKind::kStar, 2))
      dots = 1;
    else if (at_name(2) && at(TokenKind::kDot, 3) && at(TokenKind::kStar, 4))
      dots = 2;
  }
  if (dots > 0) {
    auto e = make(ExprKind::kStar, t);
    e->qualifier = name_text(advance());
    if (dots == 2) {
      advance();
      e->qualifier += '.';
      e->qualifier += name_text(advance());
    }
    advance();  // .
    advance();  // *
    item.expr = std::move(e);
    return item;
  }
  item.expr = parse_expr();
  item.alias = optional_alias();
  return item;
}

std::unique_ptr<TableRef> Parser::parse_from() {
  auto left = parse_join_chain();
  while (at(TokenKind::kComma)) {
    const Token comma = advance();
    auto j = std::make_unique<TableRef>();
    j->kind = TableRefKind::kJoin;
    j->pos = pos(comma);
    j->join_type = JoinType::kCross;
    j->left = std::move(left);
    j->right = parse_join_chain();
    left = std::move(j);
  }
  return left;
}

std::unique_ptr<TableRef> Parser::parse_join_chain() {
  auto left = parse_table_primary();
  for (;;) {
    const Token start = peek();
    JoinType type;
    if (start.kind != TokenKind::kIdent) break;
    switch (start.keyword) {
      case Keyword::kJoin: type = JoinType::kInner; break;
      case Keyword::kInner:
        advance();
        type = JoinType::kInner;
        break;
      case Keyword::kLeft:
        advance();
        if (accept_kw(Keyword::kAsof)) {
          type = JoinType::kAsofLeft;
        } else {
          accept_kw(Keyword::kOuter);
          type = JoinType::kLeft;
        }
        break;
      case Keyword::kRight:
        advance();
        accept_kw(Keyword::kOuter);
        type = JoinType::kRight;
        break;
      case Keyword::kFull:
        advance();
        accept_kw(Keyword::kOuter);
        type = JoinType::kFull;
        break;
      case Keyword::kCross:
        advance();
        type = JoinType::kCross;
        break;
      case Keyword::kAsof:
        advance();
        type = JoinType::kAsof;
        if (accept_kw(Keyword::kLeft)) {
          accept_kw(Keyword::kOuter);
          type = JoinType::kAsofLeft;
        }
        break;
      case Keyword::kWindow:
        if (!at_kw(Keyword::kJoin, 1)) return left;
        advance();
        type = JoinType::kWindow;
        break;
      default: return left;
    }
    consume_kw(Keyword::kJoin);
    auto j = std::make_unique<TableRef>();
    j->kind = TableRefKind::kJoin;
    j->pos = pos(start);
    j->join_type = type;
    j->left = std::move(left);
    j->right = parse_table_primary();
    if (type != JoinType::kCross) {
      if (accept_kw(Keyword::kOn)) {
        j->on = parse_expr();
      } else if (type != JoinType::kWindow && accept_kw(Keyword::kUsing)) {
        j->using_columns = parse_name_list("a column name");
      } else {
        fail_expected(type == JoinType::kWindow
                          ? "ON <keys> AND <right>.timestamp BETWEEN <left>.timestamp - a AND "
                            "<left>.timestamp + b"
                          : "ON or USING");
      }
    }
    left = std::move(j);
  }
  return left;
}

std::unique_ptr<TableRef> Parser::parse_table_primary() {
  auto ref = std::make_unique<TableRef>();
  const Token t = peek();
  ref->pos = pos(t);
  if (t.kind == TokenKind::kLParen) {
    if (!at_query_start(1) && !at(TokenKind::kLParen, 1)) {
      advance();
      fail_expected("SELECT");
    }
    advance();
    ref->kind = TableRefKind::kSubquery;
    ref->subquery = parse_query();
    expect(TokenKind::kRParen, "')' after the subquery");
  } else {
    ref->kind = TableRefKind::kTable;
    ref->table = qualified_name("a table name");
  }
  ref->alias = optional_alias();
  return ref;
}

std::vector<OrderItem> Parser::parse_order_list() {
  std::vector<OrderItem> items;
  do {
    OrderItem item;
    item.pos = pos(peek());
    item.expr = parse_expr();
    if (accept_kw(Keyword::kDesc))
      item.descending = true;
    else
      accept_kw(Keyword::kAsc);
    if (accept_kw(Keyword::kNulls)) {
      if (accept_kw(Keyword::kFirst))
        item.nulls = NullsOrder::kFirst;
      else if (accept_kw(Keyword::kLast))
        item.nulls = NullsOrder::kLast;
      else
        fail_expected("FIRST or LAST after NULLS");
    }
    items.push_back(std::move(item));
  } while (accept(TokenKind::kComma));
  return items;
}

int64_t Parser::parse_count(std::string_view clause) {
  const Token t = peek();
  int64_t v = 0;
  if (t.kind == TokenKind::kInteger) {
    std::string_view s = text(t);
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec == std::errc()) {
      advance();
      return v;
    }
  }
  fail_expected("a non-negative integer after " + std::string(clause));
}

// ------------------------------------------------------------ expressions

ExprPtr Parser::parse_expr() {
  DepthGuard guard(this);
  return parse_level(Level::kOr);
}

ExprList Parser::parse_expr_list() {
  ExprList list;
  do {
    list.push_back(parse_expr());
  } while (accept(TokenKind::kComma));
  return list;
}

// The binary operator `t` stands for at `level`, if any.
bool level_op(const Token& t, Level level, BinaryOp* op) {
  switch (level) {
    case Level::kOr:
      *op = BinaryOp::kOr;
      return t.kind == TokenKind::kIdent && t.keyword == Keyword::kOr;
    case Level::kAnd:
      *op = BinaryOp::kAnd;
      return t.kind == TokenKind::kIdent && t.keyword == Keyword::kAnd;
    case Level::kAdditive:
      switch (t.kind) {
        case TokenKind::kPlus: *op = BinaryOp::kAdd; return true;
        case TokenKind::kMinus: *op = BinaryOp::kSub; return true;
        case TokenKind::kConcat: *op = BinaryOp::kConcat; return true;
        default: return false;
      }
    case Level::kMultiplicative:
      switch (t.kind) {
        case TokenKind::kStar: *op = BinaryOp::kMul; return true;
        case TokenKind::kSlash: *op = BinaryOp::kDiv; return true;
        case TokenKind::kPercent: *op = BinaryOp::kMod; return true;
        default: return false;
      }
  }
  return false;
}

// operand (op operand)*, left-associative, for the levels above.
ExprPtr Parser::parse_level(Level level) {
  auto operand = [&]() -> ExprPtr {
    switch (level) {
      case Level::kOr: return parse_level(Level::kAnd);
      case Level::kAnd: return parse_not();
      case Level::kAdditive: return parse_level(Level::kMultiplicative);
      case Level::kMultiplicative: return parse_unary();
    }
    return nullptr;
  };
  ExprPtr left = operand();
  BinaryOp op;
  while (level_op(peek(), level, &op)) {
    const Token t = advance();
    left = binary(op, t, std::move(left), operand());
  }
  return left;
}

ExprPtr Parser::parse_not() {
  if (!at_kw(Keyword::kNot)) return parse_comparison();
  DepthGuard guard(this);
  auto e = make(ExprKind::kUnary, advance());
  e->unary_op = UnaryOp::kNot;
  e->children.push_back(parse_not());
  return seal(std::move(e));
}

ExprPtr Parser::parse_comparison() {
  ExprPtr left = parse_level(Level::kAdditive);
  for (;;) {
    const Token t = peek();
    BinaryOp op;
    switch (t.kind) {
      case TokenKind::kEq: op = BinaryOp::kEq; break;
      case TokenKind::kNe: op = BinaryOp::kNe; break;
      case TokenKind::kLt: op = BinaryOp::kLt; break;
      case TokenKind::kLe: op = BinaryOp::kLe; break;
      case TokenKind::kGt: op = BinaryOp::kGt; break;
      case TokenKind::kGe: op = BinaryOp::kGe; break;
      case TokenKind::kIdent: {
        bool negated = false;
        if (t.keyword == Keyword::kNot &&
            (at_kw(Keyword::kIn, 1) || at_kw(Keyword::kBetween, 1) || at_kw(Keyword::kLike, 1))) {
          advance();
          negated = true;
        }
        const Token kw = peek();
        ExprPtr e;
        switch (kw.keyword) {
          case Keyword::kIs: {
            advance();
            e = make(ExprKind::kIsNull, kw);
            e->negated = accept_kw(Keyword::kNot);
            consume_kw(Keyword::kNull);
            e->children.push_back(std::move(left));
            break;
          }
          case Keyword::kBetween: {
            advance();
            e = make(ExprKind::kBetween, kw);
            e->children.push_back(std::move(left));
            e->children.push_back(parse_level(Level::kAdditive));
            consume_kw(Keyword::kAnd);
            e->children.push_back(parse_level(Level::kAdditive));
            break;
          }
          case Keyword::kIn: {
            advance();
            expect(TokenKind::kLParen, "'(' after IN");
            if (at_query_start()) {
              e = make(ExprKind::kInSubquery, kw);
              e->children.push_back(std::move(left));
              e->subquery = parse_query();
            } else {
              e = make(ExprKind::kInList, kw);
              e->children.push_back(std::move(left));
              do {
                e->children.push_back(parse_expr());
              } while (accept(TokenKind::kComma));
            }
            expect(TokenKind::kRParen, "',' or ')'");
            break;
          }
          case Keyword::kLike: {
            advance();
            e = make(ExprKind::kLike, kw);
            e->children.push_back(std::move(left));
            e->children.push_back(parse_level(Level::kAdditive));
            break;
          }
          default: return left;
        }
        e->negated = e->negated || negated;
        left = seal(std::move(e));
        continue;
      }
      default: return left;
    }
    advance();
    left = binary(op, t, std::move(left), parse_level(Level::kAdditive));
  }
}

ExprPtr Parser::parse_unary() {
  const Token t = peek();
  if (t.kind == TokenKind::kMinus) {
    const Token minus = advance();
    const Token num = peek();
    if (num.kind == TokenKind::kInteger || num.kind == TokenKind::kFloat) {
      ExprPtr lit = parse_number(advance(), true);
      lit->pos = pos(minus);
      return parse_postfix(std::move(lit));
    }
    DepthGuard guard(this);
    auto e = make(ExprKind::kUnary, minus);
    e->unary_op = UnaryOp::kNegate;
    e->children.push_back(parse_unary());
    return seal(std::move(e));
  }
  if (t.kind == TokenKind::kPlus) {
    DepthGuard guard(this);
    advance();
    return parse_unary();
  }
  return parse_postfix(parse_primary());
}

ExprPtr Parser::parse_postfix(ExprPtr e) {
  while (at(TokenKind::kDoubleColon)) {
    auto cast = make(ExprKind::kCast, advance());
    cast->type = parse_type();
    cast->children.push_back(std::move(e));
    e = seal(std::move(cast));
  }
  return e;
}

ExprPtr Parser::parse_number(const Token& t, bool negative) {
  auto e = make(ExprKind::kLiteral, t);
  std::string_view s = text(t);
  if (t.kind == TokenKind::kInteger) {
    uint64_t u = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), u);
    const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + negative;
    if (r.ec == std::errc() && u <= limit) {
      e->value.kind = LiteralKind::kInt;
      e->value.int_value = negative ? static_cast<int64_t>(0 - u) : static_cast<int64_t>(u);
      return e;
    }
  }
  double d = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), d);
  if (r.ec != std::errc() && r.ec != std::errc::result_out_of_range)
    fail(t, "invalid number " + describe(t));
  if (r.ec == std::errc::result_out_of_range) fail(t, "number out of range: " + describe(t));
  e->value.kind = LiteralKind::kDouble;
  e->value.double_value = negative ? -d : d;
  return e;
}

ExprPtr Parser::parse_primary() {
  const Token t = peek();
  switch (t.kind) {
    case TokenKind::kInteger:
    case TokenKind::kFloat: return parse_number(advance(), false);
    case TokenKind::kString: {
      auto e = make(ExprKind::kLiteral, advance());
      e->value.kind = LiteralKind::kString;
      e->value.string_value = string_value(t);
      return e;
    }
    case TokenKind::kLParen: {
      if (at_query_start(1)) {
        auto e = make(ExprKind::kSubquery, advance());
        e->subquery = parse_query();
        expect(TokenKind::kRParen, "')' after the subquery");
        return e;
      }
      advance();
      ExprPtr e = parse_expr();
      expect(TokenKind::kRParen, "')'");
      return e;
    }
    case TokenKind::kLBrace: return parse_parameter();
    case TokenKind::kQuotedIdent:
      if (at(TokenKind::kLParen, 1)) return parse_function(advance());
      break;
    case TokenKind::kIdent:
      switch (t.keyword) {
        case Keyword::kNull: {
          auto e = make(ExprKind::kLiteral, advance());
          e->value.kind = LiteralKind::kNull;
          return e;
        }
        case Keyword::kTrue:
        case Keyword::kFalse: {
          auto e = make(ExprKind::kLiteral, advance());
          e->value.kind = LiteralKind::kBool;
          e->value.int_value = t.keyword == Keyword::kTrue;
          return e;
        }
        case Keyword::kCase: return parse_case();
        case Keyword::kCast: return parse_cast();
        case Keyword::kTimestamp:
        case Keyword::kDate:
          if (at(TokenKind::kString, 1)) {
            advance();
            const Token str = advance();
            auto ns = parse_timestamp(string_value(str));
            if (!ns)
              fail(str, "invalid timestamp " + describe(str) +
                            ": expected 'YYYY-MM-DD[ HH:MM:SS[.fffffffff]]' between years 1678 "
                            "and 2261");
            auto e = make(ExprKind::kLiteral, t);
            e->value.kind = LiteralKind::kTimestamp;
            e->value.int_value = *ns;
            return e;
          }
          break;
        case Keyword::kInterval:
          if (at(TokenKind::kString, 1) || at(TokenKind::kInteger, 1) || at(TokenKind::kFloat, 1))
            return parse_interval_literal();
          break;
        case Keyword::kLeft:
        case Keyword::kRight:
          if (at(TokenKind::kLParen, 1)) return parse_function(advance());
          break;
        default: break;
      }
      if (is_reserved(t.keyword)) fail_expected("an expression");
      if (at(TokenKind::kLParen, 1)) return parse_function(advance());
      break;
    case TokenKind::kStar:
      fail(t, "'*' is allowed only as a select item (*, t.*) and in count(*)");
    default: fail_expected("an expression");
  }
  // Column reference: name, or qualifier.name with any number of parts.
  auto e = make(ExprKind::kColumnRef, t);
  e->name = name_text(advance());
  while (at(TokenKind::kDot)) {
    advance();
    if (at(TokenKind::kStar))
      fail(peek(), "'*' is allowed only as a select item (*, t.*) and in count(*)");
    if (!at_name()) fail_expected("a column name after '.'");
    if (!e->qualifier.empty()) e->qualifier += '.';
    e->qualifier += e->name;
    e->name = name_text(advance());
  }
  return e;
}

ExprPtr Parser::parse_function(const Token& name_tok) {
  auto e = make(ExprKind::kFunction, name_tok);
  std::string_view n = text(name_tok);
  if (name_tok.kind == TokenKind::kQuotedIdent) {
    e->name = name_text(name_tok);
  } else {
    e->name.resize(n.size());
    std::transform(n.begin(), n.end(), e->name.begin(), to_lower);
  }
  expect(TokenKind::kLParen, "'('");
  if (!accept(TokenKind::kRParen)) {
    if (accept_kw(Keyword::kDistinct))
      e->distinct = true;
    else
      accept_kw(Keyword::kAll);
    if (at(TokenKind::kStar) && at(TokenKind::kRParen, 1) && !e->distinct) {
      e->children.push_back(make(ExprKind::kStar, advance()));
    } else {
      e->children = parse_expr_list();
    }
    expect(TokenKind::kRParen, "',' or ')'");
  }
  if (accept_kw(Keyword::kOver)) e->window = parse_window();
  return seal(std::move(e));
}

std::unique_ptr<WindowSpec> Parser::parse_window() {
  auto w = std::make_unique<WindowSpec>();
  expect(TokenKind::kLParen, "'(' after OVER");
  if (accept_kw(Keyword::kPartition)) {
    consume_kw(Keyword::kBy);
    w->partition_by = parse_expr_list();
  }
  if (accept_kw(Keyword::kOrder)) {
    consume_kw(Keyword::kBy);
    w->order_by = parse_order_list();
  }
  if (at_kw(Keyword::kRows) || at_kw(Keyword::kRange)) {
    WindowFrame f;
    f.range = advance().keyword == Keyword::kRange;
    const Token start = peek();
    if (accept_kw(Keyword::kBetween)) {
      f.start = parse_frame_bound(f.range);
      consume_kw(Keyword::kAnd);
      const Token end_tok = peek();
      f.end = parse_frame_bound(f.range);
      if (f.start.kind == FrameBoundKind::kUnboundedFollowing)
        fail(start, "a frame cannot start at UNBOUNDED FOLLOWING");
      if (f.end.kind == FrameBoundKind::kUnboundedPreceding)
        fail(end_tok, "a frame cannot end at UNBOUNDED PRECEDING");
      if (f.end.kind < f.start.kind) fail(end_tok, "the frame ends before it starts");
    } else {
      f.start = parse_frame_bound(f.range);
      f.end.kind = FrameBoundKind::kCurrentRow;
      if (f.start.kind > FrameBoundKind::kCurrentRow)
        fail(start, "a frame without BETWEEN must start at or before CURRENT ROW");
    }
    w->frame = f;
  }
  expect(TokenKind::kRParen, "')' to close OVER (...)");
  return w;
}

FrameBound Parser::parse_frame_bound(bool range) {
  FrameBound b;
  if (accept_kw(Keyword::kUnbounded)) {
    if (accept_kw(Keyword::kPreceding))
      b.kind = FrameBoundKind::kUnboundedPreceding;
    else if (accept_kw(Keyword::kFollowing))
      b.kind = FrameBoundKind::kUnboundedFollowing;
    else
      fail_expected("PRECEDING or FOLLOWING after UNBOUNDED");
    return b;
  }
  if (accept_kw(Keyword::kCurrent)) {
    consume_kw(Keyword::kRow);
    b.kind = FrameBoundKind::kCurrentRow;
    return b;
  }
  if (range && at_kw(Keyword::kInterval)) {
    b.offset = parse_interval_literal()->value.int_value;
  } else if (at(TokenKind::kInteger)) {
    b.offset = parse_count("ROWS");
  } else {
    fail_expected(range ? "UNBOUNDED, CURRENT ROW, a number or an INTERVAL"
                        : "UNBOUNDED, CURRENT ROW or a number of rows");
  }
  if (accept_kw(Keyword::kPreceding))
    b.kind = FrameBoundKind::kPreceding;
  else if (accept_kw(Keyword::kFollowing))
    b.kind = FrameBoundKind::kFollowing;
  else
    fail_expected("PRECEDING or FOLLOWING");
  return b;
}

ExprPtr Parser::parse_case() {
  auto e = make(ExprKind::kCase, advance());
  if (!at_kw(Keyword::kWhen) && !at_kw(Keyword::kEnd) && !at_kw(Keyword::kElse)) {
    e->case_has_operand = true;
    e->children.push_back(parse_expr());
  }
  if (!at_kw(Keyword::kWhen)) fail_expected("WHEN");
  while (accept_kw(Keyword::kWhen)) {
    e->children.push_back(parse_expr());
    consume_kw(Keyword::kThen);
    e->children.push_back(parse_expr());
  }
  if (accept_kw(Keyword::kElse)) {
    e->case_has_else = true;
    e->children.push_back(parse_expr());
  }
  if (!at_kw(Keyword::kEnd)) fail_expected(e->case_has_else ? "END" : "WHEN, ELSE or END");
  advance();
  return seal(std::move(e));
}

ExprPtr Parser::parse_cast() {
  auto e = make(ExprKind::kCast, advance());
  expect(TokenKind::kLParen, "'(' after CAST");
  e->children.push_back(parse_expr());
  consume_kw(Keyword::kAs);
  e->type = parse_type();
  expect(TokenKind::kRParen, "')'");
  return seal(std::move(e));
}

// INTERVAL '5 minutes' | INTERVAL '5' MINUTE | INTERVAL 5 MINUTE
// (INTERVAL -5 MINUTE only where no expression can follow INTERVAL, as in TTL)
ExprPtr Parser::parse_interval_literal() {
  auto e = make(ExprKind::kLiteral, advance());
  e->value.kind = LiteralKind::kInterval;
  const Token v = peek();
  auto unit_after = [&]() -> int64_t {
    const Token u = peek();
    if (u.kind != TokenKind::kIdent) return 0;
    int64_t ns = interval_unit_ns(text(u));
    if (ns < 0) fail(u, "INTERVAL unit " + describe(u) + " has no fixed length in nanoseconds");
    if (ns > 0) advance();
    return ns;
  };
  if (v.kind == TokenKind::kString) {
    advance();
    const int64_t unit = unit_after();
    std::string why;
    auto ns = parse_interval(string_value(v), unit, &why);
    if (!ns) fail(v, "invalid interval " + describe(v) + ": " + why);
    e->value.int_value = *ns;
    return e;
  }
  const bool negative = accept(TokenKind::kMinus);
  const Token num = peek();
  if (num.kind != TokenKind::kInteger && num.kind != TokenKind::kFloat)
    fail_expected("a number or a string after INTERVAL");
  advance();
  const int64_t unit = unit_after();
  if (unit == 0) fail_expected("an interval unit such as MINUTE");
  std::string why;
  auto ns = parse_interval(std::string(negative ? "-" : "") + std::string(text(num)), unit, &why);
  if (!ns) fail(num, "invalid interval: " + why);
  e->value.int_value = *ns;
  return e;
}

// {name:Type}
ExprPtr Parser::parse_parameter() {
  auto e = make(ExprKind::kParameter, advance());
  e->name = name("a parameter name");
  expect(TokenKind::kColon, "':' and a type in {name:Type}");
  e->type = parse_type();
  expect(TokenKind::kRBrace, "'}'");
  return e;
}

// A type name, optionally with arguments: BIGINT, DOUBLE PRECISION,
// VARCHAR(20), DateTime64(9, 'UTC'), Nullable(Int64), LowCardinality(String).
TypeName Parser::parse_type() {
  const Token t = peek();
  if (t.kind != TokenKind::kIdent && t.kind != TokenKind::kQuotedIdent) fail_expected("a type name");
  advance();
  TypeName type;
  type.name = upper(name_text(t));
  if (type.name == "DOUBLE" && at(TokenKind::kIdent) && iequals(text(peek()), "PRECISION")) advance();
  if (at(TokenKind::kLParen)) {
    if (type.name == "NULLABLE" || type.name == "LOWCARDINALITY") {
      advance();
      TypeName inner = parse_type();
      expect(TokenKind::kRParen, "')'");
      return inner;
    }
    advance();
    for (int depth = 1; depth > 0;) {
      const Token a = advance();
      if (a.kind == TokenKind::kEnd) fail_expected("')' to close the type arguments");
      if (a.kind == TokenKind::kLParen) ++depth;
      if (a.kind == TokenKind::kRParen) --depth;
    }
  }
  auto ct = parse_type_name(type.name);
  if (!ct) ct = extra_type(type.name);
  if (!ct)
    fail(t, "unknown type " + describe(t) +
                " (known: BIGINT, INTEGER, DOUBLE, BOOLEAN, TIMESTAMP, VARCHAR, SYMBOL)");
  type.type = *ct;
  return type;
}

ExprPtr Parser::parse_expression_top() {
  if (at(TokenKind::kEnd)) fail(peek(), "empty expression");
  ExprPtr e = parse_expr();
  if (!at(TokenKind::kEnd)) fail_expected("end of expression");
  return e;
}

}  // namespace

Statement parse(std::string_view sql) { return Parser(sql).parse_statement_top(); }

ExprPtr parse_expression(std::string_view sql) { return Parser(sql).parse_expression_top(); }

}  // namespace zepto::sql
