#define PY_ARRAY_UNIQUE_SYMBOL zeptodb_ARRAY_API
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include "numpy_bridge.h"

#include <numpy/arrayobject.h>

#include <memory>
#include <new>
#include <utility>

namespace zepto::py {

namespace {

bool ensure_numpy() {
  static bool ready = false;
  if (!ready) {
    if (_import_array() < 0) return false;
    ready = true;
  }
  return true;
}

PyArray_Descr* datetime_ns_descr() {
  static PyArray_Descr* descr = nullptr;
  if (descr == nullptr) {
    PyObject* s = PyUnicode_FromString("M8[ns]");
    if (s == nullptr) return nullptr;
    PyArray_DescrConverter(s, &descr);
    Py_DECREF(s);
  }
  return descr;
}

// The base object of a view: holds the block, so the memory outlives the
// array. One small object with the BlockPtr inside (no separate allocation
// as a capsule would need); get_column's cost is mostly object creation.
struct BlockOwner {
  PyObject_HEAD
  BlockPtr block;
};

void block_owner_dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  reinterpret_cast<BlockOwner*>(self)->block.~BlockPtr();
  type->tp_free(self);
  Py_DECREF(type);  // instances of heap types hold a reference to their type
}

PyTypeObject* block_owner_type() {
  static PyTypeObject* type = nullptr;
  if (type == nullptr) {
    static PyType_Slot slots[] = {
        {Py_tp_dealloc, reinterpret_cast<void*>(block_owner_dealloc)},
        {Py_tp_doc, const_cast<char*>("Keeps the engine memory of zeptodb column views alive.")},
        {0, nullptr}};
    static PyType_Spec spec = {"zeptodb._core.BlockOwner", static_cast<int>(sizeof(BlockOwner)), 0,
                               Py_TPFLAGS_DEFAULT, slots};
    type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&spec));
  }
  return type;
}

PyObject* new_block_owner(BlockPtr block) {
  PyTypeObject* type = block_owner_type();
  if (type == nullptr) return nullptr;
  BlockOwner* owner = PyObject_New(BlockOwner, type);
  if (owner == nullptr) return nullptr;
  new (&owner->block) BlockPtr(std::move(block));
  return reinterpret_cast<PyObject*>(owner);
}

PyArray_Descr* descr_for(ColumnType t) {
  switch (t) {
    case ColumnType::INT32: return PyArray_DescrFromType(NPY_INT32);
    case ColumnType::DOUBLE: return PyArray_DescrFromType(NPY_FLOAT64);
    case ColumnType::BOOL: return PyArray_DescrFromType(NPY_BOOL);
    case ColumnType::TIMESTAMP: {
      PyArray_Descr* d = datetime_ns_descr();
      Py_XINCREF(d);
      return d;
    }
    default: return PyArray_DescrFromType(NPY_INT64);
  }
}

}  // namespace

PyObject* make_view(ColumnRef ref) {
  if (!ensure_numpy()) return nullptr;
  PyArray_Descr* descr = descr_for(ref.type);
  if (descr == nullptr) return nullptr;
  npy_intp dims[1] = {static_cast<npy_intp>(ref.rows)};
  if (!ref.block) {  // unknown symbol: an empty, read-only array of the column's dtype
    PyObject* empty = PyArray_NewFromDescr(&PyArray_Type, descr, 1, dims, nullptr, nullptr, 0, nullptr);
    if (empty != nullptr) PyArray_CLEARFLAGS(reinterpret_cast<PyArrayObject*>(empty), NPY_ARRAY_WRITEABLE);
    return empty;
  }
  PyObject* arr = PyArray_NewFromDescr(&PyArray_Type, descr, 1, dims, nullptr,
                                       const_cast<std::byte*>(ref.block->data()),
                                       NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, nullptr);
  if (arr == nullptr) return nullptr;
  PyObject* owner = new_block_owner(std::move(ref.block));
  if (owner == nullptr) {
    Py_DECREF(arr);
    return nullptr;
  }
  if (PyArray_SetBaseObject(reinterpret_cast<PyArrayObject*>(arr), owner) < 0) {
    Py_DECREF(arr);
    return nullptr;
  }
  return arr;
}

PyObject* new_int64_array(size_t n, int64_t** data) {
  if (!ensure_numpy()) return nullptr;
  npy_intp dims[1] = {static_cast<npy_intp>(n)};
  PyObject* arr = PyArray_SimpleNew(1, dims, NPY_INT64);
  if (arr != nullptr) *data = static_cast<int64_t*>(PyArray_DATA(reinterpret_cast<PyArrayObject*>(arr)));
  return arr;
}

}  // namespace zepto::py
