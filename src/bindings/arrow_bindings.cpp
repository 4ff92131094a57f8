// The Arrow PyCapsule protocol: exports hand their data to any consumer
// (pyarrow, Polars, DuckDB, pandas) as capsules named "arrow_schema",
// "arrow_array" and "arrow_array_stream"; Pipeline._ingest_arrow() takes any
// object that offers __arrow_c_stream__ or __arrow_c_array__. A capsule that
// is never consumed releases its struct in its destructor.
#include "arrow_bindings.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "zeptodb/database.h"
#include "zeptodb/formats/arrow_export.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace zepto::py {
namespace {

using formats::SymbolExport;
using formats::TableExport;

// A capsule owning a heap-allocated Arrow struct `T` named `name`: the
// destructor releases the struct unless a consumer moved it out.
template <typename T>
nb::object capsule(std::unique_ptr<T> s, const char* name) {
  PyObject* cap = PyCapsule_New(s.get(), name, [](PyObject* c) {
    auto* p = static_cast<T*>(PyCapsule_GetPointer(c, PyCapsule_GetName(c)));
    if (p == nullptr) {
      PyErr_Clear();
      return;
    }
    if (p->release != nullptr) p->release(p);
    delete p;
  });
  if (cap == nullptr) throw nb::python_error();
  s.release();
  return nb::steal(cap);
}

// Moves the struct out of a producer's capsule (the capsule's destructor
// then has nothing to release).
template <typename T>
T take(nb::handle cap, const char* name) {
  auto* p = static_cast<T*>(PyCapsule_GetPointer(cap.ptr(), name));
  if (p == nullptr) throw nb::python_error();
  if (p->release == nullptr)
    throw nb::value_error((std::string("the ") + name + " capsule was already consumed").c_str());
  T out = *p;
  p->release = nullptr;
  return out;
}

SymbolExport symbol_mode(const std::string& mode) {
  if (mode == "auto") return SymbolExport::kAuto;
  if (mode == "dictionary") return SymbolExport::kDictionary;
  if (mode == "utf8" || mode == "string") return SymbolExport::kUtf8;
  if (mode == "id") return SymbolExport::kId;
  throw nb::value_error(("symbols must be 'auto', 'dictionary', 'utf8' or 'id', got '" + mode + "'").c_str());
}

std::string schema_repr(const TableExport& e) {
  std::string s;
  for (const auto& c : e.schema()) s += (s.empty() ? "" : ", ") + c.name + ": " + formats::arrow_format(c.kind);
  return s;
}

}  // namespace

nb::object arrow_schema_capsule(const std::vector<formats::ArrowColumn>& columns) {
  auto s = std::make_unique<ArrowSchema>();
  formats::export_schema(columns, s.get());
  return capsule(std::move(s), "arrow_schema");
}

nb::object arrow_array_capsule(const formats::ArrowBatch& batch) {
  auto a = std::make_unique<ArrowArray>();
  {
    nb::gil_scoped_release release;
    formats::export_batch(batch, a.get());
  }
  return capsule(std::move(a), "arrow_array");
}

nb::object arrow_stream_capsule(std::vector<formats::ArrowColumn> columns, formats::BatchSource next) {
  auto s = std::make_unique<ArrowArrayStream>();
  formats::export_stream(std::move(columns), std::move(next), s.get());
  return capsule(std::move(s), "arrow_array_stream");
}

