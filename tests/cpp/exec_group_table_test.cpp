// GroupTable (exec/aggregate.h): group ids by key, for one integer key (its
// own open-addressing index) and for several keys.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "zeptodb/exec/aggregate.h"

namespace zepto::exec {
namespace {

// A BIGINT column of `values` where `nulls` marks NULL rows.
Vec column(const std::vector<int64_t>& values, const std::vector<bool>& nulls) {
  VecBuilder b(LType::kBigint);
  for (size_t i = 0; i < values.size(); ++i) {
    if (nulls[i]) b.append_null();
    else b.append_int(values[i]);
  }
  return b.finish();
}

TEST(GroupTable, OneIntegerKeyMatchesAMapOfTheValues) {
  // Enough distinct keys for the index to grow several times; negative and
  // extreme values; NULL is one group of its own.
  std::mt19937_64 rng(3);
  std::vector<int64_t> values;
  std::vector<bool> nulls;
  for (size_t i = 0; i < 20000; ++i) {
    int64_t v = static_cast<int64_t>(rng() % 3000) - 1500;
    if (i % 997 == 0) v = i % 2 ? INT64_MIN : INT64_MAX;
    values.push_back(v);
    nulls.push_back(i % 101 == 7);
  }
  std::vector<Vec> keys{column(values, nulls)};
  GroupTable t({LType::kBigint});
  std::map<int64_t, uint32_t> seen;
  uint32_t null_id = UINT32_MAX;
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t g = t.find_or_add(keys, i, static_cast<int64_t>(i));
    if (nulls[i]) {
      if (null_id == UINT32_MAX) {
        EXPECT_EQ(g, t.size() - 1);
        null_id = g;
      }
      ASSERT_EQ(g, null_id) << "row " << i;
      continue;
    }
    auto [it, added] = seen.try_emplace(values[i], g);
    if (added) {
      ASSERT_EQ(g, t.size() - 1) << "row " << i;  // new groups get the next id
    }
    ASSERT_EQ(g, it->second) << "row " << i;
  }
  EXPECT_EQ(t.size(), seen.size() + 1);
  Vec k = t.keys()[0];
  for (const auto& [v, g] : seen) {
    ASSERT_TRUE(k.is_valid(g));
    EXPECT_EQ(k.i64(g), v);
  }
  EXPECT_FALSE(k.is_valid(null_id));
  EXPECT_EQ(t.first_seq()[null_id], 7);
}

TEST(GroupTable, SeveralKeysAndAbsorb) {
  std::vector<Vec> keys{column({1, 1, 2, 1}, {false, false, false, false}),
                        column({10, 20, 10, 10}, {false, false, false, false})};
  GroupTable a({LType::kBigint, LType::kBigint});
  EXPECT_EQ(a.find_or_add(keys, 0, 0), 0u);
  EXPECT_EQ(a.find_or_add(keys, 1, 1), 1u);
  EXPECT_EQ(a.find_or_add(keys, 2, 2), 2u);
  EXPECT_EQ(a.find_or_add(keys, 3, 3), 0u);
  GroupTable b({LType::kBigint});
  std::vector<Vec> one{column({5, 6, 5}, {false, false, false})};
  b.find_or_add(one, 0, 9);
  b.find_or_add(one, 1, 4);
  GroupTable c({LType::kBigint});
  c.find_or_add(one, 1, 8);
  std::vector<uint32_t> map = c.absorb(b);  // 6 exists in c, 5 is new
  EXPECT_EQ(map, (std::vector<uint32_t>{1, 0}));
  EXPECT_EQ(c.first_seq(), (std::vector<int64_t>{4, 9}));
}

}  // namespace
}  // namespace zepto::exec
