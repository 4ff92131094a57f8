// Recycled memory (common/recycled_memory.h): a large block freed
// by its last owner serves the next request of about its size.
#include <gtest/gtest.h>

#include <cstring>

#include "zeptodb/exec/vector.h"

namespace zepto::exec {
namespace {

TEST(RecycledMemory, FreedLargeBlockServesTheNextRequestOfItsSize) {
  trim_recycled_memory();
  constexpr size_t kBytes = (size_t{3} << 20) + 40;
  std::shared_ptr<void> a = recycled_memory(kBytes);
  void* first = a.get();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(recycled_memory(100).get()) % 64, 0u);
  std::memset(first, 7, kBytes);
  std::shared_ptr<void> held = recycled_memory(kBytes);  // while `a` lives: another block
  EXPECT_NE(held.get(), first);
  a.reset();
  std::shared_ptr<void> b = recycled_memory(kBytes - 1000);
  EXPECT_EQ(b.get(), first);
  b.reset();
  // Less than half of the block: not given that block.
  std::shared_ptr<void> small = recycled_memory(kBytes / 3);
  EXPECT_NE(small.get(), first);
  small.reset();
  held.reset();
  EXPECT_GE(trim_recycled_memory(), 2 * kBytes - 1000);  // the blocks that waited are freed
  EXPECT_EQ(trim_recycled_memory(), 0u);
}

TEST(RecycledMemory, VecsOfRecycledMemoryStartZeroed) {
  trim_recycled_memory();
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
  trim_recycled_memory();
}

}  // namespace
}  // namespace zepto::exec
