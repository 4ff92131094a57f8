// Recycled value memory (exec/vector.h: value_memory): a large block freed
// by its last owner serves the next request of about its size.
#include <gtest/gtest.h>

#include <cstring>

#include "zeptodb/exec/vector.h"

namespace zepto::exec {
namespace {

TEST(ValueMemory, FreedLargeBlockServesTheNextRequestOfItsSize) {
  trim_value_memory();
  constexpr size_t kBytes = (size_t{3} << 20) + 40;
  std::shared_ptr<void> a = value_memory(kBytes);
  void* first = a.get();
  std::memset(first, 7, kBytes);
  std::shared_ptr<void> held = value_memory(kBytes);  // while `a` lives: another block
  EXPECT_NE(held.get(), first);
  a.reset();
  std::shared_ptr<void> b = value_memory(kBytes - 1000);
  EXPECT_EQ(b.get(), first);
  b.reset();
  // Less than half of the block: not given that block.
  std::shared_ptr<void> small = value_memory(kBytes / 3);
  EXPECT_NE(small.get(), first);
  small.reset();
  held.reset();
  EXPECT_GE(trim_value_memory(), 2 * kBytes - 1000);  // the blocks that waited are freed
  EXPECT_EQ(trim_value_memory(), 0u);
}

TEST(ValueMemory, VecsOfRecycledMemoryStartZeroed) {
  trim_value_memory();
  constexpr size_t kRows = 100'000;
  Vec v;
  int64_t* x = alloc_values<int64_t>(v, LType::kBigint, kRows);
  for (size_t i = 0; i < kRows; ++i) x[i] = static_cast<int64_t>(i) + 1;
  const void* mem = v.data;
  v = Vec{};
  Vec w;
  int64_t* y = alloc_values<int64_t>(w, LType::kBigint, kRows);
  EXPECT_EQ(static_cast<const void*>(y), mem);  // the same pages, written again
  for (size_t i = 0; i < kRows; ++i) ASSERT_EQ(y[i], 0) << i;
  trim_value_memory();
}

}  // namespace
}  // namespace zepto::exec
