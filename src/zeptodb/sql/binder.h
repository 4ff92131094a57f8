// The binder: gives a parsed query its meaning and turns it into a plan.
//
// It resolves table and column names (unknown ones are errors that list
// the valid names), types every expression and inserts the implicit casts,
// looks functions up in one registry (scalar, aggregate and window
// functions), resolves symbol names through the dictionary (`symbol =
// 'AAPL'` compares ids; a name that was never seen matches nothing), and
// plans: WHERE conjuncts on a table's partition key and timestamp become
// partition pruning and a binary-searched time range of the scan, the rest
// a filter evaluated in the scan; joins push single-side conjuncts to their
// inputs where that preserves the result.
//
// Uncorrelated subqueries (scalar and IN (SELECT ...)) are run while
// binding and replaced by their values.
#pragma once

#include <string>
#include <vector>

#include "zeptodb/exec/plan.h"
#include "zeptodb/sql/ast.h"

namespace zepto {
class Database;
}

namespace zepto::sql {

class Binder {
 public:
  Binder(Database& db, exec::ExecContext& ctx);

  // The plan of a query (SELECT, UNION ALL, WITH ...).
  exec::PlanPtr bind_query(const SelectStmt& stmt);

  // A constant expression (INSERT ... VALUES): evaluated, one row.
  exec::Vec bind_constant(const Expr& e);

 private:
  struct Impl;
  Database& db_;
  exec::ExecContext& ctx_;
  std::vector<const CommonTableExpr*> ctes_;  // visible CTEs, innermost last
  int64_t now_;
};

}  // namespace zepto::sql
