// Just enough FlatBuffers (https://flatbuffers.dev/internals/) to write and
// read the Arrow IPC metadata: tables of scalars, strings, nested tables,
// vectors of tables and vectors of structs. Buffers are laid out front to
// back (a child always after its parent, which the format allows), and
// reading checks every offset against the buffer.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace zepto::formats::fb {

// A table to be written: fields by id.
class Table {
 public:
  template <typename T>
  Table& scalar(int id, T v) {
    Field f{id, Field::kScalar};
    f.bytes.assign(reinterpret_cast<const char*>(&v), sizeof v);
    f.align = sizeof v;
    fields_.push_back(std::move(f));
    return *this;
  }
  Table& table(int id, Table t);
  Table& string(int id, std::string_view s);
  Table& tables(int id, std::vector<Table> ts);
  // `count` structs of `size` bytes each (8-byte aligned), given as bytes.
  Table& structs(int id, std::string bytes, size_t count);

  // Serializes the table as the root of a buffer.
  std::string finish() const;

 private:
  struct Field {
    enum Kind { kScalar, kTable, kString, kTables, kStructs };
    Field(int i, Kind k) : id(i), kind(k) {}
    int id;
    Kind kind;
    std::string bytes;  // scalar bytes, string, or struct bytes
    size_t align = 4;
    size_t count = 0;
    std::vector<Table> children;
  };
  size_t write(std::string& buf) const;
  std::vector<Field> fields_;
};

// A table being read from a buffer [base, base + size).
class View {
 public:
  View() = default;
  View(const uint8_t* base, size_t size, size_t pos);
  static View root(const uint8_t* base, size_t size);

  bool valid() const { return base_ != nullptr; }
  bool has(int id) const { return field(id) != 0; }
  template <typename T>
  T scalar(int id, T fallback) const {
    size_t p = field(id);
    if (p == 0) return fallback;
    check(p, sizeof(T));
    T v;
    std::memcpy(&v, base_ + p, sizeof v);
    return v;
  }
  View table(int id) const;  // !valid() if absent
  std::string_view string(int id) const;
  // Vector of tables: count and element i.
  size_t vector_size(int id) const;
  View table_at(int id, size_t i) const;
  // Vector of structs of `size` bytes: a pointer to element 0 (checked), count in *n.
  const uint8_t* structs(int id, size_t size, size_t* n) const;

 private:
  size_t field(int id) const;  // absolute position of the field, 0 if absent
  size_t deref(size_t p) const;  // follows the uoffset stored at p
  void check(size_t p, size_t n) const;

  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  size_t pos_ = 0;
};

}  // namespace zepto::formats::fb
