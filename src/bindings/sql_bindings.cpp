// SQL in the Python module: Pipeline._execute_sql() and the QueryResult it
// returns. SQL errors never raise here: they are returned in the result's
// `error` (the Python QueryExecutor's contract); other failures (out of
// memory) raise as usual.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <vector>

#include "arrow_bindings.h"
#include "sql_bindings.h"
#include "zeptodb/common/error.h"
#include "zeptodb/database.h"
#include "zeptodb/formats/arrow_result.h"
#include "zeptodb/sql/parse_error.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace zepto::py {
namespace {

using exec::DataType;
using exec::ResultColumn;
using exec::ResultSet;

struct QueryResult {
  std::shared_ptr<const ResultSet> rs = std::make_shared<ResultSet>();
  std::string error;
  std::optional<uint32_t> error_line, error_column;
  std::string error_kind;  // "syntax", "not_found", "type", "invalid", "not_available", ""
};

const char* kind_of(ErrorCode c) {
  switch (c) {
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kTypeMismatch: return "type";
    case ErrorCode::kNotAvailable: return "not_available";
    case ErrorCode::kOutOfMemory: return "out_of_memory";
    case ErrorCode::kIOError: return "io";
    default: return "invalid";
  }
}

// One value as a Python object (TIMESTAMP as int ns since the epoch).
nb::object value(const ResultColumn& c, size_t r) {
  if (c.is_null(r)) return nb::none();
  switch (c.type) {
    case DataType::kDouble: return nb::float_(c.data<double>()[r]);
    case DataType::kBoolean: return nb::bool_(c.data<uint8_t>()[r] != 0);
    case DataType::kVarchar: {
      std::string_view s = c.string_at(r);
      return nb::steal(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace"));
    }
    default: return nb::int_(c.int_at(r));
  }
}

nb::list column_list(const ResultColumn& c) {
  if (c.is_dictionary()) {  // each distinct name decoded once; its rows share the str object
    std::vector<nb::object> names;
    names.reserve(c.dictionary->length);
    for (size_t i = 0; i < c.dictionary->length; ++i) names.push_back(value(*c.dictionary, i));
    PyObject* out = PyList_New(static_cast<Py_ssize_t>(c.length));
    if (out == nullptr) throw nb::python_error();
    for (size_t r = 0; r < c.length; ++r) {
      PyObject* v = c.is_null(r) ? Py_None : names[static_cast<size_t>(c.code_at(r))].ptr();
      Py_INCREF(v);
      PyList_SET_ITEM(out, static_cast<Py_ssize_t>(r), v);
    }
    return nb::steal<nb::list>(out);
  }
  nb::list out;
  for (size_t r = 0; r < c.length; ++r) out.append(value(c, r));
  return out;
}

// A read-only NumPy view of a result buffer; the array keeps the buffer alive.
template <typename T>
nb::object view(const exec::Buffer& buf, size_t n) {
  auto* hold = new exec::Buffer(buf);
  nb::capsule owner(hold, [](void* p) noexcept { delete static_cast<exec::Buffer*>(p); });
  size_t shape[1] = {n};
  return nb::cast(nb::ndarray<nb::numpy, const T, nb::ndim<1>>(reinterpret_cast<const T*>(buf.get()), 1, shape, owner));
}

nb::object values_array(const ResultColumn& c) {
  switch (c.type) {
    case DataType::kDouble: return view<double>(c.values, c.length);
    case DataType::kInteger: return view<int32_t>(c.values, c.length);
    case DataType::kBoolean: return view<bool>(c.values, c.length);
    case DataType::kVarchar: return column_list(c);
    default: return view<int64_t>(c.values, c.length);
  }
}

// The result for an Arrow consumer; a failed statement raises ValueError.
const ResultSet& arrow_ready(const QueryResult& q) {
  if (!q.error.empty()) throw nb::value_error(("the query failed: " + q.error).c_str());
  return *q.rs;
}

// The result as a one-batch stream sharing its buffers (the stream owns the
// ResultSet until the consumer releases it).
nb::object result_stream(const QueryResult& q) {
  std::shared_ptr<const ResultSet> rs = q.rs;
  arrow_ready(q);
  auto done = std::make_shared<bool>(false);
  return arrow_stream_capsule(formats::result_schema(*rs), [rs, done]() -> std::optional<formats::ArrowBatch> {
    if (*done) return std::nullopt;
    *done = true;
    return formats::result_batch(*rs, 0, rs->rows);
  });
}

void register_result(nb::module_& m) {
  nb::class_<QueryResult>(m, "QueryResult",
                          "The result of one SQL statement: typed columns, or an error message.")
      .def_prop_ro("column_names", [](const QueryResult& q) { return q.rs->column_names(); })
      .def_prop_ro("column_types",
                   [](const QueryResult& q) {
                     std::vector<std::string> out;
                     for (const auto& c : q.rs->columns) out.emplace_back(exec::data_type_name(c.type));
                     return out;
                   })
      .def_prop_ro("rows",
                   [](const QueryResult& q) {
                     nb::list out;
                     const ResultSet& rs = *q.rs;
                     for (size_t r = 0; r < rs.rows; ++r) {
                       nb::list row;
                       for (const auto& c : rs.columns) row.append(value(c, r));
                       out.append(row);
                     }
                     return out;
                   },
                   "Rows as lists of Python values (int, float, str, bool, None; TIMESTAMP as int ns).")
      .def_prop_ro("execution_time_us", [](const QueryResult& q) { return q.rs->execution_time_us; })
      .def_prop_ro("rows_scanned", [](const QueryResult& q) { return q.rs->rows_scanned; })
      .def_prop_ro("affected_rows", [](const QueryResult& q) { return q.rs->affected_rows; },
                   "Rows written by INSERT (0 for other statements).")
      .def_prop_ro("error", [](const QueryResult& q) { return q.error; }, "The error message; '' on success.")
      .def_prop_ro("error_kind", [](const QueryResult& q) { return q.error_kind; })
      .def_prop_ro("error_line", [](const QueryResult& q) { return q.error_line; })
      .def_prop_ro("error_column", [](const QueryResult& q) { return q.error_column; })
      .def("ok", [](const QueryResult& q) { return q.error.empty(); })
      .def("__len__", [](const QueryResult& q) { return q.rs->rows; })
      .def(
          "__arrow_c_schema__",
          [](const QueryResult& q) { return arrow_schema_capsule(formats::result_schema(arrow_ready(q))); },
          "The schema as an 'arrow_schema' capsule (TIMESTAMP as timestamp[ns, tz=UTC], VARCHAR as "
          "large_utf8).")
      .def(
          "__arrow_c_stream__", [](const QueryResult& q, nb::handle /*requested_schema*/) { return result_stream(q); },
          "requested_schema"_a = nb::none(),
          "An 'arrow_array_stream' capsule of the result as one record batch whose numeric, timestamp "
          "and string buffers are the result's own (zero copy). requested_schema is accepted and "
          "ignored. Raises ValueError if the statement failed.")
      .def(
          "__arrow_c_array__",
          [](const QueryResult& q, nb::handle /*requested_schema*/) {
            const ResultSet& rs = arrow_ready(q);
            nb::object schema = arrow_schema_capsule(formats::result_schema(rs));
            return nb::make_tuple(schema, arrow_array_capsule(formats::result_batch(rs, 0, rs.rows)));
          },
          "requested_schema"_a = nb::none(), "(schema, array) capsules of the result as one record batch (zero copy).")
      .def(
          "_column",
          [](const QueryResult& q, size_t i) {
            if (i >= q.rs->columns.size()) throw nb::index_error("column index out of range");
            const ResultColumn& c = q.rs->columns[i];
            nb::object mask = nb::none();
            if (c.has_nulls()) {
              std::vector<uint8_t> m(c.length);
              const uint8_t* v = reinterpret_cast<const uint8_t*>(c.validity.get());
              for (size_t r = 0; r < c.length; ++r) m[r] = v[r] == 0;
              mask = view<bool>(exec::make_buffer(std::move(m)), c.length);
            }
            return nb::make_tuple(values_array(c), mask);
          },
          "i"_a, "(values, null mask or None) of column i: a zero-copy NumPy view where the layout allows.")
      .def("_column_list", [](const QueryResult& q, size_t i) {
        if (i >= q.rs->columns.size()) throw nb::index_error("column index out of range");
        return column_list(q.rs->columns[i]);
      })
      .def("__repr__", [](const QueryResult& q) {
        if (!q.error.empty()) return "QueryResult(error=" + q.error + ")";
        return "QueryResult(" + std::to_string(q.rs->rows) + " rows)\n" + q.rs->to_string(20);
      });
}

}  // namespace

void register_sql(nb::module_& m) {
  register_result(m);
  nb::handle cls = m.attr("Pipeline");
  nb::object fn = nb::cpp_function(
      [](Database& db, const std::string& sql, size_t threads, size_t row_threshold) {
        QueryResult q;
        exec::ExecOptions opts;
        opts.threads = threads == 0 ? 1 : threads;
        opts.row_threshold = row_threshold;
        {
          nb::gil_scoped_release release;
          try {
            q.rs = std::make_shared<const ResultSet>(db.execute(sql, opts));
          } catch (const sql::ParseError& e) {
            q.error = e.what();
            q.error_kind = "syntax";
            q.error_line = e.line();
            q.error_column = e.column();
          } catch (const Error& e) {
            if (e.code() == ErrorCode::kOutOfMemory) throw;
            q.error = e.what();
            q.error_kind = kind_of(e.code());
          }
        }
        return q;
      },
      nb::scope(cls), nb::name("_execute_sql"), nb::is_method(), "sql"_a, "threads"_a = 1,
      "row_threshold"_a = 100'000, "Run one SQL statement; errors are returned in the result, not raised.");
  nb::setattr(cls, "_execute_sql", fn);
}

}  // namespace zepto::py
