// The nanobind module zeptodb._core: the Database façade as `Pipeline`.
// Argument normalization that is easier in Python (NumPy dtype coercion,
// pandas/Polars inputs) lives in python/zeptodb; this file takes arrays that
// are already contiguous and of the column's physical dtype.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include <cmath>
#include <limits>

#include "arrow_bindings.h"
#include "numpy_bridge.h"
#include "sql_bindings.h"
#include "zeptodb/common/error.h"
#include "zeptodb/common/recycled_memory.h"
#include "zeptodb/database.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace zepto::py {
namespace {

using Array1D = nb::ndarray<nb::ro, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

PyObject* g_not_available = nullptr;

[[noreturn]] void raise(PyObject* type, const std::string& msg) {
  PyErr_SetString(type, msg.c_str());
  throw nb::python_error();
}

int64_t to_i64(nb::handle h, const char* what) {
  if (PyLong_Check(h.ptr()) && !PyBool_Check(h.ptr())) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(h.ptr(), &overflow);
    if (overflow != 0) raise(PyExc_OverflowError, std::string(what) + " does not fit in a 64-bit integer");
    return v;
  }
  if (!PyFloat_Check(h.ptr()) && !PyBool_Check(h.ptr()) && PyIndex_Check(h.ptr())) {  // NumPy ints
    nb::object idx = nb::steal(PyNumber_Index(h.ptr()));
    if (!idx.is_valid()) throw nb::python_error();
    return to_i64(idx, what);
  }
  raise(PyExc_TypeError, std::string(what) + " must be an integer, got " +
                             nb::type_name(h.type()).c_str());
}

int64_t opt_i64(nb::handle h, const char* what, int64_t dflt) {
  return h.is_none() ? dflt : to_i64(h, what);
}

// A symbol given as an int id or a str name. With `intern`, new names are
// added; otherwise an unknown name gives nullopt.
std::optional<int64_t> to_symbol(Database& db, nb::handle h, bool intern) {
  if (PyUnicode_Check(h.ptr())) {
    Py_ssize_t len = 0;
    const char* s = PyUnicode_AsUTF8AndSize(h.ptr(), &len);
    if (s == nullptr) throw nb::python_error();
    std::string_view name(s, static_cast<size_t>(len));
    if (intern) return db.symbols().intern(name);
    return db.symbols().find(name);
  }
  if (!PyBool_Check(h.ptr()) &&
      (PyLong_Check(h.ptr()) || (!PyFloat_Check(h.ptr()) && PyIndex_Check(h.ptr()))))
    return to_i64(h, "symbol");
  raise(PyExc_TypeError, std::string("symbol must be an int id or a str name, got ") +
                             nb::type_name(h.type()).c_str());
}

ColumnType array_type(const Array1D& a, const std::string& name) {
  auto dt = a.dtype();
  if (dt == nb::dtype<int64_t>()) return ColumnType::INT64;
  if (dt == nb::dtype<int32_t>()) return ColumnType::INT32;
  if (dt == nb::dtype<double>()) return ColumnType::DOUBLE;
  if (dt == nb::dtype<bool>()) return ColumnType::BOOL;
  raise(PyExc_TypeError, "column '" + name + "': unsupported array dtype (expected int64, int32, float64 or bool)");
}

std::string repr_stats(const DatabaseStats& s) {
  return "Stats(ticks_ingested=" + std::to_string(s.ticks_ingested) +
         ", ticks_stored=" + std::to_string(s.ticks_stored) +
         ", ticks_dropped=" + std::to_string(s.ticks_dropped) +
         ", queries_executed=" + std::to_string(s.queries_executed) +
         ", total_rows_scanned=" + std::to_string(s.total_rows_scanned) +
         ", partitions_created=" + std::to_string(s.partitions_created) +
         ", last_ingest_latency_ns=" + std::to_string(s.last_ingest_latency_ns) +
         ", memory_bytes=" + std::to_string(s.memory_bytes) + ")";
}

