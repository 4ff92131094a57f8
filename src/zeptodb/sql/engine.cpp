#include "zeptodb/sql/engine.h"

#include <chrono>
#include <cmath>
#include <variant>

#include "zeptodb/common/error.h"
#include "zeptodb/database.h"
#include "zeptodb/exec/plan.h"
#include "zeptodb/sql/binder.h"
#include "zeptodb/sql/parser.h"

namespace zepto::sql {

using namespace exec;

namespace {

std::string pos_text(const SourcePos& p) {
  return " (line " + std::to_string(p.line) + ", column " + std::to_string(p.column) + ")";
}

// A result of one VARCHAR column per name, one row per entry of `rows`.
ResultSet text_table(const std::vector<std::string>& names, const std::vector<std::vector<std::string>>& rows) {
  ResultSet rs;
  rs.rows = rows.size();
  for (size_t c = 0; c < names.size(); ++c) {
    ColumnBuilder b(names[c], DataType::kVarchar, rows.size());
    for (const auto& r : rows) b.append_string(r[c]);
    rs.columns.push_back(b.finish());
  }
  return rs;
}

ResultSet run_select(Database& db, const SelectStmt& s, ExecContext& ctx, bool explain) {
  Binder binder(db, ctx);
  PlanPtr plan = binder.bind_query(s);
  if (explain) {
    std::string text;
    plan->explain(text, 0);
    std::vector<std::vector<std::string>> rows;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      rows.push_back({text.substr(start, end - start)});
      start = end == std::string::npos ? text.size() : end + 1;
    }
    return text_table({"plan"}, rows);
  }
  Relation rel = plan->execute(ctx);
  return make_result(rel, plan->columns, &db.symbols());
}

ResultSet create_table(Database& db, const CreateTableStmt& c) {
  std::vector<ColumnDef> defs;
  for (const auto& col : c.columns) defs.push_back({col.name, col.type.type});
  db.create_table(c.table.name, Schema(std::move(defs), c.partition_by, c.order_by), c.if_not_exists);
  return {};
}

ResultSet drop_table(Database& db, const DropTableStmt& d) {
  if (!db.drop_table(d.table.name) && !d.if_exists) db.catalog().require(d.table.name);
  return {};
}

ResultSet describe(Database& db, const DescribeStmt& d) {
  auto t = db.catalog().require(d.table.name);
  const Schema& s = t->schema();
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < s.size(); ++i) {
    const ColumnDef& c = s.column(i);
    std::string key = static_cast<int>(i) == s.symbol_index()      ? "symbol"
                      : static_cast<int>(i) == s.timestamp_index() ? "timestamp"
                                                                   : "";
    rows.push_back({c.name, std::string(type_name(c.type)), key});
  }
  return text_table({"column_name", "column_type", "key"}, rows);
}

// Column values of an INSERT, in the table column's physical type.
struct InsertColumn {
  size_t index;
  ColumnType type;
  std::vector<int64_t> i64;
  std::vector<int32_t> i32;
  std::vector<double> f64;
  std::vector<uint8_t> b8;
  std::vector<uint8_t> valid;
  bool nulls = false;
};

// Stores value `v` (row 0) into column `col`, converting to its type.
void put(Database& db, InsertColumn& col, const Vec& v, bool symbolic, const std::string& name, size_t row) {
  bool ok = v.is_valid(0);
  col.valid.push_back(ok);
  col.nulls |= !ok;
  auto fail = [&](const std::string& why) {
    throw_error(ErrorCode::kTypeMismatch, "INSERT row " + std::to_string(row + 1) + ", column '" + name + "': " + why);
  };
  Vec x = v;
  if (ok) {
    LType want = ltype_of(col.type);
    if ((symbolic || col.type == ColumnType::SYMBOL) && v.type == LType::kVarchar) {
      x = const_int(want, db.symbols().intern(v.str(0)), 1);
    } else if (v.type != want) {
      bool compatible = v.type == LType::kNull || (is_numeric(v.type) && is_numeric(want)) ||
                        (is_int_like(v.type) && is_int_like(want)) || v.type == LType::kVarchar;
      if (!compatible) fail("cannot store a " + std::string(ltype_name(v.type)) + " in a " + std::string(type_name(col.type)) + " column");
      try {
        x = cast_vec(v, want, &db.symbols());
      } catch (const Error& e) {
        fail(e.what());
      }
    }
  }
  switch (col.type) {
    case ColumnType::INT32: col.i32.push_back(ok ? static_cast<int32_t>(x.i64(0)) : 0); break;
    case ColumnType::DOUBLE: {
      double d = ok ? x.f64(0) : 0;
      if (ok && !std::isfinite(d)) fail("NaN and infinite values are not accepted");
      col.f64.push_back(d);
      break;
    }
    case ColumnType::BOOL: col.b8.push_back(ok ? x.b8(0) : 0); break;
    default: col.i64.push_back(ok ? x.i64(0) : 0);
  }
}

