#include "zeptodb/formats/flatbuffer.h"

#include <algorithm>

#include "zeptodb/common/error.h"

namespace zepto::formats::fb {

namespace {

void pad_to(std::string& buf, size_t align) {
  while (buf.size() % align) buf += '\0';
}

void put_u32(std::string& buf, size_t at, uint32_t v) { std::memcpy(&buf[at], &v, 4); }

template <typename T>
void append(std::string& buf, T v) {
  buf.append(reinterpret_cast<const char*>(&v), sizeof v);
}

[[noreturn]] void malformed() { throw_error(ErrorCode::kInvalidArgument, "Arrow IPC: malformed metadata"); }

}  // namespace

Table& Table::table(int id, Table t) {
  Field f{id, Field::kTable};
  f.children.push_back(std::move(t));
  fields_.push_back(std::move(f));
  return *this;
}

Table& Table::string(int id, std::string_view s) {
  Field f{id, Field::kString};
  f.bytes.assign(s);
  fields_.push_back(std::move(f));
  return *this;
}

Table& Table::tables(int id, std::vector<Table> ts) {
  Field f{id, Field::kTables};
  f.children = std::move(ts);
  fields_.push_back(std::move(f));
  return *this;
}

Table& Table::structs(int id, std::string bytes, size_t count) {
  Field f{id, Field::kStructs};
  f.bytes = std::move(bytes);
  f.count = count;
  fields_.push_back(std::move(f));
  return *this;
}

std::string Table::finish() const {
  std::string buf(4, '\0');
  size_t root = write(buf);
  put_u32(buf, 0, static_cast<uint32_t>(root));
  pad_to(buf, 8);
  return buf;
}

size_t Table::write(std::string& buf) const {
  // Inline layout: soffset, then fields by decreasing alignment.
  std::vector<const Field*> order;
  for (const auto& f : fields_) order.push_back(&f);
  std::stable_sort(order.begin(), order.end(), [](const Field* a, const Field* b) {
    size_t aa = a->kind == Field::kScalar ? a->align : 4, ba = b->kind == Field::kScalar ? b->align : 4;
    return aa > ba;
  });
  int nslots = 0;
  for (const auto& f : fields_) nslots = std::max(nslots, f.id + 1);
  std::vector<uint16_t> slot(static_cast<size_t>(nslots), 0);
  std::vector<size_t> at(order.size());
  size_t size = 4;
  for (size_t i = 0; i < order.size(); ++i) {
    size_t align = order[i]->kind == Field::kScalar ? order[i]->align : 4;
    size = (size + align - 1) / align * align;
    at[i] = size;
    size += order[i]->kind == Field::kScalar ? order[i]->bytes.size() : 4;
  }
  // vtable
  pad_to(buf, 2);
  size_t vt = buf.size();
  buf.resize(vt + 4 + 2 * static_cast<size_t>(nslots));
  // table (8-aligned so that 8-byte fields at 8-aligned offsets are aligned)
  pad_to(buf, 8);
  size_t table = buf.size();
  buf.resize(table + size, '\0');
  int32_t soff = static_cast<int32_t>(table - vt);
  std::memcpy(&buf[table], &soff, 4);
  for (size_t i = 0; i < order.size(); ++i) {
    slot[static_cast<size_t>(order[i]->id)] = static_cast<uint16_t>(at[i]);
    if (order[i]->kind == Field::kScalar) std::memcpy(&buf[table + at[i]], order[i]->bytes.data(), order[i]->bytes.size());
  }
  uint16_t head[2] = {static_cast<uint16_t>(4 + 2 * nslots), static_cast<uint16_t>(size)};
  std::memcpy(&buf[vt], head, 4);
  if (nslots) std::memcpy(&buf[vt + 4], slot.data(), 2 * slot.size());
  // children, after the table
  for (size_t i = 0; i < order.size(); ++i) {
    const Field& f = *order[i];
    size_t field_pos = table + at[i];
    size_t child = 0;
    switch (f.kind) {
      case Field::kScalar: continue;
      case Field::kTable: child = f.children[0].write(buf); break;
      case Field::kString:
        pad_to(buf, 4);
        child = buf.size();
        append<uint32_t>(buf, static_cast<uint32_t>(f.bytes.size()));
        buf += f.bytes;
        buf += '\0';
        break;
      case Field::kTables: {
        pad_to(buf, 4);
        child = buf.size();
        append<uint32_t>(buf, static_cast<uint32_t>(f.children.size()));
        size_t slots = buf.size();
        buf.resize(slots + 4 * f.children.size());
        for (size_t k = 0; k < f.children.size(); ++k) {
          size_t t = f.children[k].write(buf);
          put_u32(buf, slots + 4 * k, static_cast<uint32_t>(t - (slots + 4 * k)));
        }
        break;
      }
      case Field::kStructs:
        while (buf.size() % 8 != 4) buf += '\0';
        child = buf.size();
        append<uint32_t>(buf, static_cast<uint32_t>(f.count));
        buf += f.bytes;
        break;
    }
    put_u32(buf, field_pos, static_cast<uint32_t>(child - field_pos));
  }
  return table;
}

View::View(const uint8_t* base, size_t size, size_t pos) : base_(base), size_(size), pos_(pos) {
  check(pos, 4);
  int32_t soff;
  std::memcpy(&soff, base + pos, 4);
  int64_t vt = static_cast<int64_t>(pos) - soff;
  if (vt < 0 || static_cast<size_t>(vt) + 4 > size) malformed();
}

View View::root(const uint8_t* base, size_t size) {
  if (size < 8) malformed();
  uint32_t off;
  std::memcpy(&off, base, 4);
  return View(base, size, off);
}

void View::check(size_t p, size_t n) const {
  if (p > size_ || n > size_ - p) malformed();
}

size_t View::field(int id) const {
  int32_t soff;
  std::memcpy(&soff, base_ + pos_, 4);
  size_t vt = static_cast<size_t>(static_cast<int64_t>(pos_) - soff);
  uint16_t vsize, tsize;
  std::memcpy(&vsize, base_ + vt, 2);
  std::memcpy(&tsize, base_ + vt + 2, 2);
  size_t entry = 4 + 2 * static_cast<size_t>(id);
  if (entry + 2 > vsize) return 0;
  check(vt, vsize);
  uint16_t off;
  std::memcpy(&off, base_ + vt + entry, 2);
  if (off == 0) return 0;
  if (off >= tsize) malformed();
  check(pos_, tsize);
  return pos_ + off;
}

size_t View::deref(size_t p) const {
  check(p, 4);
  uint32_t off;
  std::memcpy(&off, base_ + p, 4);
  check(p + off, 4);
  return p + off;
}

View View::table(int id) const {
  size_t p = field(id);
  if (p == 0) return View();
  return View(base_, size_, deref(p));
}

std::string_view View::string(int id) const {
  size_t p = field(id);
  if (p == 0) return {};
  size_t s = deref(p);
  uint32_t n;
  std::memcpy(&n, base_ + s, 4);
  check(s + 4, n);
  return {reinterpret_cast<const char*>(base_ + s + 4), n};
}

size_t View::vector_size(int id) const {
  size_t p = field(id);
  if (p == 0) return 0;
  size_t v = deref(p);
  uint32_t n;
  std::memcpy(&n, base_ + v, 4);
  check(v + 4, static_cast<size_t>(n) * 4);
  return n;
}

View View::table_at(int id, size_t i) const {
  size_t v = deref(field(id));
  return View(base_, size_, deref(v + 4 + 4 * i));
}

const uint8_t* View::structs(int id, size_t size, size_t* n) const {
  size_t p = field(id);
  *n = 0;
  if (p == 0) return nullptr;
  size_t v = deref(p);
  uint32_t count;
  std::memcpy(&count, base_ + v, 4);
  check(v + 4, static_cast<size_t>(count) * size);
  *n = count;
  return base_ + v + 4;
}

}  // namespace zepto::formats::fb
