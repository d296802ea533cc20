// AddressIndex numbers distinct (process, address) keys densely in first-insertion order,
// and finds every key again after the table has grown.
#include "symbolize/address_index.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace causeway::symbolize {
namespace {

TEST(SymbolizeAddressIndex, NumbersKeysInFirstInsertionOrder) {
  AddressIndex index;
  auto first = index.find_or_add(1, 0x1000);
  EXPECT_EQ(first.number, 0u);
  EXPECT_TRUE(first.added);
  auto other_process = index.find_or_add(2, 0x1000);  // same address, another process
  EXPECT_EQ(other_process.number, 1u);
  EXPECT_TRUE(other_process.added);
  auto again = index.find_or_add(1, 0x1000);
  EXPECT_EQ(again.number, 0u);
  EXPECT_FALSE(again.added);
  EXPECT_EQ(index.size(), 2u);
}

TEST(SymbolizeAddressIndex, FindsEveryKeyAfterGrowing) {
  AddressIndex index;
  // Adjacent addresses (as code addresses are) in two processes, well past the first table.
  constexpr uint32_t kKeys = 20'000;
  for (uint32_t i = 0; i < kKeys; ++i) {
    auto f = index.find_or_add(i % 2, 0x400000 + i / 2);
    ASSERT_TRUE(f.added) << i;
    ASSERT_EQ(f.number, i);
  }
  EXPECT_EQ(index.size(), kKeys);
  for (uint32_t i = 0; i < kKeys; ++i) {
    auto f = index.find_or_add(i % 2, 0x400000 + i / 2);
    ASSERT_FALSE(f.added) << i;
    ASSERT_EQ(f.number, i);
  }
  EXPECT_FALSE(index.find_or_add(0, 0).number < kKeys);
  EXPECT_EQ(index.size(), kKeys + 1);
}

}  // namespace
}  // namespace causeway::symbolize
