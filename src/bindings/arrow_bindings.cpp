// The Arrow PyCapsule protocol: exports hand their data to any consumer
// (pyarrow, Polars, DuckDB, pandas) as capsules named "arrow_schema",
// "arrow_array" and "arrow_array_stream"; Pipeline._ingest_arrow() takes any
// object that offers __arrow_c_stream__ or __arrow_c_array__. A capsule that
// is never consumed releases its struct in its destructor.
#include "arrow_bindings.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
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

// NumPy columns described as one Arrow record batch over their own buffers
// (no copy), so that NumPy and pandas input go through the same import as
// Arrow input. The arrays stay the caller's; the structs live as long as
// this object and their release callbacks free nothing.
class BorrowedBatch {
 public:
  using Array1D = nb::ndarray<nb::ro, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

  // A column `name` of `length` values of Arrow type `format` in `data`
  // (for "b": bits, least significant first); with `names`, `data` holds
  // indices into them (a dictionary array).
  void add(const std::string& name, const std::string& format, size_t length, const Array1D& data,
           const std::optional<std::vector<std::string>>& names) {
    if (!columns_.empty() && length != length_)
      throw nb::value_error(("length mismatch: '" + columns_.front()->name + "' has " + std::to_string(length_) +
                             " values but '" + name + "' has " + std::to_string(length))
                                .c_str());
    length_ = length;
    const size_t bits = format == "b" ? 1 : 8 * value_width(format, name);
    if (data.size() * data.itemsize() * 8 < length * bits)
      throw nb::value_error(("column '" + name + "': the buffer is shorter than " + std::to_string(length) +
                             " values of Arrow type '" + format + "'")
                                .c_str());
    auto c = std::make_unique<Column>();
    c->name = name;
    c->format = format;
    c->data = data;  // holds the buffer (also a copy nanobind may have made)
    c->buffers[1] = data.data();
    describe(c->schema, c->name.c_str(), c->format.c_str(), 0, nullptr);
    borrow(c->array, static_cast<int64_t>(length), 2, c->buffers, 0, nullptr);
    if (names) {
      c->offsets.reserve(names->size() + 1);
      c->offsets.push_back(0);
      for (const auto& n : *names) {
        c->chars += n;
        if (c->chars.size() > static_cast<size_t>(INT32_MAX))
          throw nb::value_error(("column '" + name + "': the symbol names exceed 2 GB").c_str());
        c->offsets.push_back(static_cast<int32_t>(c->chars.size()));
      }
      c->dict_buffers[1] = c->offsets.data();
      c->dict_buffers[2] = c->chars.data();
      describe(c->dict_schema, "", "u", 0, nullptr);
      borrow(c->dict_array, static_cast<int64_t>(names->size()), 3, c->dict_buffers, 0, nullptr);
      c->schema.dictionary = &c->dict_schema;
      c->array.dictionary = &c->dict_array;
    }
    columns_.push_back(std::move(c));
  }

  // The record batch; `schema` and `array` are then moved into the import.
  void finish(ArrowSchema* schema, ArrowArray* array) {
    for (auto& c : columns_) {
      child_schemas_.push_back(&c->schema);
      child_arrays_.push_back(&c->array);
    }
    describe(*schema, "", "+s", static_cast<int64_t>(columns_.size()), child_schemas_.data());
    borrow(*array, static_cast<int64_t>(length_), 1, parent_buffers_, static_cast<int64_t>(columns_.size()),
           child_arrays_.data());
  }

 private:
  struct Column {
    std::string name, format;
    Array1D data;
    ArrowSchema schema{}, dict_schema{};
    ArrowArray array{}, dict_array{};
    const void* buffers[2] = {nullptr, nullptr};
    const void* dict_buffers[3] = {nullptr, nullptr, nullptr};
    std::vector<int32_t> offsets;  // of the dictionary's strings
    std::string chars;
  };

  static size_t value_width(const std::string& f, const std::string& name) {
    if (f == "c" || f == "C") return 1;
    if (f == "s" || f == "S") return 2;
    if (f == "i" || f == "I" || f == "f") return 4;
    if (f == "l" || f == "L" || f == "g" || (f.size() == 4 && f.compare(0, 2, "ts") == 0)) return 8;
    throw nb::type_error(("column '" + name + "': no NumPy layout for Arrow type '" + f + "'").c_str());
  }

  static void describe(ArrowSchema& s, const char* name, const char* format, int64_t n, ArrowSchema** children) {
    s = ArrowSchema{};
    s.format = format;
    s.name = name;
    s.n_children = n;
    s.children = children;
    s.release = [](ArrowSchema* x) { x->release = nullptr; };
  }

  static void borrow(ArrowArray& a, int64_t length, int64_t n_buffers, const void** buffers, int64_t n,
                     ArrowArray** children) {
    a = ArrowArray{};
    a.length = length;
    a.n_buffers = n_buffers;
    a.buffers = buffers;
    a.n_children = n;
    a.children = children;
    a.release = [](ArrowArray* x) { x->release = nullptr; };
  }

  std::vector<std::unique_ptr<Column>> columns_;
  std::vector<ArrowSchema*> child_schemas_;
  std::vector<ArrowArray*> child_arrays_;
  const void* parent_buffers_[1] = {nullptr};
  size_t length_ = 0;
};

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
  nb::setattr(
      cls, "_ingest_arrays",
      nb::cpp_function(
          [](Database& db, const std::string& table, nb::list columns,
             std::vector<std::pair<std::string, double>> scales) -> size_t {
            BorrowedBatch batch;
            formats::ArrowImportOptions opts{{}, std::move(scales), true, true};
            for (nb::handle item : columns) {
              auto [src, dst, format, length, data, names] =
                  nb::cast<std::tuple<std::string, std::string, std::string, size_t, BorrowedBatch::Array1D,
                                      std::optional<std::vector<std::string>>>>(item);
              batch.add(src, format, length, data, names);
              opts.columns.emplace_back(src, dst);
            }
            ArrowSchema schema;
            ArrowArray array;
            batch.finish(&schema, &array);
            nb::gil_scoped_release release;
            return db.ingest_arrow(table, &schema, &array, opts);
          },
          nb::scope(cls), nb::name("_ingest_arrays"), nb::is_method(), "table"_a, "columns"_a, "scales"_a,
          "Store NumPy columns as one atomic batch through the Arrow import: columns are (source name, "
          "table column, Arrow format, length, buffer, symbol names or None) tuples; NULLs and NaT are "
          "rejected. Returns the row count."));
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
