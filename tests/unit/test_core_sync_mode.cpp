#include <gtest/gtest.h>

#include "lipsyncd/core/sync_mode.hpp"

namespace lipsyncd {
namespace {

TEST(SyncMode, WireNamesRoundTrip) {
  for (SyncMode mode : kAllSyncModes) {
    const auto parsed = parse_sync_mode(to_string(mode));
    ASSERT_TRUE(parsed.has_value()) << to_string(mode);
    EXPECT_EQ(*parsed, mode);
  }
  EXPECT_EQ(to_string(SyncMode::cut_off), "cut_off");
  EXPECT_FALSE(parse_sync_mode("cutoff").has_value());
  EXPECT_FALSE(parse_sync_mode("").has_value());
}

}  // namespace
}  // namespace lipsyncd
