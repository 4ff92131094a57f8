// Canonical text of expressions and queries (the to_string() of ast.h).
#include "zeptodb/sql/ast.h"

#include <charconv>

#include "zeptodb/sql/lexer.h"
#include "zeptodb/sql/time_literal.h"

namespace zepto::sql {
namespace {

// Binding strength for parenthesization, loosest first; mirrors the parser.
enum Prec : int {
  kPrecOr = 1,
  kPrecAnd,
  kPrecNot,
  kPrecCompare,
  kPrecAdd,
  kPrecMul,
  kPrecUnary,
  kPrecPostfix,
  kPrecPrimary,
};

int binary_prec(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr: return kPrecOr;
    case BinaryOp::kAnd: return kPrecAnd;
    case BinaryOp::kEq:
    case BinaryOp::kNe:
    case BinaryOp::kLt:
    case BinaryOp::kLe:
    case BinaryOp::kGt:
    case BinaryOp::kGe: return kPrecCompare;
    case BinaryOp::kAdd:
    case BinaryOp::kSub:
    case BinaryOp::kConcat: return kPrecAdd;
    case BinaryOp::kMul:
    case BinaryOp::kDiv:
    case BinaryOp::kMod: return kPrecMul;
  }
  return kPrecPrimary;
}

const char* binary_text(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr: return "OR";
    case BinaryOp::kAnd: return "AND";
    case BinaryOp::kEq: return "=";
    case BinaryOp::kNe: return "!=";
    case BinaryOp::kLt: return "<";
    case BinaryOp::kLe: return "<=";
    case BinaryOp::kGt: return ">";
    case BinaryOp::kGe: return ">=";
    case BinaryOp::kAdd: return "+";
    case BinaryOp::kSub: return "-";
    case BinaryOp::kConcat: return "||";
    case BinaryOp::kMul: return "*";
    case BinaryOp::kDiv: return "/";
    case BinaryOp::kMod: return "%";
  }
  return "?";
}

int prec(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kBinary: return binary_prec(e.binary_op);
    case ExprKind::kUnary: return e.unary_op == UnaryOp::kNot ? kPrecNot : kPrecUnary;
    case ExprKind::kBetween:
    case ExprKind::kInList:
    case ExprKind::kInSubquery:
    case ExprKind::kIsNull:
    case ExprKind::kLike: return kPrecCompare;
    case ExprKind::kCast: return kPrecPostfix;  // printed as CAST(...), but x::T must still nest
    case ExprKind::kLiteral:
      // A negative number binds like unary minus: (-5)::T would otherwise
      // print as -5::T, which is still the same value; keep it primary.
      return kPrecPrimary;
    default: return kPrecPrimary;
  }
}

bool is_plain_identifier(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && (digit || c == '$')))) return false;
  }
  // A reserved word must be quoted to be read back as a name.
  Lexer lex(s);
  Token t = lex.next();
  return t.kind == TokenKind::kIdent && !is_reserved(t.keyword);
}

class Printer {
 public:
  std::string out;

  void name(std::string_view s) {
    if (is_plain_identifier(s)) {
      out += s;
      return;
    }
    out += '"';
    for (char c : s) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }

  void string_literal(std::string_view s) {
    out += '\'';
    for (char c : s) {
      switch (c) {
        case '\'': out += "''"; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        case '\0': out += "\\0"; break;
        default: out += c;
      }
    }
    out += '\'';
  }