std::vector<ColumnDef> parse_columns(nb::handle columns) {
  std::vector<ColumnDef> defs;
  nb::object items = nb::borrow(columns);
  if (PyDict_Check(columns.ptr())) items = nb::steal(PyDict_Items(columns.ptr()));
  for (nb::handle item : items) {
    nb::tuple pair = nb::cast<nb::tuple>(item);
    if (pair.size() != 2) raise(PyExc_ValueError, "each column must be a (name, type) pair");
    std::string name = nb::cast<std::string>(pair[0]);
    std::string tname = nb::cast<std::string>(pair[1]);
    auto t = parse_type_name(tname);
    if (!t)
      raise(PyExc_ValueError, "column '" + name + "': unknown type '" + tname +
                                  "' (use BIGINT, INTEGER, DOUBLE, BOOLEAN, TIMESTAMP or SYMBOL)");
    defs.push_back({name, *t});
  }
  return defs;
}

}  // namespace
}  // namespace zepto::py

NB_MODULE(_core, m) {
  using namespace zepto;
  using namespace zepto::py;
  m.doc() = "ZeptoDB engine (C++): the Pipeline façade over the columnar tick store.";

  g_not_available = PyErr_NewExceptionWithDoc(
      "zeptodb._core.NotAvailableError",
      "A feature that exists in the API but is not available in this build yet.",
      PyExc_RuntimeError, nullptr);
  m.attr("NotAvailableError") = nb::borrow(g_not_available);

  m.def("trim_memory", &trim_recycled_memory, nb::call_guard<nb::gil_scoped_release>(),
        "Free the recycled buffers of past results and imports (kept for the next ones); returns their bytes.");

  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      PyObject* type = PyExc_RuntimeError;
      switch (e.code()) {
        case ErrorCode::kInvalidArgument:
        case ErrorCode::kAlreadyExists: type = PyExc_ValueError; break;
        case ErrorCode::kTypeMismatch: type = PyExc_TypeError; break;
        case ErrorCode::kNotFound: type = PyExc_KeyError; break;
        case ErrorCode::kNotAvailable: type = g_not_available; break;
        case ErrorCode::kOutOfMemory: type = PyExc_MemoryError; break;
        case ErrorCode::kIOError: type = PyExc_OSError; break;
        case ErrorCode::kInternal: type = PyExc_RuntimeError; break;
      }
      PyErr_SetString(type, e.what());
    }
  });

  nb::enum_<StorageMode>(m, "StorageMode", "Where a pipeline keeps its data.")
      .value("PURE_IN_MEMORY", StorageMode::PURE_IN_MEMORY)
      .value("TIERED", StorageMode::TIERED)
      .value("PURE_ON_DISK", StorageMode::PURE_ON_DISK);

  nb::class_<DatabaseConfig>(m, "PipelineConfig", "Settings of a Pipeline.")
      .def(
          "__init__",
          [](DatabaseConfig* self, size_t arena_size, size_t drain_batch_size, size_t queue_capacity,
             size_t max_memory, StorageMode storage_mode, std::string data_dir, const std::string& fsync,
             uint32_t fsync_interval_ms, uint32_t checkpoint_interval_ms) {
            auto* c = new (self) DatabaseConfig{};
            c->arena_size = arena_size;
            c->drain_batch_size = drain_batch_size;
            c->queue_capacity = queue_capacity;
            c->max_memory = max_memory;
            c->storage_mode = storage_mode;
            c->data_dir = std::move(data_dir);
            c->fsync = persist::parse_fsync_policy(fsync);
            c->fsync_interval_ms = fsync_interval_ms;
            c->checkpoint_interval_ms = checkpoint_interval_ms;
          },
          "arena_size"_a = 32 * 1024 * 1024, "drain_batch_size"_a = 256,
          "queue_capacity"_a = 1 << 16, "max_memory"_a = 0,
          "storage_mode"_a = StorageMode::PURE_IN_MEMORY, "data_dir"_a = "", "fsync"_a = "batch",
          "fsync_interval_ms"_a = 10, "checkpoint_interval_ms"_a = 10'000)
      .def_rw("arena_size", &DatabaseConfig::arena_size,
              "Bytes reserved for a new partition up front (a sizing hint, never a cap).")
      .def_rw("drain_batch_size", &DatabaseConfig::drain_batch_size,
              "Ticks the drain thread stores per step.")
      .def_rw("queue_capacity", &DatabaseConfig::queue_capacity,
              "Capacity of the single-tick ring buffer (rounded up to a power of two).")
      .def_rw("max_memory", &DatabaseConfig::max_memory,
              "Limit on column storage in bytes; 0 means no limit.")
      .def_rw("storage_mode", &DatabaseConfig::storage_mode)
      .def_rw("data_dir", &DatabaseConfig::data_dir, "Directory of a TIERED or PURE_ON_DISK pipeline's data.")
      .def_prop_rw(
          "fsync", [](const DatabaseConfig& c) { return std::string(persist::fsync_policy_name(c.fsync)); },
          [](DatabaseConfig& c, const std::string& v) { c.fsync = persist::parse_fsync_policy(v); },
          "TIERED, PURE_ON_DISK: 'always' (acknowledged means on disk), 'batch' (group commit every "
          "fsync_interval_ms, the default) or 'none'.")
      .def_rw("fsync_interval_ms", &DatabaseConfig::fsync_interval_ms)
      .def_rw("checkpoint_interval_ms", &DatabaseConfig::checkpoint_interval_ms,
              "TIERED, PURE_ON_DISK: period of the background checkpoint (0: only on flush() / CHECKPOINT).")
      .def("__repr__", [](const DatabaseConfig& c) {
        return "PipelineConfig(arena_size=" + std::to_string(c.arena_size) +
               ", drain_batch_size=" + std::to_string(c.drain_batch_size) +
               ", queue_capacity=" + std::to_string(c.queue_capacity) +
               ", max_memory=" + std::to_string(c.max_memory) + ", storage_mode=StorageMode." +
               storage_mode_name(c.storage_mode) + ", data_dir='" + c.data_dir + "', fsync='" +
               persist::fsync_policy_name(c.fsync) + "')";
      });

  nb::class_<DatabaseStats>(m, "Stats", "Counters of a Pipeline (a snapshot).")
      .def_ro("ticks_ingested", &DatabaseStats::ticks_ingested, "Rows accepted (queue and batches).")
      .def_ro("ticks_stored", &DatabaseStats::ticks_stored, "Rows visible to queries.")
      .def_ro("ticks_dropped", &DatabaseStats::ticks_dropped,
              "Ticks rejected because the queue stayed full.")
      .def_ro("queries_executed", &DatabaseStats::queries_executed)
      .def_ro("total_rows_scanned", &DatabaseStats::total_rows_scanned)
      .def_ro("partitions_created", &DatabaseStats::partitions_created)
      .def_ro("last_ingest_latency_ns", &DatabaseStats::last_ingest_latency_ns,
              "Duration of the most recent store step (a batch, or a drained group of ticks).")
      .def_ro("memory_bytes", &DatabaseStats::memory_bytes, "Bytes of column storage held.")
      .def_ro("checkpoints", &DatabaseStats::checkpoints, "Checkpoints completed (TIERED, PURE_ON_DISK).")
      .def_ro("wal_bytes", &DatabaseStats::wal_bytes,
              "Bytes appended to the write-ahead log since the pipeline opened (TIERED, PURE_ON_DISK).")
      .def_ro("last_error", &DatabaseStats::last_error)
      .def("__repr__", &repr_stats);

  nb::class_<Database>(m, "Pipeline", "An in-memory tick database (see zeptodb.Pipeline).")
      .def(
          "__init__",
          [](Database* self, std::optional<DatabaseConfig> config) {
            new (self) Database(config.value_or(DatabaseConfig{}));
          },
          "config"_a = nb::none())
      .def_prop_ro("config", [](const Database& db) { return db.config(); })
      .def("start", &Database::start, "Start the background drain thread.")
      .def("stop", &Database::stop, nb::call_guard<nb::gil_scoped_release>(),
           "Stop the drain thread after storing every accepted tick.")
      .def("drain", &Database::drain, nb::call_guard<nb::gil_scoped_release>(),
           "Store every tick accepted so far; returns when they are visible (and, under "
           "TIERED, durable per the fsync policy).")
      .def(
          "flush",
          [](Database& db) {
            persist::CheckpointResult r;
            {
              nb::gil_scoped_release release;
              r = db.checkpoint();
            }
            return r.rows_written;
          },
          "Store every accepted tick and, under TIERED, write a checkpoint (partition files; the "
          "log is truncated). Applies TTLs. Returns the rows written to files.")
      .def("close", &Database::close, nb::call_guard<nb::gil_scoped_release>(),
           "Stop background work, store accepted ticks, write a last checkpoint (TIERED) and "
           "release the data_dir so another pipeline can open it. Later writes raise ValueError.")
      .def_prop_ro("closed", &Database::closed)
      .def("__enter__", [](nb::handle self) { return self; })
      .def("__exit__",
           [](Database& db, nb::args) {
             nb::gil_scoped_release release;
             db.close();
           })
      .def_prop_ro(
          "recovery",
          [](const Database& db) {
            const RecoveryInfo& r = db.recovery();
            nb::dict d;
            d["checkpoint_rows"] = r.checkpoint_rows;
            d["checkpoint_files"] = r.checkpoint_files;
            d["log_records"] = r.log_records;
            d["log_rows"] = r.log_rows;
            d["torn_bytes"] = r.torn_bytes;
            d["removed_files"] = r.removed_files;
            d["seconds"] = r.seconds;
            d["summary"] = r.summary();
            return d;
          },
          "What opening a TIERED data_dir recovered (empty counts otherwise).")
      .def_prop_ro("running", &Database::running)
      .def(
          "ingest",
          [](Database& db, nb::handle symbol, nb::handle price, nb::handle volume,
             nb::handle timestamp) {
            int64_t sym = *to_symbol(db, symbol, true);
            std::optional<int64_t> ts;
            if (!timestamp.is_none()) ts = to_i64(timestamp, "timestamp");
            return db.ingest(sym, to_i64(price, "price"), to_i64(volume, "volume"), ts);
          },
          "symbol"_a, "price"_a, "volume"_a, "timestamp"_a = nb::none(),
          "Queue one trade. Returns False if the queue stayed full (the tick is not stored).")
      .def(
          "_ingest_columns",
          [](Database& db, const std::string& table, const std::vector<std::string>& names,
             const std::vector<Array1D>& arrays) {
            if (names.size() != arrays.size()) raise(PyExc_ValueError, "names and arrays differ in length");
            std::vector<ColumnInput> inputs;
            size_t n = arrays.empty() ? 0 : arrays[0].shape(0);
            for (size_t i = 0; i < arrays.size(); ++i) {
              if (arrays[i].shape(0) != n)
                raise(PyExc_ValueError, "length mismatch: '" + names[0] + "' has " + std::to_string(n) +
                                            " values but '" + names[i] + "' has " +
                                            std::to_string(arrays[i].shape(0)));
              inputs.push_back({names[i], array_type(arrays[i], names[i]), arrays[i].data()});
            }
            nb::gil_scoped_release release;
            return db.ingest_columns(table, inputs, n);
          },
          "table"_a, "names"_a, "arrays"_a)
      .def(
          "_scale_to_int64",
          [](Database&, Array1D values, double scale, const std::string& what) {
            if (values.dtype() != nb::dtype<double>()) raise(PyExc_TypeError, what + " must be float64");
            if (!std::isfinite(scale) || scale <= 0)
              raise(PyExc_ValueError, "scale for " + what + " must be a positive finite number");
            size_t n = values.shape(0);
            int64_t* out = nullptr;
            nb::object arr = nb::steal(new_int64_array(n, &out));
            if (!arr.is_valid()) throw nb::python_error();
            const double* in = static_cast<const double*>(values.data());
            nb::gil_scoped_release release;
            for (size_t i = 0; i < n; ++i) {
              double x = in[i];
              double r = std::round(x * scale);  // half away from zero
              if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0)) {
                std::string why = std::isnan(x)   ? "is NaN"
                                  : std::isinf(x) ? "is infinite"
                                                  : "overflows int64 after scaling by " + std::to_string(scale);
                throw Error(ErrorCode::kInvalidArgument, what + "[" + std::to_string(i) + "] " + why);
              }
              out[i] = static_cast<int64_t>(r);
            }
            return arr;
          },
          "values"_a, "scale"_a, "what"_a)
      .def(
          "_intern_symbols",
          [](Database& db, nb::handle seq) {
            nb::object fast = nb::steal(PySequence_Fast(seq.ptr(), "symbols must be a sequence"));
            if (!fast.is_valid()) throw nb::python_error();
            Py_ssize_t n = PySequence_Fast_GET_SIZE(fast.ptr());
            PyObject** items = PySequence_Fast_ITEMS(fast.ptr());
            int64_t* out = nullptr;
            nb::object arr = nb::steal(new_int64_array(static_cast<size_t>(n), &out));
            if (!arr.is_valid()) throw nb::python_error();
            PyObject* last = nullptr;
            int64_t last_id = 0;
            for (Py_ssize_t i = 0; i < n; ++i) {
              PyObject* o = items[i];
              if (o != last) {
                if (!PyUnicode_Check(o))
                  raise(PyExc_TypeError, "symbols[" + std::to_string(i) + "] must be a str, got " +
                                             Py_TYPE(o)->tp_name);
                last_id = *to_symbol(db, o, true);
                last = o;
              }
              out[i] = last_id;
            }
            return arr;
          },
          "symbols"_a)
      .def(
          "symbol_id",
          [](Database& db, const std::string& name, bool create) -> std::optional<int64_t> {
            if (create) return db.symbols().intern(name);
            return db.symbols().find(name);
          },
          "name"_a, "create"_a = false,
          "The id of symbol `name` (None if unknown, unless create=True adds it).")
      .def(
          "symbol_name", [](Database& db, int64_t id) { return db.symbols().name(id); }, "id"_a,
          "The name of symbol id `id`, or None if it has none.")
      .def(
          "vwap",
          [](Database& db, nb::handle symbol, nb::handle from_ns, nb::handle to_ns,
             const std::string& table) {
            auto sym = to_symbol(db, symbol, false);
            int64_t from = opt_i64(from_ns, "from_ns", INT64_MIN), to = opt_i64(to_ns, "to_ns", INT64_MAX);
            nb::gil_scoped_release release;
            double v = db.vwap(table, sym.value_or(0), from, to);
            return sym ? v : std::nan("");
          },
          "symbol"_a, "from_ns"_a = nb::none(), "to_ns"_a = nb::none(), "table"_a = "trades",
          "Volume-weighted average price over [from_ns, to_ns]; NaN if there is no volume.")
      .def(
          "count",
          [](Database& db, nb::handle symbol, nb::handle from_ns, nb::handle to_ns,
             const std::string& table) -> size_t {
            auto sym = to_symbol(db, symbol, false);
            size_t c = db.count(table, sym.value_or(0), opt_i64(from_ns, "from_ns", INT64_MIN),
                                opt_i64(to_ns, "to_ns", INT64_MAX));
            return sym ? c : 0;
          },
          "symbol"_a, "from_ns"_a = nb::none(), "to_ns"_a = nb::none(), "table"_a = "trades",
          "Number of rows of `symbol` with a timestamp in [from_ns, to_ns].")
      .def(
          "sum",
          [](Database& db, nb::handle symbol, const std::string& col, nb::handle from_ns,
             nb::handle to_ns, const std::string& table) -> Number {
            auto sym = to_symbol(db, symbol, false);
            int64_t from = opt_i64(from_ns, "from_ns", INT64_MIN), to = opt_i64(to_ns, "to_ns", INT64_MAX);
            nb::gil_scoped_release release;
            Number v = db.sum(table, sym.value_or(0), col, from, to);
            if (!sym) return std::holds_alternative<double>(v) ? Number(0.0) : Number(int64_t{0});
            return v;
          },
          "symbol"_a, "col"_a = "volume", "from_ns"_a = nb::none(), "to_ns"_a = nb::none(),
          "table"_a = "trades", "Sum of column `col` of `symbol` over [from_ns, to_ns].")
      .def(
          "get_column",
          [](Database& db, nb::handle symbol, std::string_view name, std::string_view table) {
            auto sym = to_symbol(db, symbol, false);
            ColumnRef ref = db.column(table, sym.value_or(0), name);
            if (!sym) ref = ColumnRef{nullptr, 0, ref.type};
            PyObject* arr = make_view(std::move(ref));
            if (arr == nullptr) throw nb::python_error();
            return nb::steal(arr);
          },
          "symbol"_a, "name"_a, "table"_a = "trades",
          "A read-only NumPy view of one symbol's column: a snapshot of the rows stored at call "
          "time, valid for as long as the array lives (zero copy).")
      .def("stats", &Database::stats)
      .def(
          "create_table",
          [](Database& db, const std::string& name, nb::handle columns, const std::string& symbol,
             const std::string& timestamp, bool if_not_exists) {
            return db.create_table(name, Schema(parse_columns(columns), symbol, timestamp),
                                   if_not_exists) != nullptr;
          },
          "name"_a, "columns"_a, "symbol"_a = "", "timestamp"_a = "", "if_not_exists"_a = false,
          "Create a table from (name, type) pairs or a dict. Returns False if it existed and "
          "if_not_exists is set.")
      .def(
          "drop_table",
          [](Database& db, const std::string& name, bool if_exists) {
            bool dropped = db.drop_table(name);
            if (!dropped && !if_exists) db.catalog().require(name);
            return dropped;
          },
          "name"_a, "if_exists"_a = false)
      .def("tables", [](Database& db) { return db.catalog().names(); })
      .def(
          "schema",
          [](Database& db, const std::string& table) {
            std::vector<std::pair<std::string, std::string>> out;
            for (const auto& c : db.catalog().require(table)->schema().columns())
              out.emplace_back(c.name, std::string(type_name(c.type)));
            return out;
          },
          "table"_a = "trades", "The (name, type) pairs of a table's columns.")
      .def(
          "_key_columns",
          [](Database& db, const std::string& table) {
            auto t = db.catalog().require(table);
            const Schema& s = t->schema();
            std::optional<std::string> sym, ts;
            if (s.symbol_index() >= 0) sym = s.column(s.symbol_index()).name;
            if (s.timestamp_index() >= 0) ts = s.column(s.timestamp_index()).name;
            return std::make_pair(sym, ts);
          },
          "table"_a, "(symbol column, timestamp column) of a table; None where it has none.")
      .def(
          "row_count", [](Database& db, const std::string& table) { return db.catalog().require(table)->row_count(); },
          "table"_a = "trades")
      .def(
          "expect_rows",
          [](Database& db, int64_t rows, const std::string& table) {
            if (rows < 0) throw_error(ErrorCode::kInvalidArgument, "expect_rows: rows must not be negative");
            db.catalog().require(table)->expect_rows(static_cast<size_t>(rows));
          },
          "rows"_a, "table"_a = "trades",
          "A sizing hint: about `rows` more rows are coming to `table`, over any number of calls. "
          "Partitions then get room for their share at once instead of growing call by call; "
          "a wrong hint costs memory or speed, never rows.");

  register_sql(m);  // sql_bindings.cpp: QueryResult, Pipeline._execute_sql
  register_arrow(m);  // arrow_bindings.cpp: ArrowExport, Pipeline._export_arrow / _ingest_arrow
}
