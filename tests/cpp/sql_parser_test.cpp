// Lexer, parser and printer of the SQL dialect.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <variant>

#include "zeptodb/sql/ast.h"
#include "zeptodb/sql/lexer.h"
#include "zeptodb/sql/parser.h"
#include "zeptodb/sql/time_literal.h"

namespace zepto::sql {
namespace {

// Fully parenthesized prefix form, to check tree shape independently of
// the printer: "(+ a (* b c))".
std::string sexpr(const Expr& e) {
  auto kids = [&](size_t from = 0) {
    std::string s;
    for (size_t i = from; i < e.children.size(); ++i) s += " " + sexpr(*e.children[i]);
    return s;
  };
  switch (e.kind) {
    case ExprKind::kLiteral: return to_string(e);
    case ExprKind::kColumnRef: return e.qualifier.empty() ? e.name : e.qualifier + "." + e.name;
    case ExprKind::kStar: return e.qualifier.empty() ? "*" : e.qualifier + ".*";
    case ExprKind::kParameter: return "{" + e.name + ":" + e.type.name + "}";
    case ExprKind::kUnary: return std::string(e.unary_op == UnaryOp::kNot ? "(not" : "(neg") + kids() + ")";
    case ExprKind::kBinary: {
      static const char* kOps[] = {"or", "and", "=", "!=", "<", "<=", ">",
                                   ">=", "+",  "-", "||", "*", "/", "%"};
      return std::string("(") + kOps[static_cast<int>(e.binary_op)] + kids() + ")";
    }
    case ExprKind::kBetween: return std::string(e.negated ? "(not-between" : "(between") + kids() + ")";
    case ExprKind::kInList: return std::string(e.negated ? "(not-in" : "(in") + kids() + ")";
    case ExprKind::kInSubquery:
      return std::string(e.negated ? "(not-in-query" : "(in-query") + kids() + ")";
    case ExprKind::kIsNull: return std::string(e.negated ? "(is-not-null" : "(is-null") + kids() + ")";
    case ExprKind::kLike: return std::string(e.negated ? "(not-like" : "(like") + kids() + ")";
    case ExprKind::kCase: return "(case" + kids() + ")";
    case ExprKind::kCast: return "(cast" + kids() + " " + e.type.name + ")";
    case ExprKind::kFunction:
      return "(" + e.name + (e.distinct ? " distinct" : "") + kids() + (e.window ? " over" : "") + ")";
    case ExprKind::kSubquery: return "(subquery)";
  }
  return "?";
}

std::string tree(std::string_view sql) { return sexpr(*parse_expression(sql)); }
std::string canon(std::string_view sql) { return to_string(*parse_expression(sql)); }

Statement parse_ok(std::string_view sql) {
  try {
    return parse(sql);
  } catch (const ParseError& e) {
    ADD_FAILURE() << sql << "\n  " << e.what();
    throw;
  }
}

const SelectStmt& select_of(const Statement& st) { return std::get<SelectStmt>(st.body); }

// The statement of kind T that `sql` parses to, moved out of the Statement.
template <class T>
T body(std::string_view sql) {
  return std::move(std::get<T>(parse_ok(sql).body));
}
SelectStmt query(std::string_view sql) { return body<SelectStmt>(sql); }

// Parses a query, prints it, parses the print: both prints must agree.
std::string round_trip(std::string_view sql) {
  Statement a = parse_ok(sql);
  std::string first = to_string(select_of(a));
  Statement b = parse_ok(first);
  EXPECT_EQ(first, to_string(select_of(b))) << "from: " << sql;
  return first;
}

// The message of the ParseError `sql` throws ("" if it parses).
std::string error_of(std::string_view sql) {
  try {
    parse(sql);
  } catch (const ParseError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "";
}

constexpr int64_t kSec = 1'000'000'000;

// ------------------------------------------------------------------ lexer

TEST(SqlLexer, TokensPositionsAndComments) {
  std::string_view src = "SELECT a1, \"Q x\" -- note\n  /* multi\nline */ FROM `t`;";
  Lexer lex(src);
  struct Want {
    TokenKind kind;
    std::string_view text;
    uint32_t line, column;
  };
  const Want want[] = {{TokenKind::kIdent, "SELECT", 1, 1},       {TokenKind::kIdent, "a1", 1, 8},
                       {TokenKind::kComma, ",", 1, 10},           {TokenKind::kQuotedIdent, "\"Q x\"", 1, 12},
                       {TokenKind::kIdent, "FROM", 3, 9},         {TokenKind::kQuotedIdent, "`t`", 3, 14},
                       {TokenKind::kSemicolon, ";", 3, 17},       {TokenKind::kEnd, "", 3, 18}};
  for (const Want& w : want) {
    Token t = lex.next();
    EXPECT_EQ(t.kind, w.kind) << w.text;
    EXPECT_EQ(lex.text(t), w.text);
    EXPECT_EQ(t.line, w.line) << w.text;
    EXPECT_EQ(t.column, w.column) << w.text;
  }
  EXPECT_EQ(lex.next().kind, TokenKind::kEnd);
}

TEST(SqlLexer, KeywordsAreCaseInsensitive) {
  Lexer lex("select SeLeCt timestamp Timestamps x");
  EXPECT_EQ(lex.next().keyword, Keyword::kSelect);
  EXPECT_EQ(lex.next().keyword, Keyword::kSelect);
  EXPECT_EQ(lex.next().keyword, Keyword::kTimestamp);
  EXPECT_EQ(lex.next().keyword, Keyword::kNone);
  EXPECT_EQ(lex.next().keyword, Keyword::kNone);
  EXPECT_TRUE(is_reserved(Keyword::kFrom));
  EXPECT_FALSE(is_reserved(Keyword::kTimestamp));
  EXPECT_EQ(keyword_name(Keyword::kWhere), "WHERE");
}

TEST(SqlLexer, NumbersAndOperators) {
  Lexer lex("1 2.5 .5 1e9 2.5E-3 7. = == != <> <= >= < > || :: : % { }");
  const TokenKind want[] = {TokenKind::kInteger, TokenKind::kFloat, TokenKind::kFloat,
                            TokenKind::kFloat,   TokenKind::kFloat, TokenKind::kFloat,
                            TokenKind::kEq,      TokenKind::kEq,    TokenKind::kNe,
                            TokenKind::kNe,      TokenKind::kLe,    TokenKind::kGe,
                            TokenKind::kLt,      TokenKind::kGt,    TokenKind::kConcat,
                            TokenKind::kDoubleColon, TokenKind::kColon, TokenKind::kPercent,
                            TokenKind::kLBrace,  TokenKind::kRBrace, TokenKind::kEnd};
  for (TokenKind k : want) EXPECT_EQ(lex.next().kind, k);
}

TEST(SqlLexer, Errors) {
  auto lex_all = [](std::string_view s) {
    Lexer lex(s);
    while (lex.next().kind != TokenKind::kEnd) {
    }
  };
  EXPECT_THROW(lex_all("'abc"), ParseError);
  EXPECT_THROW(lex_all("\"abc"), ParseError);
  EXPECT_THROW(lex_all("/* abc"), ParseError);
  EXPECT_THROW(lex_all("1abc"), ParseError);
  EXPECT_THROW(lex_all("a ? b"), ParseError);
  EXPECT_THROW(lex_all("a ! b"), ParseError);
  EXPECT_THROW(lex_all("\"\""), ParseError);
  EXPECT_NO_THROW(lex_all("-- only a comment"));
  EXPECT_NO_THROW(lex_all("préço"));  // UTF-8 names
}

// --------------------------------------------------------------- literals

TEST(SqlLiteral, Numbers) {
  auto lit = [](std::string_view s) { return std::move(parse_expression(s)->value); };
  EXPECT_EQ(lit("42").kind, LiteralKind::kInt);
  EXPECT_EQ(lit("42").int_value, 42);
  EXPECT_EQ(lit("-42").int_value, -42);
  EXPECT_EQ(lit("9223372036854775807").int_value, INT64_MAX);
  EXPECT_EQ(lit("-9223372036854775808").kind, LiteralKind::kInt);
  EXPECT_EQ(lit("-9223372036854775808").int_value, INT64_MIN);
  EXPECT_EQ(lit("9223372036854775808").kind, LiteralKind::kDouble);
  EXPECT_EQ(lit("2.5").kind, LiteralKind::kDouble);
  EXPECT_DOUBLE_EQ(lit("2.5").double_value, 2.5);
  EXPECT_DOUBLE_EQ(lit("-1e-3").double_value, -0.001);
  EXPECT_DOUBLE_EQ(lit(".5").double_value, 0.5);
  EXPECT_THROW(parse_expression("1e999"), ParseError);
}

TEST(SqlLiteral, StringsBoolsNull) {
  EXPECT_EQ(parse_expression("'it''s'")->value.string_value, "it's");
  EXPECT_EQ(parse_expression(R"('it\'s \\ \n')")->value.string_value, "it's \\ \n");
  EXPECT_EQ(parse_expression(R"('a\%b')")->value.string_value, "a\\%b");  // LIKE escapes survive
  EXPECT_EQ(parse_expression("''")->value.string_value, "");
  EXPECT_EQ(parse_expression("TRUE")->value.kind, LiteralKind::kBool);
  EXPECT_EQ(parse_expression("true")->value.int_value, 1);
  EXPECT_EQ(parse_expression("false")->value.int_value, 0);
  EXPECT_EQ(parse_expression("NULL")->value.kind, LiteralKind::kNull);
}

TEST(SqlLiteral, Timestamps) {
  auto ts = [](std::string_view s) {
    ExprPtr e = parse_expression(s);
    EXPECT_EQ(e->value.kind, LiteralKind::kTimestamp) << s;
    return e->value.int_value;
  };
  const int64_t base = 1704205800 * kSec;  // 2024-01-02 14:30:00 UTC
  EXPECT_EQ(ts("TIMESTAMP '2024-01-02 14:30:00'"), base);
  EXPECT_EQ(ts("timestamp '2024-01-02T14:30:00Z'"), base);
  EXPECT_EQ(ts("TIMESTAMP '2024-01-02 14:30'"), base);
  EXPECT_EQ(ts("TIMESTAMP '2024-01-02 14:30:00.5'"), base + 500'000'000);
  EXPECT_EQ(ts("TIMESTAMP '2024-01-02 14:30:00.000000001'"), base + 1);
  EXPECT_EQ(ts("TIMESTAMP '2024-01-02 16:30:00+02:00'"), base);
  EXPECT_EQ(ts("TIMESTAMP '2024-01-02 09:30:00-0500'"), base);
  EXPECT_EQ(ts("TIMESTAMP '1970-01-01'"), 0);
  EXPECT_EQ(ts("DATE '2024-01-02'"), 1704153600 * kSec);
  EXPECT_EQ(ts("TIMESTAMP '1969-12-31 23:59:59.999999999'"), -1);
  EXPECT_EQ(ts("TIMESTAMP '2024-02-29 00:00:00'"), 1709164800 * kSec);
  for (const char* bad :
       {"'2023-02-29'", "'2024-13-01'", "'2024-01-32'", "'2024-01-02 24:00:00'", "'2024-01-02 12:60'",
        "'2024-1-2'", "'2024-01-02 14:30:00.'", "'2024-01-02 14:30:00.1234567891'", "'yesterday'",
        "'2300-01-01'", "'2024-01-02 14:30:00 junk'"}) {
    EXPECT_THROW(parse_expression(std::string("TIMESTAMP ") + bad), ParseError) << bad;
  }
  EXPECT_EQ(format_timestamp(base), "2024-01-02 14:30:00");
  EXPECT_EQ(format_timestamp(base + 500'000'000), "2024-01-02 14:30:00.500");
  EXPECT_EQ(format_timestamp(base + 1'000), "2024-01-02 14:30:00.000001");
  EXPECT_EQ(format_timestamp(-1), "1969-12-31 23:59:59.999999999");
  EXPECT_EQ(format_timestamp(INT64_MIN), "1677-09-21 00:12:43.145224192");
  EXPECT_EQ(parse_timestamp(format_timestamp(INT64_MAX)), INT64_MAX);
}

TEST(SqlLiteral, Intervals) {
  auto iv = [](std::string_view s) {
    ExprPtr e = parse_expression(s);
    EXPECT_EQ(e->value.kind, LiteralKind::kInterval) << s;
    return e->value.int_value;
  };
  EXPECT_EQ(iv("INTERVAL '5 minutes'"), 300 * kSec);
  EXPECT_EQ(iv("INTERVAL '5' MINUTE"), 300 * kSec);
  EXPECT_EQ(iv("INTERVAL 5 MINUTE"), 300 * kSec);
  EXPECT_EQ(iv("interval 5 minutes"), 300 * kSec);
  EXPECT_EQ(iv("INTERVAL '1 hour 30 minutes'"), 5400 * kSec);
  EXPECT_EQ(iv("INTERVAL '1.5 seconds'"), 1'500'000'000);
  EXPECT_EQ(iv("INTERVAL 1.5 SECOND"), 1'500'000'000);
  EXPECT_EQ(iv("INTERVAL '-2 days'"), -2 * 86400 * kSec);
  EXPECT_EQ(iv("INTERVAL '250 ms'"), 250'000'000);
  EXPECT_EQ(iv("INTERVAL '3 us'"), 3'000);
  EXPECT_EQ(iv("INTERVAL 1 WEEK"), 7 * 86400 * kSec);
  EXPECT_EQ(iv("INTERVAL '7ns'"), 7);
  EXPECT_EQ(error_of("SELECT INTERVAL '1 month'"),
            "syntax error at line 1, column 17: invalid interval ''1 month'': unit 'month' has no "
            "fixed length in nanoseconds");
  EXPECT_THROW(parse_expression("INTERVAL 1 YEAR"), ParseError);
  EXPECT_THROW(parse_expression("INTERVAL '5 fortnights'"), ParseError);
  EXPECT_THROW(parse_expression("INTERVAL '5'"), ParseError);
  EXPECT_THROW(parse_expression("INTERVAL 5"), ParseError);
  EXPECT_THROW(parse_expression("INTERVAL '99999999999 days'"), ParseError);
  EXPECT_EQ(format_interval(300 * kSec), "5 minutes");
  EXPECT_EQ(format_interval(kSec), "1 second");
  EXPECT_EQ(format_interval(1'500'000'000), "1500 milliseconds");
}

TEST(SqlLiteral, NonReservedKeywordsAreNames) {
  EXPECT_EQ(tree("timestamp >= TIMESTAMP '1970-01-01'"),
            "(>= timestamp TIMESTAMP '1970-01-01 00:00:00')");
  EXPECT_EQ(tree("first(price) + last(price)"), "(+ (first price) (last price))");
  EXPECT_EQ(tree("interval + date"), "(+ interval date)");
  EXPECT_EQ(tree("t.timestamp"), "t.timestamp");
}

// ------------------------------------------------------------ expressions

TEST(SqlExpr, Precedence) {
  EXPECT_EQ(tree("a OR b AND c"), "(or a (and b c))");
  EXPECT_EQ(tree("NOT a AND b"), "(and (not a) b)");
  EXPECT_EQ(tree("NOT a = b"), "(not (= a b))");
  EXPECT_EQ(tree("a = b + c * d"), "(= a (+ b (* c d)))");
  EXPECT_EQ(tree("a - b - c"), "(- (- a b) c)");
  EXPECT_EQ(tree("a / b % c * d"), "(* (% (/ a b) c) d)");
  EXPECT_EQ(tree("-a * b"), "(* (neg a) b)");
  EXPECT_EQ(tree("-(a + b)"), "(neg (+ a b))");
  EXPECT_EQ(tree("- -a"), "(neg (neg a))");
  EXPECT_EQ(tree("+a"), "a");
  EXPECT_EQ(tree("2 - -3"), "(- 2 -3)");
  EXPECT_EQ(tree("(a OR b) AND c"), "(and (or a b) c)");
  EXPECT_EQ(tree("a || b = c"), "(= (|| a b) c)");
  EXPECT_EQ(tree("a < b OR c >= d AND e <> f"), "(or (< a b) (and (>= c d) (!= e f)))");
  EXPECT_EQ(tree("a == b"), "(= a b)");
  EXPECT_EQ(tree("a != b"), "(!= a b)");
  EXPECT_EQ(tree("a <= b"), "(<= a b)");
  EXPECT_EQ(tree("a > b"), "(> a b)");
}

TEST(SqlExpr, Predicates) {
  EXPECT_EQ(tree("x BETWEEN 1 AND 2 AND y"), "(and (between x 1 2) y)");
  EXPECT_EQ(tree("x NOT BETWEEN a + 1 AND b * 2"), "(not-between x (+ a 1) (* b 2))");
  EXPECT_EQ(tree("symbol IN ('AAPL', 'MSFT')"), "(in symbol 'AAPL' 'MSFT')");
  EXPECT_EQ(tree("symbol NOT IN (1, 2, 3)"), "(not-in symbol 1 2 3)");
  EXPECT_EQ(tree("x IN (SELECT a FROM t)"), "(in-query x)");
  EXPECT_EQ(tree("x NOT IN (SELECT a FROM t)"), "(not-in-query x)");
  EXPECT_EQ(tree("x IS NULL"), "(is-null x)");
  EXPECT_EQ(tree("x + 1 IS NOT NULL OR y"), "(or (is-not-null (+ x 1)) y)");
  EXPECT_EQ(tree("NOT x IS NULL"), "(not (is-null x))");
  EXPECT_EQ(tree("name LIKE 'A%'"), "(like name 'A%')");
  EXPECT_EQ(tree("name NOT LIKE 'A%' AND x"), "(and (not-like name 'A%') x)");
  EXPECT_EQ(tree("NOT name LIKE 'A%'"), "(not (like name 'A%'))");
  ExprPtr in = parse_expression("x IN (SELECT a FROM t WHERE b > 1)");
  ASSERT_NE(in->subquery, nullptr);
  EXPECT_EQ(to_string(*in->subquery), "SELECT a FROM t WHERE b > 1");
}

TEST(SqlExpr, CaseCastFunctions) {
  EXPECT_EQ(tree("CASE WHEN a > 1 THEN 'x' WHEN a > 0 THEN 'y' ELSE 'z' END"),
            "(case (> a 1) 'x' (> a 0) 'y' 'z')");
  ExprPtr c = parse_expression("CASE side WHEN 1 THEN price END");
  EXPECT_TRUE(c->case_has_operand);
  EXPECT_FALSE(c->case_has_else);
  EXPECT_EQ(c->children.size(), 3u);
  EXPECT_EQ(tree("CAST(price AS DOUBLE) / 2"), "(/ (cast price DOUBLE) 2)");
  EXPECT_EQ(tree("price::double * 2"), "(* (cast price DOUBLE) 2)");
  EXPECT_EQ(tree("-x::bigint"), "(neg (cast x BIGINT))");
  EXPECT_EQ(tree("x::int::varchar"), "(cast (cast x INT) VARCHAR)");
  ExprPtr cast = parse_expression("CAST(x AS VARCHAR(20))");
  EXPECT_EQ(cast->type.type, ColumnType::SYMBOL);
  EXPECT_EQ(cast->type.name, "VARCHAR");
  EXPECT_EQ(parse_expression("CAST(x AS Nullable(Float64))")->type.type, ColumnType::DOUBLE);
  EXPECT_EQ(parse_expression("x::DateTime64(9, 'UTC')")->type.type, ColumnType::TIMESTAMP);
  EXPECT_EQ(parse_expression("x::double precision")->type.type, ColumnType::DOUBLE);
  EXPECT_EQ(tree("count(*)"), "(count *)");
  EXPECT_EQ(tree("COUNT(DISTINCT symbol)"), "(count distinct symbol)");
  EXPECT_EQ(tree("vwap(price, volume)"), "(vwap price volume)");
  EXPECT_EQ(tree("now()"), "(now)");
  EXPECT_EQ(tree("xbar(timestamp, 300000000000)"), "(xbar timestamp 300000000000)");
  EXPECT_EQ(tree("date_trunc('minute', timestamp)"), "(date_trunc 'minute' timestamp)");
  EXPECT_EQ(tree("coalesce(a, b, 0)"), "(coalesce a b 0)");
  EXPECT_EQ(tree("left(s, 2)"), "(left s 2)");
  EXPECT_EQ(tree("(SELECT max(price) FROM trades) - price"), "(- (subquery) price)");
  EXPECT_EQ(tree("{sym:String}"), "{sym:STRING}");
  EXPECT_EQ(tree("db.t.col"), "db.t.col");
}

TEST(SqlExpr, WindowSpecs) {
  ExprPtr e = parse_expression(
      "sum(volume) OVER (PARTITION BY symbol, venue ORDER BY timestamp DESC NULLS LAST "
      "ROWS BETWEEN 5 PRECEDING AND CURRENT ROW)");
  ASSERT_NE(e->window, nullptr);
  const WindowSpec& w = *e->window;
  EXPECT_EQ(w.partition_by.size(), 2u);
  ASSERT_EQ(w.order_by.size(), 1u);
  EXPECT_TRUE(w.order_by[0].descending);
  EXPECT_EQ(w.order_by[0].nulls, NullsOrder::kLast);
  ASSERT_TRUE(w.frame.has_value());
  EXPECT_FALSE(w.frame->range);
  EXPECT_EQ(w.frame->start.kind, FrameBoundKind::kPreceding);
  EXPECT_EQ(w.frame->start.offset, 5);
  EXPECT_EQ(w.frame->end.kind, FrameBoundKind::kCurrentRow);

  ExprPtr r = parse_expression("row_number() OVER (ORDER BY ts)");
  EXPECT_TRUE(r->children.empty());
  EXPECT_FALSE(r->window->frame.has_value());
  EXPECT_TRUE(parse_expression("rank() OVER ()")->window->partition_by.empty());

  auto frame = [](std::string_view spec) {
    return *parse_expression("avg(x) OVER (ORDER BY t " + std::string(spec) + ")")->window->frame;
  };
  WindowFrame f = frame("ROWS UNBOUNDED PRECEDING");
  EXPECT_EQ(f.start.kind, FrameBoundKind::kUnboundedPreceding);
  EXPECT_EQ(f.end.kind, FrameBoundKind::kCurrentRow);
  f = frame("ROWS 3 PRECEDING");
  EXPECT_EQ(f.start.offset, 3);
  f = frame("ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING");
  EXPECT_EQ(f.end.kind, FrameBoundKind::kUnboundedFollowing);
  f = frame("ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING");
  EXPECT_EQ(f.end.kind, FrameBoundKind::kFollowing);
  EXPECT_EQ(f.end.offset, 2);
  f = frame("RANGE BETWEEN INTERVAL '5 minutes' PRECEDING AND CURRENT ROW");
  EXPECT_TRUE(f.range);
  EXPECT_EQ(f.start.offset, 300 * kSec);
  for (const char* bad : {"ROWS BETWEEN CURRENT ROW AND 1 PRECEDING",
                          "ROWS BETWEEN UNBOUNDED FOLLOWING AND CURRENT ROW",
                          "ROWS BETWEEN 1 PRECEDING AND UNBOUNDED PRECEDING", "ROWS 1 FOLLOWING",
                          "ROWS BETWEEN 1 AND 2", "ROWS x PRECEDING"}) {
    EXPECT_THROW(parse_expression("avg(x) OVER (ORDER BY t " + std::string(bad) + ")"), ParseError)
        << bad;
  }
}

// ------------------------------------------------------------------ SELECT

TEST(SqlSelect, TypicalQuery) {
  Statement st = parse_ok(
      "SELECT symbol, vwap(price, volume) AS vwap, sum(volume) vol FROM trades "
      "WHERE symbol = 'AAPL' AND timestamp >= TIMESTAMP '2024-01-02 14:30:00' "
      "GROUP BY symbol HAVING count(*) > 10 ORDER BY symbol LIMIT 5");
  EXPECT_FALSE(st.explain);
  const SelectStmt& s = select_of(st);
  EXPECT_FALSE(s.distinct);
  ASSERT_EQ(s.select_list.size(), 3u);
  EXPECT_EQ(s.select_list[0].alias, "");
  EXPECT_EQ(s.select_list[1].alias, "vwap");
  EXPECT_EQ(s.select_list[2].alias, "vol");
  EXPECT_EQ(to_string(*s.select_list[1].expr), "vwap(price, volume)");
  ASSERT_NE(s.from, nullptr);
  EXPECT_EQ(s.from->kind, TableRefKind::kTable);
  EXPECT_EQ(s.from->table.name, "trades");
  EXPECT_EQ(sexpr(*s.where),
            "(and (= symbol 'AAPL') (>= timestamp TIMESTAMP '2024-01-02 14:30:00'))");
  EXPECT_EQ(s.group_by.size(), 1u);
  EXPECT_EQ(sexpr(*s.having), "(> (count *) 10)");
  ASSERT_EQ(s.order_by.size(), 1u);
  EXPECT_FALSE(s.order_by[0].descending);
  EXPECT_EQ(s.limit, 5);
  EXPECT_FALSE(s.offset.has_value());
}

TEST(SqlSelect, StarsDistinctAliases) {
  const SelectStmt s =
      query("select distinct *, t.*, db.t.*, price \"Px\", volume AS 'v', \"select\" from db.trades t");
  EXPECT_TRUE(s.distinct);
  ASSERT_EQ(s.select_list.size(), 6u);
  EXPECT_EQ(s.select_list[0].expr->kind, ExprKind::kStar);
  EXPECT_EQ(s.select_list[1].expr->kind, ExprKind::kStar);
  EXPECT_EQ(s.select_list[1].expr->qualifier, "t");
  EXPECT_EQ(s.select_list[2].expr->qualifier, "db.t");
  EXPECT_EQ(s.select_list[3].alias, "Px");
  EXPECT_EQ(s.select_list[4].alias, "v");
  EXPECT_EQ(s.select_list[5].expr->name, "select");
  EXPECT_EQ(s.from->table.schema, "db");
  EXPECT_EQ(s.from->table.name, "trades");
  EXPECT_EQ(s.from->alias, "t");
  EXPECT_EQ(select_of(parse_ok("SELECT 1 FROM system.tables")).from->table.schema, "system");
  EXPECT_EQ(select_of(parse_ok("SELECT a FROM trades AS x")).from->alias, "x");
  EXPECT_EQ(select_of(parse_ok("SELECT 1")).from, nullptr);
}

TEST(SqlSelect, GroupOrderLimit) {
  const SelectStmt s = query(
      "SELECT xbar(timestamp, 300000000000) AS bar, first(price) FROM trades GROUP BY 1, bar, "
      "xbar(timestamp, 300000000000) ORDER BY 1 DESC, bar ASC NULLS FIRST, 2 NULLS LAST "
      "LIMIT 10 OFFSET 20");
  ASSERT_EQ(s.group_by.size(), 3u);
  EXPECT_EQ(s.group_by[0]->value.kind, LiteralKind::kInt);
  EXPECT_EQ(s.group_by[1]->kind, ExprKind::kColumnRef);
  EXPECT_EQ(s.group_by[2]->kind, ExprKind::kFunction);
  ASSERT_EQ(s.order_by.size(), 3u);
  EXPECT_TRUE(s.order_by[0].descending);
  EXPECT_EQ(s.order_by[1].nulls, NullsOrder::kFirst);
  EXPECT_EQ(s.order_by[2].nulls, NullsOrder::kLast);
  EXPECT_EQ(s.limit, 10);
  EXPECT_EQ(s.offset, 20);
  const SelectStmt m = query("SELECT a FROM t LIMIT 5, 10");
  EXPECT_EQ(m.offset, 5);
  EXPECT_EQ(m.limit, 10);
  EXPECT_EQ(select_of(parse_ok("SELECT a FROM t OFFSET 3")).offset, 3);
}

TEST(SqlSelect, UnionAllAndParentheses) {
  const SelectStmt u = query(
      "SELECT a FROM t UNION ALL SELECT b FROM u UNION ALL (SELECT c FROM v ORDER BY c LIMIT 1) "
      "ORDER BY 1 LIMIT 3");
  ASSERT_EQ(u.union_all.size(), 3u);
  EXPECT_TRUE(u.select_list.empty());
  EXPECT_EQ(u.limit, 3);
  EXPECT_EQ(u.order_by.size(), 1u);
  EXPECT_FALSE(u.union_all[0]->limit.has_value());
  EXPECT_EQ(u.union_all[2]->limit, 1);

  // A lone parenthesized query is just that query.
  const SelectStmt p = query("((SELECT a FROM t)) LIMIT 2");
  EXPECT_TRUE(p.union_all.empty());
  EXPECT_EQ(p.limit, 2);
  // ... unless both sides have their own LIMIT.
  const SelectStmt w = query("(SELECT a FROM t LIMIT 5) ORDER BY a LIMIT 2");
  ASSERT_EQ(w.union_all.size(), 1u);
  EXPECT_EQ(w.union_all[0]->limit, 5);
  EXPECT_EQ(w.limit, 2);
  EXPECT_NE(error_of("SELECT a FROM t UNION SELECT b FROM u").find("only UNION ALL"),
            std::string::npos);
}

TEST(SqlSelect, CommonTableExpressions) {
  const SelectStmt s = query(
      "WITH a AS (SELECT symbol, price FROM trades), b (s, p) AS (SELECT * FROM a WHERE p > 1) "
      "SELECT s FROM b UNION ALL SELECT symbol FROM a");
  ASSERT_EQ(s.ctes.size(), 2u);
  EXPECT_EQ(s.ctes[0].name, "a");
  EXPECT_EQ(s.ctes[1].columns, (std::vector<std::string>{"s", "p"}));
  EXPECT_EQ(to_string(*s.ctes[1].query), "SELECT * FROM a WHERE p > 1");
  EXPECT_EQ(s.union_all.size(), 2u);
  const SelectStmt one = query("WITH x AS (SELECT 1) SELECT * FROM x");
  EXPECT_EQ(one.ctes.size(), 1u);
  EXPECT_EQ(one.select_list.size(), 1u);
}

TEST(SqlSelect, Subqueries) {
  const SelectStmt s = query(
      "SELECT sym, (SELECT max(price) FROM trades) AS top FROM (SELECT symbol AS sym FROM trades "
      "WHERE symbol IN (SELECT symbol FROM hot)) AS sub WHERE sym NOT IN (SELECT s FROM cold)");
  EXPECT_EQ(s.select_list[1].expr->kind, ExprKind::kSubquery);
  ASSERT_EQ(s.from->kind, TableRefKind::kSubquery);
  EXPECT_EQ(s.from->alias, "sub");
  EXPECT_EQ(s.from->subquery->where->kind, ExprKind::kInSubquery);
  EXPECT_EQ(s.where->kind, ExprKind::kInSubquery);
  EXPECT_TRUE(s.where->negated);
  EXPECT_EQ(select_of(parse_ok("SELECT * FROM (SELECT 1) x")).from->alias, "x");
  EXPECT_EQ(select_of(parse_ok("SELECT * FROM (SELECT 1)")).from->alias, "");
}

TEST(SqlSelect, Joins) {
  auto from = [](std::string_view sql) -> const TableRef& {
    static Statement st;
    st = parse_ok(sql);
    return *select_of(st).from;
  };
  const TableRef& inner = from("SELECT * FROM trades t JOIN quotes q ON t.symbol = q.symbol");
  ASSERT_EQ(inner.kind, TableRefKind::kJoin);
  EXPECT_EQ(inner.join_type, JoinType::kInner);
  EXPECT_EQ(inner.left->alias, "t");
  EXPECT_EQ(inner.right->table.name, "quotes");
  EXPECT_EQ(sexpr(*inner.on), "(= t.symbol q.symbol)");

  EXPECT_EQ(from("SELECT * FROM a INNER JOIN b USING (k)").using_columns,
            std::vector<std::string>{"k"});
  EXPECT_EQ(from("SELECT * FROM a LEFT OUTER JOIN b ON a.k = b.k").join_type, JoinType::kLeft);
  EXPECT_EQ(from("SELECT * FROM a LEFT JOIN b ON a.k = b.k").join_type, JoinType::kLeft);
  EXPECT_EQ(from("SELECT * FROM a RIGHT JOIN b ON a.k = b.k").join_type, JoinType::kRight);
  EXPECT_EQ(from("SELECT * FROM a FULL OUTER JOIN b ON a.k = b.k").join_type, JoinType::kFull);
  EXPECT_EQ(from("SELECT * FROM a CROSS JOIN b").join_type, JoinType::kCross);
  EXPECT_EQ(from("SELECT * FROM a, b").join_type, JoinType::kCross);

  const TableRef& asof = from(
      "SELECT t.price, q.bid FROM trades t ASOF JOIN quotes q "
      "ON (t.symbol = q.symbol AND t.timestamp >= q.timestamp)");
  EXPECT_EQ(asof.join_type, JoinType::kAsof);
  EXPECT_EQ(sexpr(*asof.on), "(and (= t.symbol q.symbol) (>= t.timestamp q.timestamp))");
  const TableRef& asof_using = from("SELECT * FROM trades ASOF JOIN quotes USING (symbol, timestamp)");
  EXPECT_EQ(asof_using.using_columns, (std::vector<std::string>{"symbol", "timestamp"}));
  EXPECT_EQ(from("SELECT * FROM a ASOF LEFT JOIN b USING (s, ts)").join_type, JoinType::kAsofLeft);
  EXPECT_EQ(from("SELECT * FROM a LEFT ASOF JOIN b USING (s, ts)").join_type, JoinType::kAsofLeft);

  const TableRef& wj = from(
      "SELECT t.timestamp, avg(q.bid), max(q.ask) FROM trades t WINDOW JOIN quotes q "
      "ON t.symbol = q.symbol AND q.timestamp BETWEEN t.timestamp - INTERVAL '1 second' AND "
      "t.timestamp + 1000000000 GROUP BY t.timestamp");
  EXPECT_EQ(wj.join_type, JoinType::kWindow);
  EXPECT_EQ(sexpr(*wj.on),
            "(and (= t.symbol q.symbol) (between q.timestamp (- t.timestamp INTERVAL '1 second') "
            "(+ t.timestamp 1000000000)))");
  EXPECT_NE(error_of("SELECT * FROM a WINDOW JOIN b USING (s)").find("expected ON"),
            std::string::npos);

  // Joins nest to the left; a comma binds loosest.
  const TableRef& chain = from(
      "SELECT * FROM a JOIN b ON a.k = b.k LEFT JOIN c ON b.k = c.k, d JOIN e USING (k)");
  EXPECT_EQ(chain.join_type, JoinType::kCross);
  EXPECT_EQ(chain.left->join_type, JoinType::kLeft);
  EXPECT_EQ(chain.left->left->join_type, JoinType::kInner);
  EXPECT_EQ(chain.left->right->table.name, "c");
  EXPECT_EQ(chain.right->kind, TableRefKind::kJoin);
  EXPECT_EQ(chain.right->left->table.name, "d");
  EXPECT_NE(error_of("SELECT * FROM a JOIN b").find("expected ON or USING"), std::string::npos);
}

TEST(SqlSelect, LongQueries) {
  // Lookahead far into a long token stream (t.* after hundreds of tokens).
  std::string sql = "SELECT ";
  for (int i = 0; i < 500; ++i) sql += "c" + std::to_string(i) + " + 1 AS a" + std::to_string(i) + ", ";
  sql += "t.*, db.t.* FROM db.t";
  const SelectStmt s = query(sql);
  ASSERT_EQ(s.select_list.size(), 502u);
  EXPECT_EQ(s.select_list[500].expr->kind, ExprKind::kStar);
  EXPECT_EQ(s.select_list[500].expr->qualifier, "t");
  EXPECT_EQ(s.select_list[501].expr->qualifier, "db.t");
  EXPECT_EQ(s.select_list[499].alias, "a499");
}

TEST(SqlSelect, ExplainSemicolonComments) {
  Statement st = parse_ok(
      "-- leading comment\nEXPLAIN /* inline */ SELECT count(*) -- trailing\nFROM trades ;  -- end");
  EXPECT_TRUE(st.explain);
  EXPECT_FALSE(st.explain_analyze);
  EXPECT_EQ(st.pos.line, 2u);
  EXPECT_TRUE(parse_ok("EXPLAIN ANALYZE SELECT 1").explain_analyze);
  EXPECT_EQ(select_of(parse_ok("select `weird col` from \"My Table\"")).from->table.name, "My Table");
  EXPECT_EQ(select_of(parse_ok("select \"a\"\"b\" from t")).select_list[0].expr->name, "a\"b");
}

TEST(SqlSelect, NodePositions) {
  Statement st = parse_ok("SELECT a,\n       sum(b) * 2\nFROM t\nWHERE c = 1");
  const SelectStmt& s = select_of(st);
  EXPECT_EQ(s.pos.line, 1u);
  EXPECT_EQ(s.select_list[1].pos.line, 2u);
  EXPECT_EQ(s.select_list[1].pos.column, 8u);
  const Expr& mul = *s.select_list[1].expr;
  EXPECT_EQ(mul.pos.column, 15u);  // operators point at the operator
  EXPECT_EQ(mul.children[0]->pos.column, 8u);
  EXPECT_EQ(mul.children[0]->children[0]->pos.column, 12u);
  EXPECT_EQ(s.from->pos.line, 3u);
  EXPECT_EQ(s.where->children[0]->pos.line, 4u);
  EXPECT_EQ(s.where->children[0]->pos.column, 7u);
}

// -------------------------------------------------------------- statements

TEST(SqlStatement, CreateDropShowDescribe) {
  Statement st = parse_ok(
      "CREATE TABLE IF NOT EXISTS quotes (symbol SYMBOL, timestamp TIMESTAMP, bid DOUBLE, "
      "ask FLOAT64, size INT64, lots INT, n INTEGER, m INT32, flag BOOLEAN, b2 BOOL, "
      "venue VARCHAR, note STRING, px FLOAT, big BIGINT) PARTITION BY symbol ORDER BY timestamp");
  const auto& ct = std::get<CreateTableStmt>(st.body);
  EXPECT_TRUE(ct.if_not_exists);
  EXPECT_EQ(ct.table.name, "quotes");
  const ColumnType want[] = {ColumnType::SYMBOL, ColumnType::TIMESTAMP, ColumnType::DOUBLE,
                             ColumnType::DOUBLE, ColumnType::INT64,     ColumnType::INT32,
                             ColumnType::INT32,  ColumnType::INT32,     ColumnType::BOOL,
                             ColumnType::BOOL,   ColumnType::SYMBOL,    ColumnType::SYMBOL,
                             ColumnType::DOUBLE, ColumnType::INT64};
  ASSERT_EQ(ct.columns.size(), std::size(want));
  for (size_t i = 0; i < std::size(want); ++i) EXPECT_EQ(ct.columns[i].type.type, want[i]) << i;
  EXPECT_EQ(ct.columns[10].type.name, "VARCHAR");
  EXPECT_EQ(ct.partition_by, "symbol");
  EXPECT_EQ(ct.order_by, "timestamp");
  EXPECT_FALSE(std::get<CreateTableStmt>(parse_ok("create table t (a bigint)").body).if_not_exists);
  EXPECT_NE(error_of("CREATE TABLE t (a BLOB)").find("unknown type 'BLOB'"), std::string::npos);
  EXPECT_NE(error_of("CREATE TABLE t ()").find("expected a column name"), std::string::npos);

  const auto drop = body<DropTableStmt>("DROP TABLE IF EXISTS db.t;");
  EXPECT_TRUE(drop.if_exists);
  EXPECT_EQ(drop.table.schema, "db");
  EXPECT_FALSE(std::get<DropTableStmt>(parse_ok("DROP TABLE t").body).if_exists);

  EXPECT_TRUE(std::holds_alternative<ShowTablesStmt>(parse_ok("SHOW TABLES").body));
  EXPECT_EQ(std::get<DescribeStmt>(parse_ok("DESCRIBE trades").body).table.name, "trades");
  EXPECT_EQ(std::get<DescribeStmt>(parse_ok("DESCRIBE TABLE `trades`").body).table.name, "trades");
  EXPECT_EQ(std::get<DescribeStmt>(parse_ok("desc trades").body).table.name, "trades");
  EXPECT_TRUE(std::holds_alternative<CheckpointStmt>(parse_ok("CHECKPOINT;").body));
  const auto alter = body<AlterTableStmt>("ALTER TABLE trades SET TTL 30 DAYS");
  EXPECT_EQ(alter.table.name, "trades");
  EXPECT_EQ(alter.ttl_ns, 30 * 86400 * kSec);
  EXPECT_EQ(std::get<AlterTableStmt>(parse_ok("ALTER TABLE t SET TTL 1 day").body).ttl_ns,
            86400 * kSec);
  EXPECT_EQ(std::get<AlterTableStmt>(parse_ok("ALTER TABLE t SET TTL INTERVAL '12 hours'").body).ttl_ns,
            12 * 3600 * kSec);
  EXPECT_THROW(parse("ALTER TABLE t SET TTL 0 DAYS"), ParseError);
  EXPECT_THROW(parse("ALTER TABLE t SET TTL 30"), ParseError);
  const auto removed = body<AlterTableStmt>("alter table t remove ttl;");
  EXPECT_EQ(removed.table.name, "t");
  EXPECT_EQ(removed.ttl_ns, 0);
  EXPECT_FALSE(removed.retention);
  EXPECT_THROW(parse("ALTER TABLE t REMOVE"), ParseError);
  EXPECT_THROW(parse("ALTER TABLE t DROP TTL"), ParseError);
  // The size limit: binary units, any case.
  const auto limit = body<AlterTableStmt>("ALTER TABLE trades SET RETENTION 500 MB");
  EXPECT_TRUE(limit.retention);
  EXPECT_EQ(limit.max_bytes, uint64_t{500} << 20);
  EXPECT_EQ(std::get<AlterTableStmt>(parse_ok("alter table t set retention 2 gib").body).max_bytes, uint64_t{2} << 30);
  EXPECT_EQ(std::get<AlterTableStmt>(parse_ok("ALTER TABLE t SET RETENTION 4096 BYTES").body).max_bytes, 4096u);
  EXPECT_EQ(std::get<AlterTableStmt>(parse_ok("ALTER TABLE t SET RETENTION 3 TB").body).max_bytes, uint64_t{3} << 40);
  const auto unlimited = body<AlterTableStmt>("ALTER TABLE t REMOVE RETENTION");
  EXPECT_TRUE(unlimited.retention);
  EXPECT_EQ(unlimited.max_bytes, 0u);
  EXPECT_THROW(parse("ALTER TABLE t SET RETENTION 0 MB"), ParseError);
  EXPECT_THROW(parse("ALTER TABLE t SET RETENTION 500"), ParseError);
  EXPECT_THROW(parse("ALTER TABLE t SET RETENTION 5 PB"), ParseError);
  EXPECT_THROW(parse("ALTER TABLE t SET RETENTION 30 DAYS"), ParseError);
  EXPECT_THROW(parse("ALTER TABLE t SET RETENTION 99999999999 TB"), ParseError);
  EXPECT_THROW(parse("ALTER TABLE t SET SIZE 5 MB"), ParseError);
}

TEST(SqlStatement, InsertValuesAndSelect) {
  Statement st = parse_ok(
      "INSERT INTO trades (symbol, timestamp, price, volume) VALUES "
      "('AAPL', 1000, 150.5, 100), (1, TIMESTAMP '2024-01-02 00:00:00', -2, NULL)");
  const auto& ins = std::get<InsertStmt>(st.body);
  EXPECT_EQ(ins.source, InsertStmt::Source::kValues);
  EXPECT_EQ(ins.table.name, "trades");
  EXPECT_EQ(ins.columns, (std::vector<std::string>{"symbol", "timestamp", "price", "volume"}));
  ASSERT_EQ(ins.rows.size(), 2u);
  ASSERT_EQ(ins.rows[1].size(), 4u);
  EXPECT_EQ(ins.rows[1][2]->value.int_value, -2);
  EXPECT_EQ(ins.rows[1][1]->value.kind, LiteralKind::kTimestamp);

  const auto plain = body<InsertStmt>("insert into t values (1)");
  EXPECT_TRUE(plain.columns.empty());
  const auto sel = body<InsertStmt>("INSERT INTO t (a) SELECT x FROM u");
  EXPECT_EQ(sel.source, InsertStmt::Source::kSelect);
  ASSERT_NE(sel.select, nullptr);
  EXPECT_EQ(to_string(*sel.select), "SELECT x FROM u");
  EXPECT_EQ(std::get<InsertStmt>(parse_ok("INSERT INTO t (SELECT 1)").body).source,
            InsertStmt::Source::kSelect);
  EXPECT_EQ(std::get<InsertStmt>(parse_ok("INSERT INTO t WITH a AS (SELECT 1) SELECT * FROM a").body)
                .source,
            InsertStmt::Source::kSelect);
}

TEST(SqlStatement, InsertFormatLeavesDataAlone) {
  std::string sql = "INSERT INTO trades (symbol, price) FORMAT JSONEachRow\n{\"symbol\": 'AAPL\n";
  Statement st = parse_ok(sql);
  const auto& ins = std::get<InsertStmt>(st.body);
  EXPECT_EQ(ins.source, InsertStmt::Source::kFormat);
  EXPECT_EQ(ins.format, "JSONEachRow");
  EXPECT_EQ(ins.columns.size(), 2u);
  EXPECT_EQ(sql.substr(ins.data_offset), "{\"symbol\": 'AAPL\n");

  std::string same_line = "INSERT INTO t FORMAT CSV  1,2\n3,4";
  EXPECT_EQ(same_line.substr(std::get<InsertStmt>(parse_ok(same_line).body).data_offset), "1,2\n3,4");
  std::string crlf = "INSERT INTO t FORMAT TabSeparated\r\n\tx\n";
  EXPECT_EQ(crlf.substr(std::get<InsertStmt>(parse_ok(crlf).body).data_offset), "\tx\n");
  std::string no_data = "INSERT INTO t FORMAT Native";
  EXPECT_EQ(std::get<InsertStmt>(parse_ok(no_data).body).data_offset, no_data.size());
  std::string binary = std::string("INSERT INTO t FORMAT Native\n") + std::string("\x01\x00\xff'\"", 5);
  EXPECT_EQ(std::get<InsertStmt>(parse_ok(binary).body).data_offset, 28u);

  Statement s2 = parse_ok("INSERT INTO t SETTINGS async_insert=1 FORMAT CSV\n1");
  EXPECT_EQ(s2.settings.size(), 1u);
  EXPECT_EQ(std::get<InsertStmt>(s2.body).format, "CSV");
}

TEST(SqlStatement, FormatAndSettings) {
  Statement st = parse_ok("SELECT 1 FORMAT JSONCompact");
  EXPECT_EQ(st.format, "JSONCompact");
  EXPECT_EQ(parse_ok("SHOW TABLES FORMAT TabSeparatedWithNames").format, "TabSeparatedWithNames");
  EXPECT_EQ(parse_ok("DESCRIBE t FORMAT JSON;").format, "JSON");
  Statement s = parse_ok(
      "SELECT * FROM trades LIMIT 3 SETTINGS max_threads = 8, mode = 'fast', flag = true, "
      "neg = -1.5, word = best_effort FORMAT Native");
  EXPECT_EQ(s.format, "Native");
  ASSERT_EQ(s.settings.size(), 5u);
  EXPECT_EQ(s.settings[0].name, "max_threads");
  EXPECT_EQ(s.settings[0].value.int_value, 8);
  EXPECT_EQ(s.settings[1].value.string_value, "fast");
  EXPECT_EQ(s.settings[2].value.kind, LiteralKind::kBool);
  EXPECT_DOUBLE_EQ(s.settings[3].value.double_value, -1.5);
  EXPECT_EQ(s.settings[4].value.string_value, "best_effort");
  EXPECT_EQ(parse_ok("SELECT 1 FORMAT CSV SETTINGS a = 1").settings.size(), 1u);
  EXPECT_EQ(select_of(s).limit, 3);
  // FORMAT is not taken as an alias.
  EXPECT_EQ(select_of(parse_ok("SELECT a FROM t FORMAT CSV")).from->alias, "");
  EXPECT_EQ(select_of(parse_ok("SELECT a FORMAT CSV")).select_list[0].alias, "");
  EXPECT_NE(error_of("SELECT 1 FORMAT CSV FORMAT JSON").find("expected end of statement"),
            std::string::npos);
}

// ------------------------------------------------------------------ errors

TEST(SqlErrors, MessagesNameTokenAndPosition) {
  EXPECT_EQ(error_of("SELECT price FORM trades"),
            "syntax error at line 1, column 14: expected FROM, found 'FORM'");
  EXPECT_EQ(error_of("SELECT * FROM trades WHRE price > 1"),
            "syntax error at line 1, column 22: expected WHERE, found 'WHRE'");
  EXPECT_EQ(error_of("SELECT * FROM trades\nWHERE price >"),
            "syntax error at line 2, column 14: expected an expression, found end of input");
  EXPECT_EQ(error_of(""), "syntax error at line 1, column 1: empty query");
  EXPECT_EQ(error_of("  -- nothing\n"), "syntax error at line 2, column 1: empty query");
  EXPECT_EQ(error_of(";"), "syntax error at line 1, column 1: empty query");
  EXPECT_EQ(error_of("SELECT 1 2"), "syntax error at line 1, column 10: expected end of statement, found '2'");
  EXPECT_EQ(error_of("SELECT 1; SELECT 2"),
            "syntax error at line 1, column 11: expected end of statement, found 'SELECT'");
  EXPECT_EQ(error_of("SELEC 1"),
            "syntax error at line 1, column 1: expected a statement (SELECT, INSERT, CREATE, DROP, "
            "SHOW, DESCRIBE, EXPLAIN, CHECKPOINT, ALTER), found 'SELEC'");
  EXPECT_EQ(error_of("SELECT (a + b FROM t"),
            "syntax error at line 1, column 15: expected ')', found 'FROM'");
  EXPECT_EQ(error_of("SELECT FROM t"),
            "syntax error at line 1, column 8: expected an expression, found 'FROM'");
  EXPECT_EQ(error_of("SELECT a FROM"),
            "syntax error at line 1, column 14: expected a table name, found end of input");
  EXPECT_EQ(error_of("SELECT 'abc"),
            "syntax error at line 1, column 8: unterminated string literal: missing closing quote");
  EXPECT_EQ(error_of("SELECT a ORDER x"), "syntax error at line 1, column 16: expected BY, found 'x'");
  EXPECT_EQ(error_of("SELECT order FROM t"),
            "syntax error at line 1, column 8: expected an expression, found 'order'");
  EXPECT_EQ(error_of("SELECT CASE END"), "syntax error at line 1, column 13: expected WHEN, found 'END'");
  EXPECT_EQ(error_of("SELECT a FROM t LIMIT x"),
            "syntax error at line 1, column 23: expected a non-negative integer after LIMIT, found 'x'");
  EXPECT_EQ(error_of("SELECT CAST(a AS blob)"),
            "syntax error at line 1, column 18: unknown type 'blob' (known: BIGINT, INTEGER, DOUBLE, "
            "BOOLEAN, TIMESTAMP, VARCHAR, SYMBOL)");
  EXPECT_EQ(error_of("SELECT a FROM t WHERE x IN ()"),
            "syntax error at line 1, column 29: expected an expression, found ')'");
  EXPECT_EQ(error_of("SELECT 2 * * 3"),
            "syntax error at line 1, column 12: '*' is allowed only as a select item (*, t.*) and in "
            "count(*)");
  EXPECT_EQ(error_of("SELECT TIMESTAMP '2024-02-30'"),
            "syntax error at line 1, column 18: invalid timestamp ''2024-02-30'': expected "
            "'YYYY-MM-DD[ HH:MM:SS[.fffffffff]]' between years 1678 and 2261");
  EXPECT_EQ(error_of("SELECT a FROM t WHERE x IS 1"),
            "syntax error at line 1, column 28: expected NULL, found '1'");
  EXPECT_EQ(error_of("SELECT a FROM t ORDER BY a NULLS x"),
            "syntax error at line 1, column 34: expected FIRST or LAST after NULLS, found 'x'");
  EXPECT_EQ(error_of("INSERT INTO t VALUES 1"),
            "syntax error at line 1, column 22: expected '(' before a row of VALUES, found '1'");
  EXPECT_EQ(error_of("INSERT INTO t"),
            "syntax error at line 1, column 14: expected VALUES, SELECT or FORMAT, found end of input");
  EXPECT_EQ(error_of("SHOW DATABASES"),
            "syntax error at line 1, column 6: expected TABLES, found 'DATABASES'");
}

TEST(SqlErrors, DeepNestingIsAnErrorNotACrash) {
  std::string deep(100000, '(');
  EXPECT_NE(error_of("SELECT " + deep + "1").find("nested too deeply"), std::string::npos);
  std::string minus(100000, '-');
  for (size_t i = 1; i < minus.size(); i += 2) minus[i] = ' ';
  EXPECT_NE(error_of("SELECT " + minus + "x").find("nested too deeply"), std::string::npos);
  std::string nots;
  for (int i = 0; i < 5000; ++i) nots += "NOT ";
  EXPECT_NE(error_of("SELECT " + nots + "x").find("nested too deeply"), std::string::npos);
  std::string subq;
  for (int i = 0; i < 1000; ++i) subq += "SELECT * FROM (";
  EXPECT_NE(error_of(subq).find("nested too deeply"), std::string::npos);
  std::string chain = "SELECT 1";
  for (int i = 0; i < 20000; ++i) chain += " + 1";
  EXPECT_NE(error_of(chain).find("expression too deep"), std::string::npos);
  // Chains nested in the first operand add up.
  std::string nested = "SELECT ";
  for (int k = 0; k < 10; ++k) nested += "(";
  nested += "1";
  for (int k = 0; k < 10; ++k) {
    for (int i = 0; i < 150; ++i) nested += " + 1";
    nested += ")";
  }
  EXPECT_NE(error_of(nested).find("expression too deep"), std::string::npos);
  std::string in_call = "SELECT f(";
  for (int i = 0; i < 2000; ++i) in_call += "1 + ";
  EXPECT_NE(error_of(in_call + "1)").find("expression too deep"), std::string::npos);
  // A long flat list is fine.
  std::string in = "SELECT * FROM t WHERE s IN (0";
  for (int i = 1; i < 50000; ++i) in += "," + std::to_string(i);
  EXPECT_EQ(error_of(in + ")"), "");
  // Long chains below the limit parse, print and free without trouble.
  std::string ors = "SELECT * FROM t WHERE s = 0";
  for (int i = 1; i < 900; ++i) ors += " OR s = " + std::to_string(i);
  EXPECT_EQ(round_trip(ors), ors);
  EXPECT_EQ(query(ors).where->height, 901u);
  // Reasonable nesting is fine.
  EXPECT_EQ(error_of("SELECT " + std::string(50, '(') + "1" + std::string(50, ')')), "");
}

// Truncations and byte flips of valid queries either parse or throw
// ParseError: never crash, hang or throw anything else.
TEST(SqlErrors, MutatedInputNeverCrashes) {
  const std::string queries[] = {
      "WITH a AS (SELECT symbol, avg(price) OVER (PARTITION BY symbol ORDER BY timestamp ROWS "
      "BETWEEN 5 PRECEDING AND CURRENT ROW) AS m FROM trades WHERE timestamp >= TIMESTAMP "
      "'2024-01-02 14:30:00' AND symbol IN ('A','B')) SELECT DISTINCT * FROM a t ASOF JOIN q USING "
      "(symbol, timestamp) WHERE NOT m IS NULL GROUP BY 1 HAVING count(*) > 1 ORDER BY m DESC "
      "NULLS LAST LIMIT 10 OFFSET 2 FORMAT JSON",
      "INSERT INTO t (a, b) VALUES (1, 'x'), (-2.5e3, CAST(NULL AS DOUBLE)) SETTINGS x = 1",
      "SELECT CASE x WHEN 1 THEN 'a' ELSE \"b\" END, x::int, {p:UInt32}, INTERVAL 5 MINUTE, "
      "`c` || 'd' /* c */ FROM s.t -- x\n",
  };
  std::mt19937 rng(42);
  size_t parsed = 0, failed = 0;
  for (const std::string& q : queries) {
    for (size_t n = 0; n <= q.size(); ++n) {
      try {
        parse(std::string_view(q).substr(0, n));
        ++parsed;
      } catch (const ParseError&) {
        ++failed;
      }
    }
    const std::string alphabet = "'\"`()*,.;-/:{}=<>!|%+ \n\\0aZ9";
    for (int round = 0; round < 2000; ++round) {
      std::string m = q;
      for (int k = 0; k < 3; ++k) m[rng() % m.size()] = alphabet[rng() % alphabet.size()];
      try {
        Statement st = parse(m);
        if (auto* s = std::get_if<SelectStmt>(&st.body)) {
          // What parses must print to something that parses the same way.
          std::string printed = to_string(*s);
          EXPECT_EQ(to_string(std::get<SelectStmt>(parse(printed).body)), printed) << m;
        }
        ++parsed;
      } catch (const ParseError&) {
        ++failed;
      }
    }
  }
  EXPECT_GT(parsed, 0u);
  EXPECT_GT(failed, 0u);
}

// ---------------------------------------------------------------- printing

TEST(SqlPrint, ExpressionNames) {
  EXPECT_EQ(canon("sum(volume)"), "sum(volume)");
  EXPECT_EQ(canon("SUM( volume )"), "sum(volume)");
  EXPECT_EQ(canon("price*2"), "price * 2");
  EXPECT_EQ(canon("count(*)"), "count(*)");
  EXPECT_EQ(canon("count(DISTINCT symbol)"), "count(DISTINCT symbol)");
  EXPECT_EQ(canon("T.Price"), "T.Price");
  EXPECT_EQ(canon("(a + b) * c"), "(a + b) * c");
  EXPECT_EQ(canon("a + (b * c)"), "a + b * c");
  EXPECT_EQ(canon("a - (b - c)"), "a - (b - c)");
  EXPECT_EQ(canon("(a - b) - c"), "a - b - c");
  EXPECT_EQ(canon("NOT (a AND b)"), "NOT (a AND b)");
  EXPECT_EQ(canon("(a OR b) AND c"), "(a OR b) AND c");
  EXPECT_EQ(canon("-(-x)"), "-(-x)");
  EXPECT_EQ(canon("-(-5)"), "-(-5)");
  EXPECT_EQ(canon("- (a + 1)"), "-(a + 1)");
  EXPECT_EQ(canon("a <> b"), "a != b");
  EXPECT_EQ(canon("a == b"), "a = b");
  EXPECT_EQ(canon("'it''s'"), "'it''s'");
  EXPECT_EQ(canon("2.0"), "2.0");
  EXPECT_EQ(canon("1e20"), "1e+20");
  EXPECT_EQ(canon("0.1"), "0.1");
  EXPECT_EQ(canon("x::double"), "CAST(x AS DOUBLE)");
  EXPECT_EQ(canon("case when a then 1 else 2 end"), "CASE WHEN a THEN 1 ELSE 2 END");
  EXPECT_EQ(canon("case x when 1 then 'a' end"), "CASE x WHEN 1 THEN 'a' END");
  EXPECT_EQ(canon("x not between 1 and 2"), "x NOT BETWEEN 1 AND 2");
  EXPECT_EQ(canon("x in (1,2)"), "x IN (1, 2)");
  EXPECT_EQ(canon("x is not null"), "x IS NOT NULL");
  EXPECT_EQ(canon("x not like 'a%'"), "x NOT LIKE 'a%'");
  EXPECT_EQ(canon("timestamp >= TIMESTAMP '2024-01-02T14:30:00.250Z'"),
            "timestamp >= TIMESTAMP '2024-01-02 14:30:00.250'");
  EXPECT_EQ(canon("interval 300 second"), "INTERVAL '5 minutes'");
  EXPECT_EQ(canon("\"order\" + \"Select me\""), "\"order\" + \"Select me\"");
  EXPECT_EQ(canon("lag(price, 1) over (partition by symbol order by timestamp)"),
            "lag(price, 1) OVER (PARTITION BY symbol ORDER BY timestamp)");
  EXPECT_EQ(canon("sum(v) over (order by t rows 3 preceding)"),
            "sum(v) OVER (ORDER BY t ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)");
  EXPECT_EQ(canon("x in (select 1)"), "x IN (SELECT 1)");
  EXPECT_EQ(canon("true AND NULL"), "true AND NULL");
  EXPECT_EQ(canon("{n:UInt32} + 1"), "{n:UINT32} + 1");
}

TEST(SqlPrint, QueriesRoundTrip) {
  const char* queries[] = {
      "SELECT symbol, vwap(price, volume) AS vwap, sum(volume) AS vol FROM trades GROUP BY symbol "
      "ORDER BY symbol",
      "select distinct a x, b from t where (a or b) and not c order by 1 desc nulls first limit 5, 10",
      "WITH a AS (SELECT 1 AS x), b (y) AS (SELECT x FROM a) SELECT * FROM a, b JOIN c ON b.y = c.y",
      "SELECT * FROM a CROSS JOIN b JOIN c ON b.k = c.k",
      "SELECT a FROM t UNION ALL (SELECT b FROM u LIMIT 1) UNION ALL SELECT c FROM v ORDER BY 1",
      "(SELECT a FROM t LIMIT 5) ORDER BY a",
      "(SELECT a FROM t LIMIT 5) LIMIT 2",
      "WITH x AS (SELECT 1) (WITH y AS (SELECT 2) SELECT * FROM y)",
      "SELECT t.price, q.bid FROM trades t ASOF LEFT JOIN quotes q ON t.symbol = q.symbol AND "
      "t.timestamp >= q.timestamp",
      "SELECT t.*, avg(q.bid) FROM trades AS t WINDOW JOIN quotes AS q ON t.symbol = q.symbol AND "
      "q.timestamp BETWEEN t.timestamp - INTERVAL '1 second' AND t.timestamp + INTERVAL '2 seconds'",
      "SELECT * FROM (SELECT a FROM t) AS s WHERE a IN (SELECT b FROM u) AND a > (SELECT 1)",
      "SELECT xbar(timestamp, 300000000000) AS bar, first(price) AS open, max(price) AS high "
      "FROM trades WHERE symbol = 'AAPL' GROUP BY bar HAVING count(*) > 0 ORDER BY bar",
      "SELECT a FROM t LEFT JOIN u USING (k, j) RIGHT JOIN v USING (k) FULL JOIN w ON 1 = 1",
      "SELECT - -1, -(-x), 1 - -1, 'a\\\\b', 'x\\ny' FROM system.tables",
      "SELECT a = b = c, a = (b = c), (a BETWEEN 1 AND 2) = true, NOT NOT a FROM t",
      "SELECT CAST(-5 AS BIGINT), -5::int, (-5)::int, -x::int FROM t",
  };
  for (const char* q : queries) round_trip(q);
  EXPECT_EQ(round_trip("select a x, b from t where (a or b) and not c limit 5, 10"),
            "SELECT a AS x, b FROM t WHERE (a OR b) AND NOT c LIMIT 10 OFFSET 5");
}

}  // namespace
}  // namespace zepto::sql