ResultSet insert(Database& db, const InsertStmt& ins, ExecContext& ctx) {
  if (ins.source == InsertStmt::Source::kFormat)
    throw_error(ErrorCode::kNotAvailable, "INSERT ... FORMAT " + ins.format + " needs the HTTP server; use VALUES or SELECT");
  auto table = db.catalog().require(ins.table.name);
  const Schema& schema = table->schema();
  std::vector<InsertColumn> cols;
  if (ins.columns.empty()) {
    for (size_t i = 0; i < schema.size(); ++i) cols.push_back(InsertColumn{i, schema.column(i).type, {}, {}, {}, {}, {}, false});
  } else {
    for (const auto& n : ins.columns) {
      size_t i = schema.require(n, table->name());
      for (const auto& c : cols)
        if (c.index == i) throw_error(ErrorCode::kInvalidArgument, "INSERT names column '" + n + "' twice");
      cols.push_back(InsertColumn{i, schema.column(i).type, {}, {}, {}, {}, {}, false});
    }
  }
  size_t n = 0;
  Binder binder(db, ctx);
  if (ins.source == InsertStmt::Source::kValues) {
    for (size_t r = 0; r < ins.rows.size(); ++r) {
      const ExprList& row = ins.rows[r];
      if (row.size() != cols.size())
        throw_error(ErrorCode::kInvalidArgument, "INSERT row " + std::to_string(r + 1) + " has " + std::to_string(row.size()) +
                                                     " values but " + std::to_string(cols.size()) + " columns are named" +
                                                     (row.empty() ? std::string() : pos_text(row[0]->pos)));
      for (size_t c = 0; c < cols.size(); ++c) {
        const auto& name = schema.column(cols[c].index).name;
        bool sym = static_cast<int>(cols[c].index) == schema.symbol_index();
        put(db, cols[c], binder.bind_constant(*row[c]), sym, name, r);
      }
    }
    n = ins.rows.size();
  } else {
    PlanPtr plan = binder.bind_query(*ins.select);
    if (plan->columns.size() != cols.size())
      throw_error(ErrorCode::kInvalidArgument, "INSERT ... SELECT returns " + std::to_string(plan->columns.size()) +
                                                   " columns but " + std::to_string(cols.size()) + " are needed");
    Relation rel = plan->execute(ctx);
    for (size_t c = 0; c < cols.size(); ++c) {
      Vec v = flatten(rel.cols[c]);
      if (v.type == LType::kSymbol && schema.column(cols[c].index).type != ColumnType::SYMBOL &&
          static_cast<int>(cols[c].index) != schema.symbol_index())
        v = cast_vec(v, LType::kVarchar, &db.symbols());
      const auto& name = schema.column(cols[c].index).name;
      bool sym = static_cast<int>(cols[c].index) == schema.symbol_index();
      for (size_t r = 0; r < rel.n; ++r) put(db, cols[c], slice(v, r, 1), sym, name, r);
    }
    n = rel.n;
  }
  std::vector<ColumnInput> inputs;
  for (const auto& c : cols) {
    const void* data = c.type == ColumnType::INT32    ? static_cast<const void*>(c.i32.data())
                       : c.type == ColumnType::DOUBLE ? static_cast<const void*>(c.f64.data())
                       : c.type == ColumnType::BOOL   ? static_cast<const void*>(c.b8.data())
                                                      : static_cast<const void*>(c.i64.data());
    inputs.push_back({schema.column(c.index).name, c.type, data, c.nulls ? c.valid.data() : nullptr});
  }
  ResultSet rs;
  rs.affected_rows = n == 0 ? 0 : db.ingest_columns(table->name(), inputs, n);
  return rs;
}

}  // namespace

ResultSet execute(Database& db, std::string_view sql, const ExecOptions& options) {
  auto t0 = std::chrono::steady_clock::now();
  Statement stmt = parse(sql);
  ExecContext ctx;
  ctx.options = options;
  ctx.symbols = &db.symbols();
  ResultSet rs = std::visit(
      [&](const auto& body) -> ResultSet {
        using T = std::decay_t<decltype(body)>;
        if (stmt.explain && !std::is_same_v<T, SelectStmt>)
          throw_error(ErrorCode::kNotAvailable, "EXPLAIN is available for queries (SELECT) only");
        if constexpr (std::is_same_v<T, SelectStmt>) {
          return run_select(db, body, ctx, stmt.explain);
        } else if constexpr (std::is_same_v<T, CreateTableStmt>) {
          return create_table(db, body);
        } else if constexpr (std::is_same_v<T, DropTableStmt>) {
          return drop_table(db, body);
        } else if constexpr (std::is_same_v<T, ShowTablesStmt>) {
          std::vector<std::vector<std::string>> rows;
          for (const auto& n : db.catalog().names()) rows.push_back({n});
          return text_table({"name"}, rows);
        } else if constexpr (std::is_same_v<T, DescribeStmt>) {
          return describe(db, body);
        } else if constexpr (std::is_same_v<T, InsertStmt>) {
          return insert(db, body, ctx);
        } else if constexpr (std::is_same_v<T, CheckpointStmt>) {
          ResultSet r;
          r.affected_rows = db.checkpoint().rows_written;
          return r;
        } else {
          if (body.retention)
            db.set_max_bytes(body.table.name, body.max_bytes);
          else
            db.set_ttl(body.table.name, body.ttl_ns);
          return ResultSet{};
        }
      },
      stmt.body);
  rs.rows_scanned = ctx.rows_scanned.load();
  rs.execution_time_us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count());
  db.note_query(rs.rows_scanned);
  return rs;
}

}  // namespace zepto::sql