void register_arrow(nb::module_& m) {
  nb::class_<TableExport>(m, "ArrowExport",
                          "A point-in-time export of a table for Arrow consumers (the Arrow PyCapsule "
                          "protocol): pyarrow.table(x), polars.from_arrow(x), duckdb.from_arrow(x) read "
                          "its numeric and timestamp columns without a copy. One record batch per symbol.")
      .def(
          "__arrow_c_schema__", [](const TableExport& e) { return arrow_schema_capsule(e.schema()); },
          "The schema as an 'arrow_schema' capsule.")
      .def(
          "__arrow_c_stream__",
          [](std::shared_ptr<TableExport> e, nb::handle /*requested_schema*/) {
            auto s = std::make_unique<ArrowArrayStream>();
            formats::export_stream(std::move(e), s.get());
            return capsule(std::move(s), "arrow_array_stream");
          },
          "requested_schema"_a = nb::none(),
          "An 'arrow_array_stream' capsule yielding one record batch per symbol, built lazily. "
          "requested_schema is accepted and ignored (the data keeps its own types).")
      .def(
          "__arrow_c_array__",
          [](const TableExport& e, nb::handle /*requested_schema*/) {
            formats::ArrowBatch batch;
            {
              nb::gil_scoped_release release;  // concatenates when the export holds several symbols
              batch = e.combined();
            }
            nb::object arr = arrow_array_capsule(batch);
            return nb::make_tuple(arrow_schema_capsule(e.schema()), arr);
          },
          "requested_schema"_a = nb::none(),
          "(schema, array) capsules of all rows as one record batch (zero copy when the export holds "
          "at most one symbol, else the symbols' rows are concatenated).")
      .def_prop_ro("num_rows", &TableExport::rows)
      .def_prop_ro("num_batches", &TableExport::batch_count)
      .def_prop_ro(
          "column_names",
          [](const TableExport& e) {
            std::vector<std::string> names;
            for (const auto& c : e.schema()) names.push_back(c.name);
            return names;
          })
      .def("__len__", &TableExport::rows)
      .def("__repr__", [](const TableExport& e) {
        return "ArrowExport(" + std::to_string(e.rows()) + " rows in " + std::to_string(e.batch_count()) +
               " batches; " + schema_repr(e) + ")";
      });

  nb::handle cls = m.attr("Pipeline");
  nb::setattr(
      cls, "_export_arrow",
      nb::cpp_function(
          [](Database& db, const std::string& table, std::optional<std::vector<int64_t>> symbols,
             std::vector<std::string> columns, const std::string& mode) {
            formats::TableExportOptions opts{std::move(columns), symbol_mode(mode)};
            nb::gil_scoped_release release;
            return std::const_pointer_cast<TableExport>(db.export_arrow(table, symbols, opts));
          },
          nb::scope(cls), nb::name("_export_arrow"), nb::is_method(), "table"_a, "symbols"_a,
          "columns"_a, "symbol_mode"_a = "auto",
          "Export `table` (partitions of `symbols`, or all if None) as an ArrowExport."));
  nb::setattr(
      cls, "_ingest_arrow",
      nb::cpp_function(
          [](Database& db, const std::string& table, nb::handle obj,
             std::vector<std::pair<std::string, std::string>> columns,
             std::vector<std::pair<std::string, double>> scales, bool reject_nulls) -> size_t {
            formats::ArrowImportOptions opts{std::move(columns), std::move(scales), reject_nulls};
            if (nb::hasattr(obj, "__arrow_c_stream__")) {
              nb::object cap = obj.attr("__arrow_c_stream__")();
              ArrowArrayStream stream = take<ArrowArrayStream>(cap, "arrow_array_stream");
              nb::gil_scoped_release release;
              return db.ingest_arrow(table, &stream, opts);
            }
            if (nb::hasattr(obj, "__arrow_c_array__")) {
              nb::object pair = obj.attr("__arrow_c_array__")();
              if (!PyTuple_Check(pair.ptr()) || PyTuple_Size(pair.ptr()) != 2)
                throw nb::type_error("__arrow_c_array__ must return a (schema, array) tuple of capsules");
              ArrowSchema schema = take<ArrowSchema>(nb::borrow(PyTuple_GET_ITEM(pair.ptr(), 0)), "arrow_schema");
              ArrowArray array;
              try {
                array = take<ArrowArray>(nb::borrow(PyTuple_GET_ITEM(pair.ptr(), 1)), "arrow_array");
              } catch (...) {
                schema.release(&schema);
                throw;
              }
              nb::gil_scoped_release release;
              return db.ingest_arrow(table, &schema, &array, opts);
            }
            throw nb::type_error(
                ("expected Arrow data: an object with __arrow_c_stream__ or __arrow_c_array__ (a pyarrow "
                 "Table/RecordBatch/RecordBatchReader, a Polars DataFrame, a DuckDB relation, a pandas "
                 ">= 2.2 DataFrame), got " +
                 std::string(nb::type_name(obj.type()).c_str()))
                    .c_str());
          },
          nb::scope(cls), nb::name("_ingest_arrow"), nb::is_method(), "table"_a, "data"_a, "columns"_a,
          "scales"_a, "reject_nulls"_a = false, "Store Arrow data as one atomic batch; returns the row count."));
  nb::setattr(cls, "_partition_keys",
              nb::cpp_function(
                  [](Database& db, const std::string& table) {
                    std::vector<int64_t> keys;
                    for (const Partition* p : db.catalog().require(table)->partitions())
                      if (p->rows() > 0) keys.push_back(p->key());
                    return keys;
                  },
                  nb::scope(cls), nb::name("_partition_keys"), nb::is_method(), "table"_a,
                  "The symbol ids (partition keys) of `table` that have rows, in creation order."));
}

}  // namespace zepto::py
