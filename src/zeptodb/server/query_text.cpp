#include "zeptodb/server/query_text.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "zeptodb/common/error.h"
#include "zeptodb/common/strings.h"
#include "zeptodb/sql/lexer.h"

namespace zepto::server {

namespace {

using sql::Token;
using sql::TokenKind;

std::string strip_wrapper(std::string type, std::string_view wrapper, bool* found) {
  if (type.size() > wrapper.size() + 2 && to_lower(type.substr(0, wrapper.size())) == to_lower(wrapper) &&
      type[wrapper.size()] == '(' && type.back() == ')') {
    *found = true;
    return type.substr(wrapper.size() + 1, type.size() - wrapper.size() - 2);
  }
  return type;
}

// The literal for `value` of ClickHouse type `type`.
std::string literal(const std::string& name, std::string type, const std::string& value) {
  type.erase(std::remove_if(type.begin(), type.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }),
             type.end());
  bool nullable = false, low_card = false;
  type = strip_wrapper(type, "LowCardinality", &low_card);
  type = strip_wrapper(type, "Nullable", &nullable);
  if (value == "\\N" && nullable) return "NULL";
  std::string t = to_lower(type);
  auto fail = [&](const std::string& why) -> std::string {
    throw_error(ErrorCode::kInvalidArgument,
                "query parameter '" + name + "' of type " + type + ": value '" + value.substr(0, 64) + "' " + why);
  };
  if (t == "string" || t.rfind("fixedstring", 0) == 0 || t == "uuid") return sql_string_literal(value);
  if (t == "identifier") {
    std::string q = "\"";
    for (char c : value) {
      if (c == '"') q += '"';
      q += c;
    }
    return q + "\"";
  }
  if (t == "bool" || t == "boolean") {
    std::string v = to_lower(value);
    if (v == "true" || v == "1") return "TRUE";
    if (v == "false" || v == "0") return "FALSE";
    return fail("is not a Bool");
  }
  if (t.rfind("int", 0) == 0 || t.rfind("uint", 0) == 0) {
    size_t i = (!value.empty() && (value[0] == '-' || value[0] == '+')) ? 1 : 0;
    if (i >= value.size() || !std::all_of(value.begin() + static_cast<long>(i), value.end(), ::isdigit))
      return fail("is not an integer");
    return value;
  }
  if (t.rfind("float", 0) == 0 || t.rfind("decimal", 0) == 0 || t == "double") {
    if (value.empty() || value.find_first_not_of("0123456789+-.eE") != std::string::npos) {
      std::string v = to_lower(value);
      if (v == "nan" || v == "inf" || v == "+inf" || v == "-inf") return "CAST('" + v + "' AS DOUBLE)";
      return fail("is not a number");
    }
    return value;
  }
  if (t.rfind("datetime", 0) == 0 || t == "date" || t == "date32" || t == "timestamp") {
    if (!value.empty() && std::all_of(value.begin(), value.end(), ::isdigit)) {
      // Unix time in seconds, as ClickHouse reads a number for a DateTime.
      return "CAST(" + value + "000000000 AS TIMESTAMP)";
    }
    return "TIMESTAMP " + sql_string_literal(value);
  }
  return fail("cannot be bound (supported types: String, integers, floats, Bool, Date, DateTime, DateTime64, "
              "Identifier, Nullable of these)");
}

}  // namespace

std::string sql_string_literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

std::string rewrite_query(std::string_view sql_text, const std::map<std::string, std::string>& params,
                          const ServerConstants& k) {
  sql::Lexer lexer(sql_text);
  std::vector<Token> tokens;
  for (Token t = lexer.next(); t.kind != TokenKind::kEnd; t = lexer.next()) tokens.push_back(t);
  std::string out;
  size_t copied = 0;
  auto replace = [&](size_t from, size_t to, const std::string& text) {
    out.append(sql_text.substr(copied, from - copied));
    out += text;
    copied = to;
  };
  auto text = [&](size_t i) { return lexer.text(tokens[i]); };
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    // {name:Type}
    if (t.kind == TokenKind::kLBrace && i + 3 < tokens.size() &&
        (tokens[i + 1].kind == TokenKind::kIdent || tokens[i + 1].kind == TokenKind::kQuotedIdent) &&
        tokens[i + 2].kind == TokenKind::kColon) {
      size_t j = i + 3;
      int depth = 0;
      while (j < tokens.size() && !(depth == 0 && tokens[j].kind == TokenKind::kRBrace)) {
        if (tokens[j].kind == TokenKind::kLParen) ++depth;
        if (tokens[j].kind == TokenKind::kRParen) --depth;
        ++j;
      }
      if (j >= tokens.size()) continue;
      std::string name(text(i + 1));
      size_t type_from = tokens[i + 3].offset, type_to = tokens[j].offset;
      std::string type(sql_text.substr(type_from, type_to - type_from));
      auto it = params.find(name);
      if (it == params.end())
        throw_error(ErrorCode::kInvalidArgument, "Substitution `" + name + "` is not set (pass it as param_" + name + ")");
      replace(t.offset, tokens[j].offset + tokens[j].length, literal(name, type, it->second));
      i = j;
      continue;
    }
    // version() and friends
    if (t.kind == TokenKind::kIdent && i + 2 < tokens.size() && tokens[i + 1].kind == TokenKind::kLParen &&
        tokens[i + 2].kind == TokenKind::kRParen) {
      bool qualified = i > 0 && tokens[i - 1].kind == TokenKind::kDot;
      std::string fn = to_lower(text(i));
      const std::string* value = nullptr;
      std::string shown;
      if (fn == "version") value = &k.version, shown = "version()";
      else if (fn == "timezone" || fn == "servertimezone") value = &k.timezone, shown = std::string(text(i)) + "()";
      else if (fn == "currentdatabase" || fn == "database") value = &k.database, shown = std::string(text(i)) + "()";
      else if (fn == "currentuser" || fn == "user") value = &k.user, shown = std::string(text(i)) + "()";
      else if (fn == "hostname") value = &k.hostname, shown = std::string(text(i)) + "()";
      if (!value || qualified) continue;
      std::string lit = sql_string_literal(*value);
      // Named like ClickHouse when it stands alone in the select list.
      bool starts = i > 0 && (tokens[i - 1].kind == TokenKind::kComma ||
                              (tokens[i - 1].kind == TokenKind::kIdent && to_lower(text(i - 1)) == "select"));
      bool ends = i + 3 >= tokens.size() || tokens[i + 3].kind == TokenKind::kComma ||
                  tokens[i + 3].kind == TokenKind::kSemicolon ||
                  (tokens[i + 3].kind == TokenKind::kIdent &&
                   (to_lower(text(i + 3)) == "from" || to_lower(text(i + 3)) == "format" || to_lower(text(i + 3)) == "settings"));
      if (starts && ends) lit += " AS \"" + shown + "\"";
      replace(t.offset, tokens[i + 2].offset + tokens[i + 2].length, lit);
      i += 2;
    }
  }
  out.append(sql_text.substr(copied));
  return out;
}

}  // namespace zepto::server