  void literal(const Literal& v) {
    switch (v.kind) {
      case LiteralKind::kNull: out += "NULL"; break;
      case LiteralKind::kBool: out += v.int_value ? "true" : "false"; break;
      case LiteralKind::kInt: out += std::to_string(v.int_value); break;
      case LiteralKind::kDouble: {
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, v.double_value);
        std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
        out += s;
        if (s.find_first_of(".eEn") == std::string_view::npos) out += ".0";
        break;
      }
      case LiteralKind::kString: string_literal(v.string_value); break;
      case LiteralKind::kTimestamp:
        out += "TIMESTAMP '";
        out += format_timestamp(v.int_value);
        out += '\'';
        break;
      case LiteralKind::kInterval:
        out += "INTERVAL '";
        out += format_interval(v.int_value);
        out += '\'';
        break;
    }
  }

  void type(const TypeName& t) { out += t.name; }

  // Prints `e`, in parentheses if it binds looser than `min_prec`.
  void expr(const Expr& e, int min_prec = 0) {
    const bool paren = prec(e) < min_prec;
    if (paren) out += '(';
    expr_body(e);
    if (paren) out += ')';
  }

  void list(const ExprList& items, size_t from = 0) {
    for (size_t i = from; i < items.size(); ++i) {
      if (i > from) out += ", ";
      expr(*items[i]);
    }
  }

  void negated(const Expr& e, const char* word) {
    out += e.negated ? " NOT " : " ";
    out += word;
  }

  void expr_body(const Expr& e) {
    switch (e.kind) {
      case ExprKind::kLiteral: literal(e.value); break;
      case ExprKind::kColumnRef:
        if (!e.qualifier.empty()) {
          qualifier(e.qualifier);
          out += '.';
        }
        name(e.name);
        break;
      case ExprKind::kStar:
        if (!e.qualifier.empty()) {
          qualifier(e.qualifier);
          out += '.';
        }
        out += '*';
        break;
      case ExprKind::kParameter:
        out += '{';
        out += e.name;
        out += ':';
        type(e.type);
        out += '}';
        break;
      case ExprKind::kUnary: {
        const Expr& child = *e.children[0];
        if (e.unary_op == UnaryOp::kNot) {
          out += "NOT ";
          expr(child, kPrecNot);
        } else {
          out += '-';
          const size_t at = out.size();
          expr(child, kPrecUnary);
          if (out.size() > at && out[at] == '-') {  // "--" would start a comment
            out.insert(at, "(");
            out += ')';
          }
        }
        break;
      }
      case ExprKind::kBinary: {
        const int p = binary_prec(e.binary_op);
        expr(*e.children[0], p);
        out += ' ';
        out += binary_text(e.binary_op);
        out += ' ';
        expr(*e.children[1], p + 1);
        break;
      }
      case ExprKind::kBetween:
        expr(*e.children[0], kPrecCompare);
        negated(e, "BETWEEN ");
        expr(*e.children[1], kPrecAdd);
        out += " AND ";
        expr(*e.children[2], kPrecAdd);
        break;
      case ExprKind::kInList:
        expr(*e.children[0], kPrecCompare);
        negated(e, "IN (");
        list(e.children, 1);
        out += ')';
        break;
      case ExprKind::kInSubquery:
        expr(*e.children[0], kPrecCompare);
        negated(e, "IN (");
        select(*e.subquery);
        out += ')';
        break;
      case ExprKind::kIsNull:
        expr(*e.children[0], kPrecCompare);
        out += e.negated ? " IS NOT NULL" : " IS NULL";
        break;
      case ExprKind::kLike:
        expr(*e.children[0], kPrecCompare);
        negated(e, "LIKE ");
        expr(*e.children[1], kPrecAdd);
        break;
      case ExprKind::kCase: {
        out += "CASE";
        size_t i = 0;
        const size_t end = e.children.size() - (e.case_has_else ? 1 : 0);
        if (e.case_has_operand) {
          out += ' ';
          expr(*e.children[i++]);
        }
        for (; i + 1 < end; i += 2) {
          out += " WHEN ";
          expr(*e.children[i]);
          out += " THEN ";
          expr(*e.children[i + 1]);
        }
        if (e.case_has_else) {
          out += " ELSE ";
          expr(*e.children.back());
        }
        out += " END";
        break;
      }
      case ExprKind::kCast:
        out += "CAST(";
        expr(*e.children[0]);
        out += " AS ";
        type(e.type);
        out += ')';
        break;
      case ExprKind::kFunction:
        if (is_plain_identifier(e.name) || e.name == "left" || e.name == "right")
          out += e.name;
        else
          name(e.name);
        out += '(';
        if (e.distinct) out += "DISTINCT ";
        list(e.children);
        out += ')';
        if (e.window) window(*e.window);
        break;
      case ExprKind::kSubquery:
        out += '(';
        select(*e.subquery);
        out += ')';
        break;
    }
  }

  void qualifier(const std::string& q) {
    size_t start = 0;
    for (;;) {
      size_t dot = q.find('.', start);
      name(std::string_view(q).substr(start, dot == std::string::npos ? dot : dot - start));
      if (dot == std::string::npos) break;
      out += '.';
      start = dot + 1;
    }
  }

  void order_list(const std::vector<OrderItem>& items) {
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += ", ";
      expr(*items[i].expr);
      if (items[i].descending) out += " DESC";
      if (items[i].nulls == NullsOrder::kFirst) out += " NULLS FIRST";
      if (items[i].nulls == NullsOrder::kLast) out += " NULLS LAST";
    }
  }

  void bound(const FrameBound& b) {
    switch (b.kind) {
      case FrameBoundKind::kUnboundedPreceding: out += "UNBOUNDED PRECEDING"; break;
      case FrameBoundKind::kUnboundedFollowing: out += "UNBOUNDED FOLLOWING"; break;
      case FrameBoundKind::kCurrentRow: out += "CURRENT ROW"; break;
      case FrameBoundKind::kPreceding:
      case FrameBoundKind::kFollowing:
        out += std::to_string(b.offset);
        out += b.kind == FrameBoundKind::kPreceding ? " PRECEDING" : " FOLLOWING";
        break;
    }
  }

  void window(const WindowSpec& w) {
    out += " OVER (";
    const size_t start = out.size();
    if (!w.partition_by.empty()) {
      out += "PARTITION BY ";
      list(w.partition_by);
    }
    if (!w.order_by.empty()) {
      if (out.size() > start) out += ' ';
      out += "ORDER BY ";
      order_list(w.order_by);
    }
    if (w.frame) {
      if (out.size() > start) out += ' ';
      out += w.frame->range ? "RANGE BETWEEN " : "ROWS BETWEEN ";
      bound(w.frame->start);
      out += " AND ";
      bound(w.frame->end);
    }
    out += ')';
  }

  void table_ref(const TableRef& t) {
    switch (t.kind) {
      case TableRefKind::kTable:
        if (!t.table.schema.empty()) {
          name(t.table.schema);
          out += '.';
        }
        name(t.table.name);
        break;
      case TableRefKind::kSubquery:
        out += '(';
        select(*t.subquery);
        out += ')';
        break;
      case TableRefKind::kJoin: {
        table_ref(*t.left);
        // Indexed by JoinType. A comma binds looser than JOIN, so a cross
        // join prints as a comma only where the parser made one of it.
        static constexpr const char* kJoin[] = {" JOIN ",          " LEFT JOIN ",  " RIGHT JOIN ",
                                                " FULL JOIN ",     " CROSS JOIN ", " ASOF JOIN ",
                                                " ASOF LEFT JOIN ", " WINDOW JOIN "};
        if (t.join_type == JoinType::kCross && t.right->kind == TableRefKind::kJoin)
          out += ", ";
        else
          out += kJoin[static_cast<int>(t.join_type)];
        table_ref(*t.right);
        if (t.on) {
          out += " ON ";
          expr(*t.on);
        } else if (!t.using_columns.empty()) {
          out += " USING (";
          for (size_t i = 0; i < t.using_columns.size(); ++i) {
            if (i > 0) out += ", ";
            name(t.using_columns[i]);
          }
          out += ')';
        }
        return;
      }
    }
    if (!t.alias.empty()) {
      out += " AS ";
      name(t.alias);
    }
  }

  void select(const SelectStmt& s) {
    if (!s.ctes.empty()) {
      out += "WITH ";
      for (size_t i = 0; i < s.ctes.size(); ++i) {
        if (i > 0) out += ", ";
        name(s.ctes[i].name);
        if (!s.ctes[i].columns.empty()) {
          out += " (";
          for (size_t k = 0; k < s.ctes[i].columns.size(); ++k) {
            if (k > 0) out += ", ";
            name(s.ctes[i].columns[k]);
          }
          out += ')';
        }
        out += " AS (";
        select(*s.ctes[i].query);
        out += ')';
      }
      out += ' ';
    }
    if (!s.union_all.empty()) {
      for (size_t i = 0; i < s.union_all.size(); ++i) {
        if (i > 0) out += " UNION ALL ";
        const SelectStmt& b = *s.union_all[i];
        const bool paren = !b.ctes.empty() || !b.union_all.empty() || !b.order_by.empty() ||
                           b.limit || b.offset || s.union_all.size() == 1;
        if (paren) out += '(';
        select(b);
        if (paren) out += ')';
      }
    } else {
      out += s.distinct ? "SELECT DISTINCT " : "SELECT ";
      for (size_t i = 0; i < s.select_list.size(); ++i) {
        if (i > 0) out += ", ";
        expr(*s.select_list[i].expr);
        if (!s.select_list[i].alias.empty()) {
          out += " AS ";
          name(s.select_list[i].alias);
        }
      }
      if (s.from) {
        out += " FROM ";
        table_ref(*s.from);
      }
      if (s.where) {
        out += " WHERE ";
        expr(*s.where);
      }
      if (!s.group_by.empty()) {
        out += " GROUP BY ";
        list(s.group_by);
      }
      if (s.having) {
        out += " HAVING ";
        expr(*s.having);
      }
    }
    if (!s.order_by.empty()) {
      out += " ORDER BY ";
      order_list(s.order_by);
    }
    if (s.limit) out += " LIMIT " + std::to_string(*s.limit);
    if (s.offset) out += " OFFSET " + std::to_string(*s.offset);
  }
};

}  // namespace

std::string to_string(const Expr& expr) {
  Printer p;
  p.expr(expr);
  return std::move(p.out);
}

std::string to_string(const SelectStmt& select) {
  Printer p;
  p.select(select);
  return std::move(p.out);
}

}  // namespace zepto::sql
